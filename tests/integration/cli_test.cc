// Both binaries as a user first meets them: --help describes every flag, a wrong command
// line is refused with a message that names what is wrong, before anything starts, and
// --version and governor_build_info say which build runs. Then the offline commands on
// ServiceLevel files: render (--only), validate, and what they refuse.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "api/version.h"
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
  EXPECT_NE(r.output.find(message), std::string::npos) << command << ": expected \"" << message << "\" in\n"
                                                       << r.output;
}

TEST(CommandLine, HelpDescribesEveryFlag) {
  expectHelpNames(kOperator, {"--kubeconfig",
                              "--namespace",
                              "--metrics-bind-address",
                              "--health-probe-bind-address",
                              "--leader-elect",
                              "--leader-election-namespace",
                              "--workers",
                              "--resync-period",
                              "--status-refresh-period",
                              "--leader-elect-lease-duration",
                              "--leader-elect-renew-deadline",
                              "--leader-elect-retry-period",
                              "--cache-sync-timeout",
                              "--kube-api-qps",
                              "--kube-api-burst",
                              "--rules-namespace-matcher",
                              "--backlog-api",
                              "--prometheus-url",
                              "--shard",
                              "--log-level",
                              "--log-format",
                              "--version",
                              "render",
                              "validate"});
  expectHelpNames(kOperator + " render", {"-f", "--no-prometheus-rule-crd", "--rules-namespace-matcher",
                                          "--backlog-api", "--only", "hpa, quota, cache", "rules", "dashboard"});
  expectHelpNames(kOperator + " validate", {"-f", "--filename"});
  expectHelpNames(kAdapter, {"--kubeconfig",
                             "--namespace",
                             "--bind-address",
                             "--secure-port",
                             "--tls-cert-file",
                             "--tls-private-key-file",
                             "--prometheus-url",
                             "--poll-interval",
                             "--redis-timeout",
                             "--redis-ca-file",
                             "--redis-client-cert-file",
                             "--redis-client-key-file",
                             "--redis-allowed-cidrs",
                             "--redis-allowed-addresses",
                             "--poll-concurrency",
                             "--prometheus-namespace-scope",
                             "--latency-window",
                             "--queue-rate-window",
                             "--authorization-always-allow-paths",
                             "--authorization-max-reviews-in-flight",
                             "--kube-api-qps",
                             "--kube-api-burst",
                             "--requestheader-client-ca-file",
                             "--requestheader-allowed-names",
                             "--shutdown-delay-duration",
                             "--log-level",
                             "--log-format",
                             "--version"});
}

TEST(CommandLine, AWrongCommandLineIsRefusedNamingTheProblem) {
  expectRefused(kOperator + " --bogus", "--bogus");
  expectRefused(kOperator + " --workers 0", "--workers");
  expectRefused(kOperator + " --shard 2/2", "--shard: \"2/2\" is not I/N with 0 <= I < N <= 64");
  expectRefused(kOperator + " --leader-elect-renew-deadline 20",
                "--leader-elect-retry-period must be below --leader-elect-renew-deadline, and that below "
                "--leader-elect-lease-duration");
  expectRefused(kAdapter + " --kube-api-burst 0", "--kube-api-burst");
  expectRefused(kOperator + " render -f /nonexistent.yaml", "cannot read /nonexistent.yaml");
  expectRefused(kOperator + " --log-level loud --kubeconfig /dev/null", "--log-level \"loud\"");
  expectRefused(kAdapter + " --bogus", "--bogus");
  expectRefused(kAdapter + " --redis-client-cert-file c.pem",
                "--redis-client-cert-file requires --redis-client-key-file");
  expectRefused(kAdapter + " --kubeconfig /dev/null", "kubeconfig /dev/null: Invalid: current-context");
  expectRefused(kAdapter + " --poll-interval soon", "--poll-interval");
  expectRefused(kAdapter + " --shutdown-delay-duration later", "--shutdown-delay-duration");
  expectRefused(kAdapter + " --poll-concurrency 0", "--poll-concurrency");
  expectRefused(kAdapter + " --prometheus-namespace-scope maybe", "--prometheus-namespace-scope");
  expectRefused(kAdapter + " --redis-allowed-cidrs 10.0.0.0/33",
                "--redis-allowed-cidrs or --redis-allowed-addresses: \"10.0.0.0/33\" is not a CIDR");
  expectRefused(kOperator + " render -f x.yaml --only rulez", "--only: rulez not in {hpa,quota,cache,rules,dashboard}");
  expectRefused(kOperator + " validate", "--filename is required");
}

TEST(CommandLine, VersionSaysWhichBuild) {
  const std::string version = std::string(" ") + api::version() + " (revision " + api::revision() + ")\n";
  for (const auto& [binary, name] :
       {std::pair{kOperator, "governor-operator"}, std::pair{kAdapter, "governor-metrics-adapter"}}) {
    auto r = run(binary + " --version");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, name + version);
  }
}

// What /metrics answers at `url` (curl -k: the adapter's certificate is self-signed) once it
// answers, within 20 s.
std::string scrape(const std::string& url) {
  for (int i = 0; i < 200; ++i) {
    auto r = run("curl -skf " + url);
    if (r.status == 0) return r.output;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

TEST(CommandLine, BothBinariesExportBuildInfo) {
  TempDir dir("cli-build-info");
  // An API server that is not there: both serve /metrics while they wait for it.
  auto kubeconfig = dir.write("kubeconfig", R"(apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: x}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
)");
  ASSERT_EQ(run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=front-proxy-ca -keyout " +
                dir.file("ca.key") + " -out " + dir.file("ca.crt"))
                .status,
            0);
  const std::string want =
      std::string("governor_build_info{revision=\"") + api::revision() + "\",version=\"" + api::version() + "\"} 1";

  int operatorPort = freePort();
  BackgroundProcess op({kOperator, "--kubeconfig", kubeconfig.string(), "--metrics-bind-address",
                        "127.0.0.1:" + std::to_string(operatorPort), "--health-probe-bind-address", "0"},
                       dir.file("operator.log"));
  EXPECT_THAT(scrape("http://127.0.0.1:" + std::to_string(operatorPort) + "/metrics"), ::testing::HasSubstr(want))
      << op.log();

  int adapterPort = freePort();
  BackgroundProcess adapter(
      {kAdapter, "--kubeconfig", kubeconfig.string(), "--bind-address", "127.0.0.1", "--secure-port",
       std::to_string(adapterPort), "--requestheader-client-ca-file", dir.file("ca.crt")},
      dir.file("adapter.log"));
  EXPECT_THAT(scrape("https://127.0.0.1:" + std::to_string(adapterPort) + "/metrics"), ::testing::HasSubstr(want))
      << adapter.log();
}

// ---- ServiceLevel files ------------------------------------------------------------------

const std::string kSamples = GOVERNOR_SOURCE_DIR "/manifests/samples/";

// A ServiceLevel file of checkout in shop, `spec` indented under spec:.
std::string serviceLevel(const std::string& spec, const std::string& name = "checkout") {
  return "apiVersion: governor.io/v1alpha1\nkind: ServiceLevel\nmetadata: {name: " + name +
         ", namespace: shop}\nspec:\n  workload: {name: checkout}\n" + spec;
}

const std::string kObjectives = R"(  objectives:
    availability:
      target: "99.9"
      errorQuery: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
      totalQuery: sum(rate(http_requests_total[{{.window}}]))
)";

TEST(ServiceLevelFiles, RenderRefusesWhatTheApiServerOrPrometheusWould) {
  TempDir dir("cli-render");
  struct Case {
    std::string spec;
    std::string problem;
  };
  for (const auto& c : std::vector<Case>{
           {"  autoscalling: {maxReplicas: 3}\n",
            "spec.autoscalling: unknown field \"autoscalling\", did you mean \"autoscaling\"?"},
           {"  autoscaling:\n    maxReplicas: 3\n    queue: {redis: {address: \"r:6379\", key: jobs}, "
            "targetPerReplica: 5}\n"
            "    behavior: {scaleDown: {stabilisationWindowSeconds: 60}}\n",
            "spec.autoscaling.behavior.scaleDown.stabilisationWindowSeconds: unknown field"},
           {"  cache: {resources: {limits: {memory: 1Gi}, limts: {cpu: 1}}}\n",
            "spec.cache.resources.limts: unknown field"},
           {kObjectives + "  cache: {evictionPolicy: lru}\n",
            "spec.cache.evictionPolicy: Unsupported value: \"lru\": supported values: \"allkeys-lru\""},
           {"  objectives:\n    availability:\n      target: \"99.9\"\n"
            "      errorQuery: sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}])\n"
            "      totalQuery: sum(rate(http_requests_total[{{.window}}]))\n",
            "spec.objectives.availability.errorQuery: invalid PromQL: 1:56: unclosed left parenthesis"},
           {"  objectives:\n    availability:\n      target: \"99.9\"\n"
            "      errorQuery: sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))\n"
            "      totalQuery: sum(rate(http_requests_total[5m]))\n",
            "spec.objectives.availability.totalQuery: totalQuery must use {{.window}} as its range"},
           {"  objectives:\n    latency: {threshold: 200ms, target: \"95\", histogram: 'h_bucket{job=\"a}'}\n",
            "spec.objectives.latency.histogram: must be a histogram's _bucket series with an optional selector, like "
            "http_request_duration_seconds_bucket{job=\"x\"}: 1:14: unterminated quoted string"},
           // Issue 16 part 4: PromQL that would close the adapter's rate( and read kube-system.
           {"  objectives:\n    latency: {threshold: 200ms, target: \"95\", histogram: 'x_bucket{}[1m]))) or vector(0) "
            "+ "
            "scalar(count(up{namespace=\"kube-system\"})) or sum(sum(rate(x_bucket{}'}\n",
            "spec.objectives.latency.histogram: must be a histogram's _bucket series with an optional selector, like "
            "http_request_duration_seconds_bucket{job=\"x\"}: 1:11: unexpected \"[\" after the selector"},
       }) {
    auto file = dir.write("servicelevel.yaml", serviceLevel(c.spec));
    auto r = run(kOperator + " render -f " + file.string());
    EXPECT_NE(r.status, 0) << c.spec << r.output;
    EXPECT_THAT(r.output, ::testing::HasSubstr("governor-operator: " + file.string() +
                                               ": ServiceLevel shop/checkout is invalid:\n  "))
        << r.output;
    EXPECT_THAT(r.output, ::testing::HasSubstr(c.problem)) << r.output;
    // Nothing of it on standard output, so that `render > out.yaml` leaves no half file behind.
    EXPECT_EQ(run("(" + kOperator + " render -f " + file.string() + " 2>/dev/null)").output, "");
  }
}

TEST(ServiceLevelFiles, ValidateNamesFileServiceLevelAndField) {
  TempDir dir("cli-validate");
  auto good = dir.write("good.yaml", serviceLevel(kObjectives));
  auto bad = dir.write("bad.yaml", serviceLevel(kObjectives, "fine") + "---\n" +
                                       serviceLevel("  cache: {maxMemory: 0}\n  quota: {hrad: {pods: 5}}\n", "Broken"));
  auto r = run(kOperator + " validate -f " + good.string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, good.string() + ": ServiceLevel shop/checkout: valid\n");

  r = run(kOperator + " validate -f " + good.string() + " -f " + bad.string() + " -f /nonexistent.yaml");
  EXPECT_EQ(r.status, 1) << r.output;
  for (const std::string& line : {
           good.string() + ": ServiceLevel shop/checkout: valid",
           bad.string() + ": ServiceLevel shop/fine: valid",
           "governor-operator: " + bad.string() +
               ": ServiceLevel shop/Broken: spec.quota.hrad: unknown field \"hrad\", "
               "did you mean \"hard\"?",
           "governor-operator: " + bad.string() +
               ": ServiceLevel shop/Broken: spec.cache.maxMemory: must be more than 0",
           "governor-operator: " + bad.string() +
               ": ServiceLevel shop/Broken: metadata.name: with a cache, the name must "
               "start with a letter, hold only lower-case letters",
           std::string("governor-operator: cannot read /nonexistent.yaml"),
       }) {
    EXPECT_THAT(r.output, ::testing::HasSubstr(line)) << r.output;
  }
}

TEST(ServiceLevelFiles, EverySampleIsValid) {
  for (const char* sample : {"servicelevel-checkout.yaml", "servicelevel-worker.yaml",
                             "servicelevel-stream-worker.yaml", "servicelevel-catalog-cache.yaml"}) {
    auto r = run(kOperator + " validate -f " + kSamples + sample);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, ::testing::EndsWith(": valid\n")) << r.output;
  }
}

TEST(ServiceLevelFiles, RenderOnlyPrintsOnePart) {
  TempDir dir("cli-only");
  const std::string promtool = findProgram("PROMTOOL", {"promtool"});
  ASSERT_FALSE(promtool.empty()) << "promtool is missing: install Debian's prometheus package or set PROMTOOL";
  // The rules of one ServiceLevel, then of two in one file, as promtool reads them.
  auto rulesFound = [&](const std::string& servicelevels) {
    auto file = dir.write("servicelevels.yaml", servicelevels);
    auto rules = run(kOperator + " render --only rules -f " + file.string() + " > " + dir.file("rules.yaml"));
    EXPECT_EQ(rules.status, 0) << rules.output;
    auto check = run(promtool + " check rules " + dir.file("rules.yaml"));
    EXPECT_EQ(check.status, 0) << check.output;
    auto found = check.output.find("SUCCESS: ");
    return found == std::string::npos ? 0 : std::stoi(check.output.substr(found + 9));
  };
  int one = rulesFound(serviceLevel(kObjectives));
  EXPECT_GT(one, 10);
  EXPECT_EQ(rulesFound(serviceLevel(kObjectives) + "---\n" + serviceLevel(kObjectives, "payments")), 2 * one);
  auto both = dir.write("both.yaml", serviceLevel(kObjectives) + "---\n" + serviceLevel(kObjectives, "payments"));

  auto hpa = run(kOperator + " render --only hpa -f " + kSamples + "servicelevel-checkout.yaml");
  EXPECT_EQ(hpa.status, 0) << hpa.output;
  EXPECT_THAT(hpa.output, ::testing::HasSubstr("kind: HorizontalPodAutoscaler"));
  EXPECT_THAT(hpa.output, ::testing::Not(::testing::HasSubstr("kind: ConfigMap")));

  auto dashboard = run(kOperator + " render --only dashboard -f " + kSamples + "servicelevel-checkout.yaml");
  EXPECT_EQ(dashboard.status, 0) << dashboard.output;
  EXPECT_THAT(dashboard.output, ::testing::StartsWith("{\n  \"uid\": ")) << dashboard.output;

  auto none = run(kOperator + " render --only quota -f " + both.string());
  EXPECT_NE(none.status, 0);
  EXPECT_THAT(none.output, ::testing::HasSubstr(both.string() + ": no ServiceLevel in it has any quota"));
}

}  // namespace
}  // namespace governor::testing
