// Plain-HTTP endpoints of the operator: /metrics on one address, /healthz and /readyz on
// another (as kubelet probes and Prometheus expect).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <prometheus/registry.h>

#include "kube/result.h"

namespace httplib {
class Server;
}

namespace governor::op {

class Endpoints {
 public:
  // bindAddress "host:port" or ":port"; "0" turns it off.
  static kube::Result<std::unique_ptr<Endpoints>> metrics(const std::string& bindAddress,
                                                          std::shared_ptr<prometheus::Registry> registry);
  static kube::Result<std::unique_ptr<Endpoints>> health(const std::string& bindAddress,
                                                         std::function<bool()> ready);
  ~Endpoints();
  int port() const { return port_; }

 private:
  static kube::Result<std::unique_ptr<Endpoints>> serve(const std::string& bindAddress,
                                                        std::unique_ptr<httplib::Server> server);
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace governor::op
