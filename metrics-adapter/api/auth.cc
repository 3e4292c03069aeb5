// Front-proxy authentication; see auth.h. The chain is verified here against the
// request-header CA, not during the handshake, so that probes without a certificate
// still reach /healthz.
#include "metrics-adapter/api/auth.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include "kube/c_ptr.h"
#include "kube/http_server.h"
#include "kube/stop.h"
#include "metrics-adapter/api/metrics_api.h"

namespace governor::adapter {
namespace {

kube::Error unauthorized(const std::string& why) { return kube::Error{kube::Status{401, "Unauthorized", why}, ""}; }

std::vector<std::string> jsonList(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_string()) out.push_back(v);
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool sameName(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

bool startsWithIgnoringCase(const std::string& s, const std::string& prefix) {
  return lower(s).rfind(lower(prefix), 0) == 0;
}

std::string commonName(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf - 1);
  return buf;
}

}  // namespace

kube::Result<FrontProxyConfig> frontProxyFromCluster(kube::Client& client) {
  auto cm = client.get({"", "v1", "configmaps", true}, "kube-system", "extension-apiserver-authentication");
  if (!cm) return cm.error();
  const auto& data = (*cm)["data"];
  FrontProxyConfig c;
  c.clientCaPem = data.value("requestheader-client-ca-file", "");
  if (c.clientCaPem.empty()) {
    return kube::Error{kube::Status{0, "Invalid", "has no requestheader-client-ca-file: is the aggregation layer on?"},
                       "ConfigMap kube-system/extension-apiserver-authentication"};
  }
  c.allowedNames = jsonList(data.value("requestheader-allowed-names", "[]"));
  if (auto h = jsonList(data.value("requestheader-username-headers", "[]")); !h.empty()) c.usernameHeaders = h;
  if (auto h = jsonList(data.value("requestheader-group-headers", "[]")); !h.empty()) c.groupHeaders = h;
  if (auto h = jsonList(data.value("requestheader-extra-headers-prefix", "[]")); !h.empty()) c.extraHeaderPrefixes = h;
  return c;
}

kube::Result<FrontProxyConfig> frontProxyFromFlags(kube::Client& client, const std::string& clientCaFile,
                                                   const std::string& allowedNames) {
  FrontProxyConfig c;
  if (clientCaFile.empty()) {
    auto fromCluster = frontProxyFromCluster(client);
    if (!fromCluster) return fromCluster.error();
    c = *fromCluster;
  } else {
    std::ifstream in(clientCaFile);
    if (!in) return kube::Error{kube::Status{0, "", "cannot read"}, "--requestheader-client-ca-file " + clientCaFile};
    c.clientCaPem.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (!allowedNames.empty()) c.allowedNames = splitNonEmpty(allowedNames, ',');
  return c;
}

kube::Result<std::shared_ptr<const Authenticator::Trust>> Authenticator::trustOf(FrontProxyConfig config) {
  std::shared_ptr<X509_STORE> store{kube::CPtr<X509_STORE, X509_STORE_free>(X509_STORE_new())};
  kube::CPtr<BIO, BIO_free> bio(
      BIO_new_mem_buf(config.clientCaPem.data(), static_cast<int>(config.clientCaPem.size())));
  int added = 0;
  while (kube::CPtr<X509, X509_free> cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    added += X509_STORE_add_cert(store.get(), cert.get());
  }
  if (added == 0) return kube::Error{kube::Status{0, "Invalid", "the request-header CA holds no PEM certificate"}, ""};
  return std::make_shared<const Trust>(Trust{std::move(config), std::move(store)});
}

kube::Result<std::unique_ptr<Authenticator>> Authenticator::create(FrontProxyConfig config) {
  auto trust = trustOf(std::move(config));
  if (!trust) return trust.error();
  std::unique_ptr<Authenticator> a(new Authenticator());
  a->trust_ = std::move(*trust);
  return a;
}

kube::Outcome Authenticator::update(FrontProxyConfig config) {
  auto trust = trustOf(std::move(config));
  if (!trust) return trust.error();
  std::lock_guard lock(mu_);
  trust_ = std::move(*trust);
  return kube::Ok{};
}

std::shared_ptr<const Authenticator::Trust> Authenticator::trust() const {
  std::lock_guard lock(mu_);
  return trust_;
}

FrontProxyConfig Authenticator::config() const { return trust()->config; }

kube::Result<Caller> Authenticator::authenticate(const SSL* ssl, const Headers& headers) const {
  if (!ssl) return unauthorized("not a TLS connection");
  const auto trust = this->trust();
  const auto& config = trust->config;
  kube::CPtr<X509, X509_free> peer(SSL_get_peer_certificate(ssl));
  if (!peer) return unauthorized("no client certificate: only the kube-apiserver's front proxy may call");
  kube::CPtr<X509_STORE_CTX, X509_STORE_CTX_free> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), trust->store.get(), peer.get(), SSL_get_peer_cert_chain(ssl));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) != 1) {
    return unauthorized(std::string("client certificate not signed by the request-header CA: ") +
                        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  auto cn = commonName(peer.get());
  const auto& allowed = config.allowedNames;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), cn) == allowed.end()) {
    return unauthorized("client certificate CN \"" + cn + "\" is not an allowed request-header name");
  }
  // As k8s.io/apiserver reads them: the first user header that has a value, every value
  // of every group header, and every header under an extra prefix.
  Caller caller;
  for (const auto& name : config.usernameHeaders) {
    for (const auto& [h, value] : headers) {
      if (caller.user.empty() && sameName(h, name)) caller.user = value;
    }
  }
  if (caller.user.empty()) return unauthorized("the front proxy named no user");
  for (const auto& name : config.groupHeaders) {
    for (const auto& [h, value] : headers) {
      if (sameName(h, name) && !value.empty()) caller.groups.push_back(value);
    }
  }
  for (const auto& prefix : config.extraHeaderPrefixes) {
    for (const auto& [h, value] : headers) {
      if (!startsWithIgnoringCase(h, prefix)) continue;
      // The front proxy escapes extra keys (url.PathEscape).
      caller.extra[kube::percentDecode(lower(h.substr(prefix.size())), false)].push_back(value);
    }
  }
  return caller;
}

FrontProxyReloader::FrontProxyReloader(Authenticator& auth, Source source, std::chrono::milliseconds interval)
    : auth_(auth), source_(std::move(source)), interval_(interval), thread_([this](const std::stop_token& stop) {
        while (!kube::sleepUnlessStopped(stop, interval_)) reloadOnce();
      }) {}

void FrontProxyReloader::reloadOnce() {
  auto next = source_();
  if (!next) {
    spdlog::warn("front proxy: cannot re-read the request-header CA, keeping the one in use: {}", next.error().what());
    return;
  }
  if (*next == auth_.config()) return;
  if (auto updated = auth_.update(*next); !updated) {
    spdlog::warn("front proxy: keeping the request-header CA in use: {}", updated.error().what());
    return;
  }
  spdlog::info("front proxy: request-header CA or allowed names changed; now trusting the new ones");
}

}  // namespace governor::adapter
