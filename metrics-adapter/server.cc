// See server.h.
#include "metrics-adapter/server.h"

#include <filesystem>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include "kube/c_ptr.h"
#include "kube/stop.h"

namespace governor::adapter {
namespace {

using X509Ptr = kube::CPtr<X509, X509_free>;
using KeyPtr = kube::CPtr<EVP_PKEY, EVP_PKEY_free>;

kube::Error invalid(const std::string& message) { return kube::Error{kube::Status{0, "Invalid", message}, ""}; }

std::string stamp(const std::string& path) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(path, ec);
  auto size = std::filesystem::file_size(path, ec);
  return ec ? "" : std::to_string(t.time_since_epoch().count()) + ":" + std::to_string(size);
}

ApiResponse failure(const kube::Error& e) {
  return {e.status.code, statusBody(e.status.code, e.status.reason, e.status.message)};
}

Json openapiV2() {
  return {{"swagger", "2.0"},
          {"info", {{"title", "governor-metrics-adapter"}, {"version", "v1beta1"}}},
          {"paths", Json::object()}};
}

// /healthz, /livez and /readyz, served on the probe port and, for callers that look there,
// on the secure port.
std::optional<kube::HttpResponse> probeResponse(const std::string& path, const std::function<bool()>& ready) {
  if (path == "/healthz" || path == "/livez") return kube::HttpResponse{200, "text/plain", "ok"};
  if (path != "/readyz") return std::nullopt;
  bool ok = ready();
  return kube::HttpResponse{ok ? 200 : 503, "text/plain", ok ? "ok" : "ServiceLevels not synced yet, or shutting down"};
}

Json openapiV3(const std::string& group) {
  return {{"openapi", "3.0.0"}, {"info", {{"title", group}, {"version", "v1"}}}, {"paths", Json::object()}};
}

// /openapi/v2, /openapi/v3 and /openapi/v3/apis/GROUP/VERSION: documents without paths, for
// the clients that look (kubectl, the aggregator's OpenAPI controller).
std::optional<kube::HttpResponse> openapiResponse(const std::string& path) {
  if (path == "/openapi/v2") return kube::HttpResponse{200, "application/json", openapiV2().dump()};
  if (path == "/openapi/v3") {
    Json paths = Json::object();
    for (const char* gv : {"apis/custom.metrics.k8s.io/v1beta2", "apis/external.metrics.k8s.io/v1beta1"}) {
      paths[gv] = {{"serverRelativeURL", std::string("/openapi/v3/") + gv}};
    }
    return kube::HttpResponse{200, "application/json", Json{{"paths", paths}}.dump()};
  }
  auto groupVersion = pathSegments(path);
  if (groupVersion.size() == 5 && groupVersion[0] == "openapi" && groupVersion[1] == "v3" &&
      groupVersion[2] == "apis") {
    return kube::HttpResponse{200, "application/json", openapiV3(groupVersion[3]).dump()};
  }
  return std::nullopt;
}

kube::HttpResponse notFound() { return {404, "text/plain", "not found\n"}; }

// The metrics APIs behind front-proxy authentication and authorization, each request counted
// by path kind and code and timed on /metrics.
class MetricsRoute {
 public:
  MetricsRoute(const MetricsApi& api, const Authenticator& auth, Authorizer& authorizer, prometheus::Registry& registry)
      : api_(api),
        auth_(auth),
        authorizer_(authorizer),
        requests_(prometheus::BuildCounter()
                      .Name("governor_adapter_requests_total")
                      .Help("HTTP requests answered, by path kind and status code")
                      .Register(registry)),
        latency_(prometheus::BuildHistogram()
                     .Name("governor_adapter_request_duration_seconds")
                     .Help("Time to answer a metrics API request")
                     .Register(registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1})) {
  }

  kube::HttpResponse operator()(const kube::HttpRequest& req) const {
    auto started = std::chrono::steady_clock::now();
    auto caller = auth_.authenticate(req.ssl, req.headers);
    const auto selector = req.query.find("labelSelector");
    ApiResponse out;
    if (!caller) {
      out = failure(caller.error());
    } else if (auto malformed = malformedRequest(req.path, selector == req.query.end() ? "" : selector->second)) {
      out = *malformed;  // before authorization: a SubjectAccessReview cannot carry such a path
    } else if (auto allowed = authorizer_.authorize(*caller, req.path); !allowed) {
      out = failure(allowed.error());
    } else {
      out = api_.get(req.path, req.query);
    }
    requests_
        .Add({{"path", req.path.find("/namespaces/") != std::string::npos ? "metric" : "discovery"},
              {"code", std::to_string(out.status)}})
        .Increment();
    latency_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return kube::HttpResponse{out.status, "application/json", out.body.dump()};
  }

 private:
  const MetricsApi& api_;
  const Authenticator& auth_;
  Authorizer& authorizer_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& latency_;
};

}  // namespace

kube::Result<ServingCert> loadServingCert(const std::string& certFile, const std::string& keyFile) {
  kube::CPtr<FILE, fclose> cf(fopen(certFile.c_str(), "r"));
  if (!cf) return invalid("--tls-cert-file " + certFile + ": cannot read");
  kube::CPtr<FILE, fclose> kf(fopen(keyFile.c_str(), "r"));
  if (!kf) return invalid("--tls-private-key-file " + keyFile + ": cannot read");
  ServingCert c{X509Ptr(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr)),
                KeyPtr(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr))};
  if (!c.cert) return invalid("--tls-cert-file " + certFile + ": not a PEM certificate");
  while (X509Ptr more{PEM_read_X509(cf.get(), nullptr, nullptr, nullptr)}) c.chain.emplace_back(std::move(more));
  if (!c.key) return invalid("--tls-private-key-file " + keyFile + ": not a PEM private key");
  if (X509_check_private_key(c.cert.get(), c.key.get()) != 1) {
    return invalid("--tls-private-key-file " + keyFile + " does not match --tls-cert-file " + certFile);
  }
  return c;
}

kube::Result<ServingCert> selfSignedCert(const std::vector<std::string>& dnsNames) {
  std::shared_ptr<EVP_PKEY> key{KeyPtr(EVP_RSA_gen(2048))};
  std::shared_ptr<X509> cert{X509Ptr(X509_new())};
  if (!key || !cert) return invalid("cannot generate a serving certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("governor-metrics-adapter"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san;
  for (const auto& n : dnsNames) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  san += ",IP:127.0.0.1";
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (kube::CPtr<X509_EXTENSION, X509_EXTENSION_free> ext{
          X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())}) {
    X509_add_ext(cert.get(), ext.get(), -1);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return invalid("cannot sign a serving certificate");
  return ServingCert{cert, key};
}

ServingCert AdapterServer::current() const {
  std::lock_guard lock(certMu_);
  return cert_;
}

void AdapterServer::watchCertFiles(const std::stop_token& stop) {
  while (!kube::sleepUnlessStopped(stop, options_.certCheckInterval)) {
    auto now = stamp(options_.certFile) + "|" + stamp(options_.keyFile);
    if (now == certStamp_) continue;
    auto next = loadServingCert(options_.certFile, options_.keyFile);
    if (!next) {
      // Half-written files during a rotation: keep serving the old pair, look again.
      spdlog::warn("serving certificate changed but cannot be used yet: {}", next.error().status.message);
      continue;
    }
    std::lock_guard lock(certMu_);
    cert_ = *next;
    certStamp_ = now;
    spdlog::info("serving certificate reloaded from {}", options_.certFile);
  }
}

std::shared_ptr<SSL_CTX> AdapterServer::tlsContext() {
  std::shared_ptr<SSL_CTX> ctx{kube::CPtr<SSL_CTX, SSL_CTX_free>(SSL_CTX_new(TLS_server_method()))};
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12CipherSuites) != 1) return nullptr;
  // No compression (CRIME), no renegotiation (a client could make the server work on demand).
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Ask for a client certificate but never fail the handshake over it: the metric
  // paths check it per request, health probes come without one.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  // The serving pair is chosen per handshake, so a rotated one applies at once.
  SSL_CTX_set_cert_cb(
      ctx.get(),
      [](SSL* ssl, void* arg) {
        auto c = static_cast<AdapterServer*>(arg)->current();
        if (SSL_use_certificate(ssl, c.cert.get()) != 1 || SSL_use_PrivateKey(ssl, c.key.get()) != 1) return 0;
        for (const auto& intermediate : c.chain) {
          if (SSL_add1_chain_cert(ssl, intermediate.get()) != 1) return 0;
        }
        return 1;
      },
      this);
  return ctx;
}

kube::Result<std::unique_ptr<AdapterServer>> AdapterServer::start(const ServerOptions& options, const MetricsApi& api,
                                                                  const Authenticator& auth, Authorizer& authorizer,
                                                                  std::shared_ptr<prometheus::Registry> registry,
                                                                  std::function<bool()> ready) {
  auto s = std::unique_ptr<AdapterServer>(new AdapterServer());
  s->options_ = options;
  if (options.certFile.empty() != options.keyFile.empty()) {
    return invalid("--tls-cert-file and --tls-private-key-file go together");
  }
  auto cert = options.certFile.empty() ? selfSignedCert(options.selfSignedNames)
                                       : loadServingCert(options.certFile, options.keyFile);
  if (!cert) return cert.error();
  s->cert_ = *cert;
  if (!options.certFile.empty()) s->certStamp_ = stamp(options.certFile) + "|" + stamp(options.keyFile);
  auto tls = s->tlsContext();
  if (!tls) return invalid("cannot set up TLS");

  const MetricsRoute metricsApi(api, auth, authorizer, *registry);
  auto secure = [ready, registry = std::move(registry), metricsApi](const kube::HttpRequest& req) {
    const std::string& path = req.path;
    if (auto probe = probeResponse(path, ready)) return *probe;
    if (path == "/apis" || path.starts_with("/apis/")) return metricsApi(req);
    if (path == "/metrics") {
      return kube::HttpResponse{200, "text/plain; version=0.0.4",
                                prometheus::TextSerializer().Serialize(registry->Collect())};
    }
    return openapiResponse(path).value_or(notFound());
  };

  kube::HttpServerOptions https;
  https.host = options.bindAddress;
  https.port = options.port;
  https.maxConnections = options.maxConnections;
  https.requestTimeout = options.requestTimeout;
  https.tls = tls;
  auto httpsServer = kube::HttpServer::start(https, secure);
  if (!httpsServer) return httpsServer.error();
  s->https_ = std::move(*httpsServer);

  kube::HttpServerOptions probes = https;
  probes.port = options.healthPort;
  probes.maxConnections = options.maxProbeConnections;
  probes.tls = nullptr;
  auto probeServer = kube::HttpServer::start(probes, [ready = std::move(ready)](const kube::HttpRequest& req) {
    return probeResponse(req.path, ready).value_or(notFound());
  });
  if (!probeServer) return probeServer.error();
  s->probes_ = std::move(*probeServer);
  AdapterServer* self = s.get();
  if (!options.certFile.empty()) {
    s->certThread_ = std::jthread([self](const std::stop_token& stop) { self->watchCertFiles(stop); });
  }
  return s;
}

}  // namespace governor::adapter
