// Both binaries as a user first meets them: --help describes every flag, and a wrong command
// line is refused with a message that names what is wrong, before anything starts.
#include <gtest/gtest.h>

#include <string>

#include "support/process.h"

namespace governor::testing {
namespace {

const std::string kOperator = GOVERNOR_OPERATOR_BINARY;
const std::string kAdapter = GOVERNOR_ADAPTER_BINARY;

void expectHelpNames(const std::string& binary, const std::vector<std::string>& flags) {
  auto help = run(binary + " --help");
  EXPECT_EQ(help.status, 0) << help.output;
  for (const auto& flag : flags) EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " in\n" << help.output;
}

void expectRefused(const std::string& command, const std::string& message) {
  auto r = run(command);
  EXPECT_NE(r.status, 0) << command << " was accepted:\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << command << ": expected \"" << message << "\" in\n" << r.output;
}

TEST(CommandLine, HelpDescribesEveryFlag) {
  expectHelpNames(kOperator, {"--kubeconfig", "--namespace", "--metrics-bind-address", "--health-probe-bind-address",
                              "--leader-elect", "--leader-election-namespace", "--workers", "--resync-period",
                              "--log-level", "--log-format", "render"});
  expectHelpNames(kOperator + " render", {"-f", "--no-prometheus-rule-crd"});
  expectHelpNames(kAdapter, {"--kubeconfig", "--namespace", "--bind-address", "--secure-port", "--tls-cert-file",
                             "--tls-private-key-file", "--prometheus-url", "--poll-interval", "--redis-timeout",
                             "--redis-ca-file", "--redis-client-cert-file", "--redis-client-key-file",
                             "--authorization-always-allow-paths", "--log-level", "--log-format"});
}

TEST(CommandLine, AWrongCommandLineIsRefusedNamingTheProblem) {
  expectRefused(kOperator + " --bogus", "--bogus");
  expectRefused(kOperator + " --workers 0", "--workers");
  expectRefused(kOperator + " render -f /nonexistent.yaml", "cannot read /nonexistent.yaml");
  expectRefused(kOperator + " --log-level loud --kubeconfig /dev/null", "--log-level \"loud\"");
  expectRefused(kAdapter + " --bogus", "--bogus");
  expectRefused(kAdapter + " --redis-client-cert-file c.pem", "--redis-client-cert-file requires --redis-client-key-file");
  expectRefused(kAdapter + " --kubeconfig /dev/null", "kubeconfig /dev/null: Invalid: current-context");
  expectRefused(kAdapter + " --poll-interval soon", "--poll-interval");
}

}  // namespace
}  // namespace governor::testing
