#include "operator/endpoints.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

namespace governor::op {

kube::Result<std::unique_ptr<Endpoints>> Endpoints::metrics(const std::string& bindAddress,
                                                            std::shared_ptr<prometheus::Registry> registry) {
  auto server = std::make_unique<httplib::Server>();
  server->Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus::TextSerializer().Serialize(registry->Collect()), "text/plain; version=0.0.4");
  });
  return serve(bindAddress, std::move(server));
}

kube::Result<std::unique_ptr<Endpoints>> Endpoints::health(const std::string& bindAddress,
                                                           std::function<bool()> ready) {
  auto server = std::make_unique<httplib::Server>();
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  server->Get("/readyz", [ready](const httplib::Request&, httplib::Response& res) {
    bool ok = ready();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok" : "informers not synced", "text/plain");
  });
  return serve(bindAddress, std::move(server));
}

kube::Result<std::unique_ptr<Endpoints>> Endpoints::serve(const std::string& bindAddress,
                                                          std::unique_ptr<httplib::Server> server) {
  auto invalid = [&](const std::string& why) {
    return kube::Error{kube::Status{0, "Invalid", "bind address \"" + bindAddress + "\": " + why}, ""};
  };
  auto ep = std::unique_ptr<Endpoints>(new Endpoints());
  if (bindAddress == "0") return ep;
  auto colon = bindAddress.rfind(':');
  if (colon == std::string::npos) return invalid("use host:port or :port");
  auto host = bindAddress.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(bindAddress.substr(colon + 1));
  } catch (const std::exception&) {
    return invalid("the port is not a number");
  }
  if (host.empty()) host = "0.0.0.0";
  ep->port_ = port == 0 ? server->bind_to_any_port(host) : (server->bind_to_port(host, port) ? port : -1);
  if (ep->port_ < 0) return invalid("cannot listen there");
  ep->server_ = std::move(server);
  ep->thread_ = std::thread([s = ep->server_.get()] { s->listen_after_bind(); });
  return ep;
}

Endpoints::~Endpoints() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace governor::op
