// Who is calling: the kube-apiserver's aggregator proves itself with its front-proxy
// client certificate (signed by the request-header CA, with an allowed CN) and names the
// user in X-Remote-User, X-Remote-Group and X-Remote-Extra-*. Without that certificate
// the headers mean nothing and the caller is refused.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "kube/client.h"
#include "kube/result.h"

namespace governor::adapter {

struct FrontProxyConfig {
  std::string clientCaPem;                  // the request-header CA bundle
  std::vector<std::string> allowedNames;    // CNs allowed; empty = any CN the CA signed
  std::vector<std::string> usernameHeaders{"X-Remote-User"};
  std::vector<std::string> groupHeaders{"X-Remote-Group"};
  std::vector<std::string> extraHeaderPrefixes{"X-Remote-Extra-"};
};

// Reads kube-system/extension-apiserver-authentication, as every aggregated API server
// does (needs the extension-apiserver-authentication-reader Role).
kube::Result<FrontProxyConfig> frontProxyFromCluster(kube::Client& client);

struct Caller {
  std::string user;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;  // keys lowercased and %-decoded
};

// A request's headers as received, (name, value); a name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

class Authenticator {
 public:
  static kube::Result<Authenticator> create(FrontProxyConfig config);

  // `ssl` is the connection (its verified peer chain is read). Header names match
  // case-insensitively. Errors say why, for the 401's message.
  kube::Result<Caller> authenticate(const SSL* ssl, const Headers& headers) const;

 private:
  FrontProxyConfig config_;
  std::shared_ptr<X509_STORE> store_;
};

}  // namespace governor::adapter
