// The adapter's HTTPS server: serving certificate from files (re-read when they change)
// or generated at start, TLS 1.2 or later, client certificates asked for but checked per
// request, the metrics APIs behind front-proxy authentication and delegated authorization,
// and open health, OpenAPI and /metrics endpoints; and a plain-HTTP listener of its own for
// the kubelet's probes, so that connections to the secure port never starve them.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "kube/http_server.h"
#include "kube/result.h"
#include "metrics-adapter/api/auth.h"
#include "metrics-adapter/api/authz.h"
#include "metrics-adapter/api/metrics_api.h"

namespace governor::adapter {

struct ServerOptions {
  std::string bindAddress = "0.0.0.0";
  int port = 6443;        // 0 = any free port
  int healthPort = 8081;  // plain HTTP: /healthz, /livez, /readyz; 0 = any free port
  std::string certFile;   // PEM; with keyFile, or neither (self-signed)
  std::string keyFile;
  std::vector<std::string> selfSignedNames{"localhost"};  // DNS names of a generated certificate
  std::chrono::seconds certCheckInterval{10};
  // Per listener: at the cap a new connection takes the place of the one waiting longest for
  // its request (never one being answered); each gets requestTimeout for its TLS handshake
  // and each request's line and headers.
  size_t maxConnections = 128;
  size_t maxProbeConnections = 16;
  std::chrono::milliseconds requestTimeout{10000};
};

// TLS 1.2 cipher suites of the secure port: the ECDHE AEAD suites of Go's default list
// (what kube-apiserver offers). TLS 1.3 uses OpenSSL's defaults, the same three as Go.
inline constexpr const char* kTls12CipherSuites =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

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
  // SIGTERM, after the shutdown delay: the secure port stops accepting and answers the
  // requests already accepted (each within requestTimeout); the probe port keeps answering.
  void drain() { https_->drain(options_.requestTimeout); }
  int port() const { return https_->port(); }
  int healthPort() const { return probes_->port(); }

 private:
  AdapterServer() = default;
  void watchCertFiles(const std::stop_token& stop);
  std::shared_ptr<SSL_CTX> tlsContext();
  ServingCert current() const;

  ServerOptions options_;
  mutable std::mutex certMu_;
  ServingCert cert_;
  std::string certStamp_;
  std::unique_ptr<kube::HttpServer> https_;
  std::unique_ptr<kube::HttpServer> probes_;
  std::jthread certThread_;  // last: stopped and joined first
};

}  // namespace governor::adapter
