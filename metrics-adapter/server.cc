// See server.h.
#include "metrics-adapter/server.h"

#include <filesystem>

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

namespace governor::adapter {
namespace {

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

Json openapiV3(const std::string& group) {
  return {{"openapi", "3.0.0"}, {"info", {{"title", group}, {"version", "v1"}}}, {"paths", Json::object()}};
}

}  // namespace

kube::Result<ServingCert> loadServingCert(const std::string& certFile, const std::string& keyFile) {
  std::unique_ptr<FILE, decltype(&fclose)> cf(fopen(certFile.c_str(), "r"), fclose);
  if (!cf) return invalid("--tls-cert-file " + certFile + ": cannot read");
  std::unique_ptr<FILE, decltype(&fclose)> kf(fopen(keyFile.c_str(), "r"), fclose);
  if (!kf) return invalid("--tls-private-key-file " + keyFile + ": cannot read");
  ServingCert c{std::shared_ptr<X509>(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr), X509_free),
                std::shared_ptr<EVP_PKEY>(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr), EVP_PKEY_free)};
  if (!c.cert) return invalid("--tls-cert-file " + certFile + ": not a PEM certificate");
  while (X509* more = PEM_read_X509(cf.get(), nullptr, nullptr, nullptr)) c.chain.emplace_back(more, X509_free);
  if (!c.key) return invalid("--tls-private-key-file " + keyFile + ": not a PEM private key");
  if (X509_check_private_key(c.cert.get(), c.key.get()) != 1) {
    return invalid("--tls-private-key-file " + keyFile + " does not match --tls-cert-file " + certFile);
  }
  return c;
}

kube::Result<ServingCert> selfSignedCert(const std::vector<std::string>& dnsNames) {
  std::shared_ptr<EVP_PKEY> key(EVP_RSA_gen(2048), EVP_PKEY_free);
  std::shared_ptr<X509> cert(X509_new(), X509_free);
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
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return invalid("cannot sign a serving certificate");
  return ServingCert{cert, key};
}

ServingCert AdapterServer::current() const {
  std::lock_guard lock(certMu_);
  return cert_;
}

void AdapterServer::watchCertFiles() {
  while (!stopping_) {
    for (int i = 0; i < options_.certCheckInterval.count() * 10 && !stopping_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto now = stamp(options_.certFile) + "|" + stamp(options_.keyFile);
    if (stopping_ || now == certStamp_) continue;
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

  AdapterServer* self = s.get();
  s->server_ = std::make_unique<httplib::SSLServer>([self](SSL_CTX& ctx) {
    // Ask for a client certificate but never fail the handshake over it: the metric
    // paths check it per request, health probes come without one.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    // The serving pair is chosen per handshake, so a rotated one applies at once.
    SSL_CTX_set_cert_cb(
        &ctx,
        [](SSL* ssl, void* arg) {
          auto c = static_cast<AdapterServer*>(arg)->current();
          if (SSL_use_certificate(ssl, c.cert.get()) != 1 || SSL_use_PrivateKey(ssl, c.key.get()) != 1) return 0;
          for (const auto& intermediate : c.chain) {
            if (SSL_add1_chain_cert(ssl, intermediate.get()) != 1) return 0;
          }
          return 1;
        },
        self);
    return true;
  });

  auto& requests = prometheus::BuildCounter()
                       .Name("governor_adapter_requests_total")
                       .Help("HTTP requests answered, by path kind and status code")
                       .Register(*registry);
  auto& latency = prometheus::BuildHistogram()
                      .Name("governor_adapter_request_duration_seconds")
                      .Help("Time to answer a metrics API request")
                      .Register(*registry)
                      .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1});
  auto& server = *s->server_;
  // httplib writes headers and body separately: with Nagle on, the body waits for the
  // client's delayed ACK (about 40 ms per answer).
  server.set_tcp_nodelay(true);
  // A kept-alive connection (the aggregator keeps a few) is not closed every 5 requests, so a
  // TLS handshake is paid once per 1,000. Each open connection holds a worker while it lasts
  // (at most 5 s idle): 32 of them, so health probes are not starved by a few busy peers.
  server.set_keep_alive_max_count(1000);
  server.new_task_queue = [] { return new httplib::ThreadPool(32); };
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  server.Get("/livez", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  server.Get("/readyz", [ready](const httplib::Request&, httplib::Response& res) {
    bool ok = ready();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok" : "ServiceLevels not synced yet", "text/plain");
  });
  server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus::TextSerializer().Serialize(registry->Collect()), "text/plain; version=0.0.4");
  });
  server.Get("/openapi/v2", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(openapiV2().dump(), "application/json");
  });
  server.Get("/openapi/v3", [](const httplib::Request&, httplib::Response& res) {
    Json paths = Json::object();
    for (const char* gv : {"apis/custom.metrics.k8s.io/v1beta2", "apis/external.metrics.k8s.io/v1beta1"}) {
      paths[gv] = {{"serverRelativeURL", std::string("/openapi/v3/") + gv}};
    }
    res.set_content(Json{{"paths", paths}}.dump(), "application/json");
  });
  server.Get(R"(/openapi/v3/apis/([^/]+)/([^/]+))", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(openapiV3(req.matches[1]).dump(), "application/json");
  });
  server.Get(R"(/apis(/.*)?)", [&api, &auth, &authorizer, &requests, &latency](const httplib::Request& req,
                                                                              httplib::Response& res) {
    auto started = std::chrono::steady_clock::now();
    auto caller = auth.authenticate(req.ssl, Headers(req.headers.begin(), req.headers.end()));
    auto allowed = caller ? authorizer.authorize(*caller, req.path) : kube::Outcome(caller.error());
    ApiResponse out;
    if (!allowed) {
      out = failure(allowed.error());
    } else {
      std::map<std::string, std::string> query;
      for (const auto& [k, v] : req.params) query.emplace(k, v);
      out = api.get(req.path, query);
    }
    res.status = out.status;
    res.set_content(out.body.dump(), "application/json");
    requests.Add({{"path", req.path.size() > 5 && req.path.find("/namespaces/") != std::string::npos ? "metric" : "discovery"},
                  {"code", std::to_string(out.status)}})
        .Increment();
    latency.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  });

  s->port_ = options.port == 0 ? server.bind_to_any_port(options.bindAddress)
                               : (server.bind_to_port(options.bindAddress, options.port) ? options.port : -1);
  if (s->port_ < 0) {
    return invalid("cannot listen on " + options.bindAddress + ":" + std::to_string(options.port));
  }
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  // httplib's stop() does nothing before the loop runs: wait for it, so that a server
  // destroyed right away still stops.
  for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (!options.certFile.empty()) s->certThread_ = std::thread([self] { self->watchCertFiles(); });
  return s;
}

AdapterServer::~AdapterServer() {
  stopping_ = true;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  if (certThread_.joinable()) certThread_.join();
}

}  // namespace governor::adapter
