// The adapter's HTTPS server: serving certificate from files (re-read when they change)
// or generated at start, client certificates asked for but checked per request, the
// metrics APIs behind front-proxy authentication and delegated authorization, and open
// health, OpenAPI and /metrics endpoints.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "kube/result.h"
#include "metrics-adapter/api/auth.h"
#include "metrics-adapter/api/authz.h"
#include "metrics-adapter/api/metrics_api.h"

namespace httplib {
class SSLServer;
}

namespace governor::adapter {

struct ServerOptions {
  std::string bindAddress = "0.0.0.0";
  int port = 6443;                      // 0 = any free port
  std::string certFile;                 // PEM; with keyFile, or neither (self-signed)
  std::string keyFile;
  std::vector<std::string> selfSignedNames{"localhost"};  // DNS names of a generated certificate
  std::chrono::seconds certCheckInterval{10};
};

// A certificate and key in use, swapped atomically when the files change.
struct ServingCert {
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
  std::vector<std::shared_ptr<X509>> chain;  // intermediates after the leaf in the file
};
kube::Result<ServingCert> loadServingCert(const std::string& certFile, const std::string& keyFile);
kube::Result<ServingCert> selfSignedCert(const std::vector<std::string>& dnsNames);

class AdapterServer {
 public:
  static kube::Result<std::unique_ptr<AdapterServer>> start(const ServerOptions& options, const MetricsApi& api,
                                                            const Authenticator& auth, Authorizer& authorizer,
                                                            std::shared_ptr<prometheus::Registry> registry,
                                                            std::function<bool()> ready);
  ~AdapterServer();
  int port() const { return port_; }

 private:
  AdapterServer() = default;
  void watchCertFiles();
  ServingCert current() const;

  ServerOptions options_;
  mutable std::mutex certMu_;
  ServingCert cert_;
  std::string certStamp_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  std::thread certThread_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

}  // namespace governor::adapter
