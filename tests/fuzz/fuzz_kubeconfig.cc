// parseKubeconfig on arbitrary files must not crash. The input is one file, or two split at
// the first line that is exactly "%%%" (merging is half of what kubeconfig parsing does). The
// files are named fuzz-kubeconfig/first/config and fuzz-kubeconfig/second/config, relative to
// the working directory, so relative file references (certificate-authority, tokenFile, ...)
// really are read, from directories that normally do not exist.
// A Config that comes out must keep the promises of kube/config.h.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "kube/config.h"
#include "kube/host_port.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::kube::KubeconfigFile;
using governor::kube::parseKubeconfig;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(governor::fuzz::input(data, size));
  // File references into /dev, /proc or /sys (say /dev/zero or /dev/stdin) would hang the
  // fuzzer on reads that never end; they test the machine, not the parser.
  for (std::string_view special : {"dev/", "proc/", "sys/"}) {
    if (text.find(special) != std::string::npos) return 0;
  }
  std::vector<KubeconfigFile> files;
  const std::string separator = "\n%%%\n";
  if (size_t split = text.find(separator); split != std::string::npos) {
    files.push_back({"fuzz-kubeconfig/first/config", text.substr(0, split + 1)});
    files.push_back({"fuzz-kubeconfig/second/config", text.substr(split + separator.size())});
  } else {
    files.push_back({"fuzz-kubeconfig/first/config", text});
  }

  auto config = parseKubeconfig(files);
  if (!config) {
    (void)config.error().what();
    return 0;
  }
  const std::string& server = config->server;
  FUZZ_CHECK(server.starts_with("https://") || server.starts_with("http://"), "server \"%s\"", server.c_str());
  FUZZ_CHECK(!server.ends_with("/"), "server \"%s\" ends with a slash", server.c_str());
  // What Client::create needs: a host and a port it can connect to (a port that was no number
  // used to throw out of std::stoi there).
  FUZZ_CHECK(governor::kube::urlHostPort(server).has_value(), "server \"%s\" has no valid host:port", server.c_str());
  FUZZ_CHECK(config->clientCertPem.empty() == config->clientKeyPem.empty(),
             "client certificate without key or key without certificate");
  FUZZ_CHECK(config->tokenFile.empty() || !config->token.empty(), "tokenFile \"%s\", no token",
             config->tokenFile.c_str());
  FUZZ_CHECK(!config->namespaceName.empty(), "empty namespace");
  return 0;
}
