// Where the API server is and who we are to it: from kubeconfig files or from the
// in-cluster service account. Every missing or malformed field is an error naming it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kube/result.h"

namespace governor::kube {

struct Config {
  std::string server;  // "https://host:port", no trailing slash
  std::string caPem;   // PEM bundle; empty = the system's roots
  bool insecureSkipTlsVerify = false;
  std::string clientCertPem;  // PEM; both or neither of cert and key
  std::string clientKeyPem;
  std::string token;                          // bearer token
  std::string tokenFile;                      // when set, the token is re-read from it (rotation)
  std::string namespaceName = "default";      // the context's namespace, or the pod's
  std::chrono::milliseconds timeout{30'000};  // per request (not for watches), retries included
  double qps = 50;                            // client-side rate limit, requests a second (watches included); 0 = none
  int burst = 100;                            // requests allowed at once before qps applies
};

// One kubeconfig file's name and its text, in KUBECONFIG order.
struct KubeconfigFile {
  std::string path;
  std::string text;
};

// Merges kubeconfig files as kubectl does (the first file to set a map entry or
// current-context wins) and resolves `context` (empty = current-context). Relative file
// references resolve against the directory of the file that names them.
Result<Config> parseKubeconfig(const std::vector<KubeconfigFile>& files, const std::string& context = "");

// Reads the files of a KUBECONFIG-style list ("a:b:c"; missing files are skipped as
// kubectl does, but at least one must exist) and parses them.
Result<Config> loadKubeconfig(const std::string& pathList, const std::string& context = "");

// In-cluster: KUBERNETES_SERVICE_HOST/PORT from `getenv`, token, ca.crt and namespace
// from `saDir` (normally /var/run/secrets/kubernetes.io/serviceaccount).
using Getenv = std::function<std::optional<std::string>(const std::string&)>;
Result<Config> loadInCluster(const Getenv& getenv,
                             const std::string& saDir = "/var/run/secrets/kubernetes.io/serviceaccount");

// What a binary's --kubeconfig flag means: the flag's path if given, else $KUBECONFIG,
// else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
Result<Config> loadDefaultConfig(const std::string& kubeconfigFlag, const std::string& context = "");

// Standard base64 (line breaks allowed), as kubeconfig *-data fields and Secret data
// carry it; nothing when malformed.
std::optional<std::string> decodeBase64(const std::string& text);

}  // namespace governor::kube
