// Who is calling: the kube-apiserver's aggregator proves itself with its front-proxy
// client certificate (signed by the request-header CA, with an allowed CN) and names the
// user in X-Remote-User, X-Remote-Group and X-Remote-Extra-*. Without that certificate
// the headers mean nothing and the caller is refused.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "kube/client.h"
#include "kube/result.h"

namespace governor::adapter {

struct FrontProxyConfig {
  std::string clientCaPem;                // the request-header CA bundle
  std::vector<std::string> allowedNames;  // CNs allowed; empty = any CN the CA signed
  std::vector<std::string> usernameHeaders{"X-Remote-User"};
  std::vector<std::string> groupHeaders{"X-Remote-Group"};
  std::vector<std::string> extraHeaderPrefixes{"X-Remote-Extra-"};

  bool operator==(const FrontProxyConfig&) const = default;
};

// Reads kube-system/extension-apiserver-authentication, as every aggregated API server
// does (needs the extension-apiserver-authentication-reader Role).
kube::Result<FrontProxyConfig> frontProxyFromCluster(kube::Client& client);

// What the flags make of the front proxy, read afresh on each call (a rotated CA): the CA from
// `clientCaFile` (--requestheader-client-ca-file), else all of frontProxyFromCluster; the
// comma-separated `allowedNames` (--requestheader-allowed-names), when set, instead of any others.
kube::Result<FrontProxyConfig> frontProxyFromFlags(kube::Client& client, const std::string& clientCaFile,
                                                   const std::string& allowedNames);

struct Caller {
  std::string user;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;  // keys lowercased and %-decoded
};

// A request's headers as received, (name, value); a name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

class Authenticator {
 public:
  static kube::Result<std::unique_ptr<Authenticator>> create(FrontProxyConfig config);

  // Trusts `config` from the next request on (a rotated request-header CA, other allowed
  // names). A CA bundle without a certificate is an error and changes nothing.
  kube::Outcome update(FrontProxyConfig config);
  FrontProxyConfig config() const;

  // `ssl` is the connection (its verified peer chain is read). Header names match
  // case-insensitively. Errors say why, for the 401's message.
  kube::Result<Caller> authenticate(const SSL* ssl, const Headers& headers) const;

 private:
  struct Trust {
    FrontProxyConfig config;
    std::shared_ptr<X509_STORE> store;
  };
  static kube::Result<std::shared_ptr<const Trust>> trustOf(FrontProxyConfig config);
  Authenticator() = default;
  std::shared_ptr<const Trust> trust() const;

  mutable std::mutex mu_;
  std::shared_ptr<const Trust> trust_;  // swapped whole; a request keeps the one it began with
};

// Keeps an Authenticator as its source says: re-reads `source` (the ConfigMap, or the
// flags' file) every `interval` on a thread of its own and applies a change, so that a
// rotated front-proxy CA is trusted, and a removed one refused, without a restart. A
// failed read keeps the trust there is.
class FrontProxyReloader {
 public:
  using Source = std::function<kube::Result<FrontProxyConfig>()>;
  FrontProxyReloader(Authenticator& auth, Source source, std::chrono::milliseconds interval);
  FrontProxyReloader(const FrontProxyReloader&) = delete;
  FrontProxyReloader& operator=(const FrontProxyReloader&) = delete;

 private:
  void reloadOnce();

  Authenticator& auth_;
  Source source_;
  std::chrono::milliseconds interval_;
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace governor::adapter
