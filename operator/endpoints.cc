// See endpoints.h.
#include "operator/endpoints.h"

#include "kube/host_port.h"

#include <prometheus/text_serializer.h>

namespace governor::op {

namespace {
const kube::HttpResponse kNotFound{404, "text/plain", "not found\n"};
}

kube::Result<std::unique_ptr<Endpoints>> Endpoints::metrics(const std::string& bindAddress,
                                                            std::shared_ptr<prometheus::Registry> registry) {
  return serve(bindAddress, [registry = std::move(registry)](const kube::HttpRequest& req) {
    if (req.path != "/metrics") return kNotFound;
    return kube::HttpResponse{200, "text/plain; version=0.0.4",
                              prometheus::TextSerializer().Serialize(registry->Collect())};
  });
}

kube::Result<std::unique_ptr<Endpoints>> Endpoints::health(const std::string& bindAddress,
                                                           std::function<std::string()> notReady) {
  return serve(bindAddress, [notReady = std::move(notReady)](const kube::HttpRequest& req) {
    if (req.path == "/healthz") return kube::HttpResponse{200, "text/plain", "ok"};
    if (req.path != "/readyz") return kNotFound;
    auto why = notReady();
    return kube::HttpResponse{why.empty() ? 200 : 503, "text/plain", why.empty() ? "ok" : why};
  });
}

kube::Result<std::unique_ptr<Endpoints>> Endpoints::serve(const std::string& bindAddress, kube::HttpHandler handler) {
  auto invalid = [&](const std::string& why) {
    return kube::Error{kube::Status{0, "Invalid", "bind address \"" + bindAddress + "\": " + why}, ""};
  };
  auto ep = std::unique_ptr<Endpoints>(new Endpoints());  // NOLINT(modernize-make-unique): a private constructor
  if (bindAddress == "0") return ep;
  auto where = kube::parseBindAddress(bindAddress);
  if (!where) return invalid("use host:port or :port, with a port from 0 (any free port) to 65535");
  kube::HttpServerOptions options;
  options.host = where->host;
  options.port = where->port;
  // Prometheus and the kubelet each keep a connection or two.
  options.maxConnections = 16;
  auto server = kube::HttpServer::start(options, std::move(handler));
  if (!server) return invalid(server.error().status.message);
  ep->server_ = std::move(*server);
  return ep;
}

}  // namespace governor::op
