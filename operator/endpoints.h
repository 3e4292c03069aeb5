// Plain-HTTP endpoints of the operator: /metrics on one address, /healthz and /readyz on
// another (as kubelet probes and Prometheus expect), each a bounded kube::HttpServer.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <prometheus/registry.h>

#include "kube/http_server.h"
#include "kube/result.h"

namespace governor::op {

class Endpoints {
 public:
  // bindAddress "host:port" or ":port"; "0" turns it off.
  static kube::Result<std::unique_ptr<Endpoints>> metrics(const std::string& bindAddress,
                                                          std::shared_ptr<prometheus::Registry> registry);
  // /healthz answers 200 while the process runs; /readyz 200, or 503 with what
  // `notReady` returns when that is not empty (the reason, for kubectl describe).
  static kube::Result<std::unique_ptr<Endpoints>> health(const std::string& bindAddress,
                                                         std::function<std::string()> notReady);
  int port() const { return server_ ? server_->port() : 0; }

 private:
  static kube::Result<std::unique_ptr<Endpoints>> serve(const std::string& bindAddress, kube::HttpHandler handler);
  std::unique_ptr<kube::HttpServer> server_;
};

}  // namespace governor::op
