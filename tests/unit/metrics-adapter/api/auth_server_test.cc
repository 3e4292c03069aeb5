// AdapterServer and Authenticator over real TLS on 127.0.0.1: front-proxy client
// certificates (right CA, wrong CA, wrong CN, no user header, none at all), authorization
// with a fake SubjectAccessReview answer, the open endpoints, /readyz and /metrics, and
// serving-certificate reload from files; the probe port, TLS versions and suites, and what
// unauthenticated abuse (a gzip bomb, an endless request line, slow clients) cannot do.
// All certificates are made in-process with the OpenSSL API (EC P-256 keys).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <prometheus/registry.h>

#include "api/servicelevel.h"
#include "metrics-adapter/api/auth.h"
#include "metrics-adapter/api/authz.h"
#include "metrics-adapter/api/metrics_api.h"
#include "metrics-adapter/cache.h"
#include "metrics-adapter/server.h"
#include "metrics-adapter/targets.h"
#include "support/http_attacks.h"
#include "support/local_server.h"
#include "support/slowdown.h"

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Certificates

struct Pair {
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

std::shared_ptr<EVP_PKEY> newKey() {
  std::shared_ptr<EVP_PKEY> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  return key;
}

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  if (!ext) throw std::runtime_error(std::string("bad extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

enum class Role { CA, Client, Server };

// A certificate for `cn`, signed by `issuer` (self-signed when null).
Pair makeCert(const std::string& cn, long serial, Role role, const Pair* issuer = nullptr) {
  Pair p{std::shared_ptr<X509>(X509_new(), X509_free), newKey()};
  X509* c = p.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 24L * 3600);
  X509_set_pubkey(c, p.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuerCert = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuerCert));
  switch (role) {
    case Role::CA:
      addExt(c, issuerCert, NID_basic_constraints, "critical,CA:TRUE");
      addExt(c, issuerCert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
      break;
    case Role::Client:
      addExt(c, issuerCert, NID_basic_constraints, "critical,CA:FALSE");
      addExt(c, issuerCert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
      addExt(c, issuerCert, NID_ext_key_usage, "clientAuth");
      break;
    case Role::Server:
      addExt(c, issuerCert, NID_basic_constraints, "critical,CA:FALSE");
      addExt(c, issuerCert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
      addExt(c, issuerCert, NID_ext_key_usage, "serverAuth");
      addExt(c, issuerCert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
      break;
  }
  EVP_PKEY* signer = issuer ? issuer->key.get() : p.key.get();
  if (X509_sign(c, signer, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  return p;
}

std::string certPem(const Pair& p) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), p.cert.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string keyPem(const Pair& p) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), p.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

long serialOf(X509* cert) { return ASN1_INTEGER_get(X509_get_serialNumber(cert)); }

std::string subjectCn(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf - 1);
  return buf;
}

// The certificate the server presents on a fresh TLS connection (nullptr when the
// handshake fails).
std::shared_ptr<X509> servedCert(int port) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  int fd = testing::connectLoopback(port);
  if (fd < 0) return nullptr;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  std::shared_ptr<X509> peer;
  if (SSL_connect(ssl.get()) == 1) {
    peer.reset(SSL_get1_peer_certificate(ssl.get()), X509_free);
    SSL_shutdown(ssl.get());
  }
  ssl.reset();
  close(fd);
  return peer;
}

// Handshakes trusting only `root` and returns SSL_get_verify_result (X509_V_OK = 0), or
// -1 when the connection fails before verification.
long verifyServedChain(int port, const Pair& root) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), root.cert.get());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // read the result, don't abort
  int fd = testing::connectLoopback(port);
  if (fd < 0) return -1;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  SSL_set1_host(ssl.get(), "127.0.0.1");
  long result = -1;
  if (SSL_connect(ssl.get()) == 1) {
    result = SSL_get_verify_result(ssl.get());
    SSL_shutdown(ssl.get());
  }
  ssl.reset();
  close(fd);
  return result;
}

// Serial of the served certificate, or -1.
long servedSerial(int port) {
  auto c = servedCert(port);
  return c ? serialOf(c.get()) : -1;
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Writes to a sibling and renames over `path`: what a Secret volume update looks like.
void replaceFile(const fs::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  writeFile(tmp, text);
  fs::rename(tmp, path);
}

// The certificates every test shares: generating them once keeps the suite fast.
struct Pki {
  Pair frontProxyCa = makeCert("front-proxy-ca", 1, Role::CA);
  Pair frontProxyClient = makeCert("front-proxy-client", 2, Role::Client, &frontProxyCa);
  Pair intruder = makeCert("intruder", 3, Role::Client, &frontProxyCa);
  Pair otherCa = makeCert("front-proxy-ca", 4, Role::CA);  // same name, other key
  Pair wrongCaClient = makeCert("front-proxy-client", 5, Role::Client, &otherCa);
};

const Pki& pki() {
  static const Pki p;
  return p;
}

// ---------------------------------------------------------------------------------------
// Fixture: one server per test, self-signed unless the test starts its own.

constexpr const char* kDiscovery = "/apis/external.metrics.k8s.io/v1beta1";
constexpr const char* kCheckout = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/governor_queue_backlog";

class AdapterServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MetricTarget backlog;
    backlog.api = MetricTarget::Api::External;
    backlog.namespaceName = "shop";
    backlog.metric = kBacklogMetric;
    backlog.serviceLevel = "checkout";
    backlog.key = "external/shop/governor_queue_backlog/checkout";
    backlog.labels = {{api::kServiceLevelLabel, "checkout"}};
    MetricTarget latency;
    latency.api = MetricTarget::Api::Custom;
    latency.namespaceName = "shop";
    latency.metric = "governor_latency_p95_seconds";
    latency.serviceLevel = "web";
    latency.resource = "deployments.apps";
    latency.objectKind = "Deployment";
    latency.objectName = "web";
    latency.labels = {{"app", "web"}};
    latency.key = "custom/shop/deployments.apps/web/governor_latency_p95_seconds";
    targets.set({backlog, latency});
    cache.update(backlog.key, 42.0);
    cache.update(latency.key, 0.25);

    FrontProxyConfig config;
    config.clientCaPem = certPem(pki().frontProxyCa);
    config.allowedNames = {"front-proxy-client"};
    auto a = Authenticator::create(config);
    ASSERT_TRUE(a) << a.error().what();
    auth = std::move(*a);
  }

  void TearDown() override {
    server.reset();
    if (!dir.empty()) fs::remove_all(dir);
  }

  void startServer(ServerOptions options = {}) {
    options.bindAddress = "127.0.0.1";
    options.port = 0;
    options.healthPort = 0;
    auto s = AdapterServer::start(options, api, *auth, *authorizer, registry, [this] { return ready.load(); });
    ASSERT_TRUE(s) << s.error().what();
    server = std::move(*s);
    ASSERT_GT(server->port(), 0);
  }

  fs::path tempDir() {
    if (dir.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "governor-server-test-XXXXXX").string();
      if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
      dir = tmpl;
    }
    return dir;
  }

  std::unique_ptr<httplib::SSLClient> client(const Pair* cert) {
    auto c = cert ? std::make_unique<httplib::SSLClient>("127.0.0.1", server->port(), cert->cert.get(), cert->key.get())
                  : std::make_unique<httplib::SSLClient>("127.0.0.1", server->port());
    c->enable_server_certificate_verification(false);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(5, 0);
    return c;
  }

  // GET with the front proxy's headers (or none), with `cert` as the client certificate.
  httplib::Result get(const std::string& path, const Pair* cert,
                      httplib::Headers headers = {{"X-Remote-User", "system:kube-aggregator"},
                                                  {"X-Remote-Group", "system:masters"}}) {
    return client(cert)->Get(path.c_str(), headers);
  }

  static nlohmann::json json(const httplib::Result& r) { return nlohmann::json::parse(r->body, nullptr, false); }

  static void expectUnauthorized(const httplib::Result& r, const std::string& messagePart) {
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 401) << r->body;
    auto body = json(r);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body.value("kind", ""), "Status") << r->body;
    EXPECT_EQ(body.value("status", ""), "Failure") << r->body;
    EXPECT_EQ(body.value("reason", ""), "Unauthorized") << r->body;
    EXPECT_EQ(body.value("code", 0), 401) << r->body;
    EXPECT_NE(body.value("message", "").find(messagePart), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("42"), std::string::npos) << "a value leaked: " << r->body;
  }

  // The reviews the server asked for; each is answered `allow`, or fails when `reviewFails`.
  std::vector<nlohmann::json> reviews() {
    std::lock_guard lock(reviewsMu);
    return reviews_;
  }
  kube::Result<nlohmann::json> review(const nlohmann::json& r) {
    std::lock_guard lock(reviewsMu);
    reviews_.push_back(r);
    if (reviewFails) {
      return kube::Error{kube::Status{0, "Unavailable", "connection refused"}, "POST subjectaccessreviews"};
    }
    return nlohmann::json{{"status", {{"allowed", allow.load()}}}};
  }

  MetricCache cache;
  Targets targets;
  MetricsApi api{cache, targets};
  std::unique_ptr<Authenticator> auth;
  std::atomic<bool> allow{true};
  std::atomic<bool> reviewFails{false};
  std::mutex reviewsMu;
  std::vector<nlohmann::json> reviews_;
  std::unique_ptr<Authorizer> authorizer =
      std::move(Authorizer::create({}, [this](const nlohmann::json& r) { return review(r); })).value();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::atomic<bool> ready{false};
  std::unique_ptr<AdapterServer> server;
  fs::path dir;
};

// ---------------------------------------------------------------------------------------
// Front-proxy authentication

TEST_F(AdapterServerTest, FrontProxyCertificateWithUserIsServed) {
  startServer();
  auto r = get(kDiscovery, &pki().frontProxyClient);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  auto body = json(r);
  EXPECT_EQ(body.value("kind", ""), "APIResourceList") << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");

  auto value =
      get(std::string(kCheckout) + "?labelSelector=governor.io%2Fservice-level%3Dcheckout", &pki().frontProxyClient);
  ASSERT_TRUE(value) << httplib::to_string(value.error());
  ASSERT_EQ(value->status, 200) << value->body;
  auto list = json(value);
  ASSERT_EQ(list["items"].size(), 1u) << value->body;
  EXPECT_EQ(list["items"][0]["value"], "42");

  auto all = get("/apis", &pki().frontProxyClient);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200) << all->body;
  EXPECT_EQ(json(all).value("kind", ""), "APIGroupList");
}

TEST_F(AdapterServerTest, EncodedStarQueryAsTheHpaSendsIt) {
  startServer();
  // The HPA sends `*` as %2A and the selector URL-encoded.
  auto r =
      get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/%2A/"
          "governor_latency_p95_seconds?labelSelector=app%3Dweb",
          &pki().frontProxyClient);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200) << r->body;
  auto body = json(r);
  ASSERT_EQ(body["items"].size(), 1u) << r->body;
  EXPECT_EQ(body["items"][0]["describedObject"]["name"], "web");
  EXPECT_EQ(body["items"][0]["value"], "250m");
}

TEST_F(AdapterServerTest, NoClientCertificateIsUnauthorizedWhateverTheHeadersSay) {
  startServer();
  expectUnauthorized(get(kDiscovery, nullptr), "no client certificate");
  expectUnauthorized(get(kCheckout, nullptr), "no client certificate");
  expectUnauthorized(get("/apis", nullptr), "no client certificate");
}

TEST_F(AdapterServerTest, ClientCertificateFromAnotherCaIsUnauthorized) {
  startServer();
  expectUnauthorized(get(kDiscovery, &pki().wrongCaClient), "not signed by the request-header CA");
  expectUnauthorized(get(kCheckout, &pki().wrongCaClient), "not signed by the request-header CA");
}

TEST_F(AdapterServerTest, ClientCertificateWithOtherCnIsUnauthorized) {
  startServer();
  expectUnauthorized(get(kDiscovery, &pki().intruder), "intruder");
  expectUnauthorized(get(kCheckout, &pki().intruder), "intruder");
}

TEST_F(AdapterServerTest, FrontProxyCertificateWithoutUserIsUnauthorized) {
  startServer();
  expectUnauthorized(get(kDiscovery, &pki().frontProxyClient, {}), "no user");
  expectUnauthorized(get(kCheckout, &pki().frontProxyClient, {{"X-Remote-Group", "system:masters"}}), "no user");
}

// An empty allowed-names list accepts any CN the request-header CA signed, and still no
// other CA's.
TEST_F(AdapterServerTest, EmptyAllowedNamesAcceptsAnyCnOfTheCa) {
  FrontProxyConfig config;
  config.clientCaPem = certPem(pki().frontProxyCa);
  auto a = Authenticator::create(config);
  ASSERT_TRUE(a) << a.error().what();
  auth = std::move(*a);
  startServer();
  auto intruder = get(kDiscovery, &pki().intruder);
  ASSERT_TRUE(intruder) << httplib::to_string(intruder.error());
  EXPECT_EQ(intruder->status, 200) << intruder->body;
  expectUnauthorized(get(kDiscovery, &pki().wrongCaClient), "not signed by the request-header CA");
}

// The CA itself presented as a client certificate is not a front-proxy client.
TEST_F(AdapterServerTest, CaCertificateAsClientIsUnauthorized) {
  startServer();
  auto r = get(kDiscovery, &pki().frontProxyCa);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 401) << r->body;
}

// A front-proxy CA rotation as the kube-apiserver makes it: the ConfigMap's bundle gains
// the new CA, later loses the old one. Requests follow it without a restart.
TEST_F(AdapterServerTest, ARotatedRequestHeaderCaInTheConfigMapIsTrustedWithoutARestart) {
  const Pair newCa = makeCert("front-proxy-ca-2", 10, Role::CA);
  const Pair newClient = makeCert("front-proxy-client", 11, Role::Client, &newCa);
  std::mutex mu;
  std::string bundle = certPem(pki().frontProxyCa);
  testing::LocalServer api;
  api.server().Get("/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication",
                   [&](const httplib::Request&, httplib::Response& res) {
                     std::lock_guard lock(mu);
                     nlohmann::json cm = {{"data",
                                           {{"requestheader-client-ca-file", bundle},
                                            {"requestheader-allowed-names", R"(["front-proxy-client"])"}}}};
                     res.set_content(cm.dump(), "application/json");
                   });
  api.start();
  kube::Config config;
  config.server = api.url();
  auto client = std::move(kube::Client::create(config)).value();
  startServer();
  auto status = [&](const Pair& cert) {
    auto r = get(kDiscovery, &cert);
    return r ? r->status : 0;
  };
  auto eventually = [](const std::function<bool()>& done) {
    for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  // Before the reloader's thread: cpp-httplib's client sets up its function-local statics
  // on first use, and TSan, which cannot see the uninstrumented library's guard, would take
  // this thread's later reads of the reloader's setup for a race.
  EXPECT_EQ(status(pki().frontProxyClient), 200);
  EXPECT_EQ(status(newClient), 401);
  FrontProxyReloader reloader(
      *auth, [&] { return frontProxyFromCluster(*client); }, 50ms);
  {
    std::lock_guard lock(mu);
    bundle += certPem(newCa);
  }
  EXPECT_TRUE(eventually([&] { return status(newClient) == 200; })) << "the new CA is trusted";
  EXPECT_EQ(status(pki().frontProxyClient), 200) << "and the old one still, while the bundle holds both";
  {
    std::lock_guard lock(mu);
    bundle = certPem(newCa);
  }
  EXPECT_TRUE(eventually([&] { return status(pki().frontProxyClient) == 401; })) << "the removed CA is refused";
  EXPECT_EQ(status(newClient), 200);
}

// ---------------------------------------------------------------------------------------
// Authorization

// alice as the front proxy names her: two groups, extras with an escaped key.
const httplib::Headers kAlice = {{"X-Remote-User", "alice"},
                                 {"X-Remote-Group", "dev"},
                                 {"X-Remote-Group", "system:authenticated"},
                                 {"X-Remote-Extra-Scopes", "read"},
                                 {"x-remote-extra-scopes", "write"},
                                 {"X-Remote-Extra-Authentication.kubernetes.io%2fPod-Name", "web-1"}};

// With --requestheader-client-ca-file the CA comes from that file, read on each call, and
// --requestheader-allowed-names are the names allowed; the cluster is not asked.
TEST_F(AdapterServerTest, TheFlagsFrontProxyComesFromTheCaFileAndTheAllowedNames) {
  auto d = tempDir();
  writeFile(d / "ca.crt", certPem(pki().frontProxyCa));
  kube::Config config;
  config.server = "http://127.0.0.1:1";
  auto client = std::move(kube::Client::create(config)).value();
  auto c = frontProxyFromFlags(*client, (d / "ca.crt").string(), "front-proxy-client,,other");
  ASSERT_TRUE(c) << c.error().what();
  EXPECT_EQ(c->clientCaPem, certPem(pki().frontProxyCa));
  EXPECT_EQ(c->allowedNames, (std::vector<std::string>{"front-proxy-client", "other"}));
  auto missing = frontProxyFromFlags(*client, (d / "none.crt").string(), "");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().what().find("--requestheader-client-ca-file"), std::string::npos) << missing.error().what();
}

TEST_F(AdapterServerTest, MetricsAreServedWhenTheReviewAllowsThem) {
  startServer();
  auto r = get(kCheckout, &pki().frontProxyClient, kAlice);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(reviews().size(), 1u);
  EXPECT_EQ(reviews()[0]["spec"], nlohmann::json::parse(R"({
    "user": "alice", "groups": ["dev", "system:authenticated"],
    "extra": {"scopes": ["read", "write"], "authentication.kubernetes.io/pod-name": ["web-1"]},
    "resourceAttributes": {"verb": "list", "group": "external.metrics.k8s.io", "version": "v1beta1",
                           "namespace": "shop", "resource": "governor_queue_backlog", "subresource": "",
                           "name": ""}})"))
      << reviews()[0].dump(2);
  ASSERT_EQ(get(kCheckout, &pki().frontProxyClient, kAlice)->status, 200);
  EXPECT_EQ(reviews().size(), 1u) << "the second request must reuse the first answer";
}

TEST_F(AdapterServerTest, DeniedIsForbiddenWithAStatus) {
  allow = false;
  startServer();
  auto r = get(kCheckout, &pki().frontProxyClient, kAlice);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 403) << r->body;
  auto body = json(r);
  EXPECT_EQ(body.value("kind", ""), "Status") << r->body;
  EXPECT_EQ(body.value("reason", ""), "Forbidden") << r->body;
  EXPECT_EQ(body.value("code", 0), 403) << r->body;
  EXPECT_EQ(body.value("message", ""),
            "governor_queue_backlog.external.metrics.k8s.io is forbidden: User \"alice\" cannot list resource "
            "\"governor_queue_backlog\" in API group \"external.metrics.k8s.io\" in the namespace \"shop\"");
  EXPECT_EQ(r->body.find("42"), std::string::npos) << "a value leaked: " << r->body;
}

TEST_F(AdapterServerTest, AFailedReviewIsServiceUnavailableNeverAValue) {
  reviewFails = true;
  startServer();
  auto r = get(kCheckout, &pki().frontProxyClient, kAlice);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(json(r).value("reason", ""), "ServiceUnavailable") << r->body;
  EXPECT_NE(json(r).value("message", "").find("authorization is unavailable"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("42"), std::string::npos) << "a value leaked: " << r->body;
}

TEST_F(AdapterServerTest, DiscoveryAndSystemMastersNeedNoReview) {
  allow = false;
  startServer();
  for (const char* path : {"/apis", "/apis/external.metrics.k8s.io", kDiscovery}) {
    auto r = get(path, &pki().frontProxyClient, kAlice);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  }
  EXPECT_EQ(get(kCheckout, &pki().frontProxyClient)->status, 200);  // system:masters
  EXPECT_TRUE(reviews().empty());
}

// ---------------------------------------------------------------------------------------
// Open endpoints

TEST_F(AdapterServerTest, HealthAndOpenApiNeedNoCertificate) {
  startServer();
  for (const char* path : {"/healthz", "/livez"}) {
    auto r = get(path, nullptr, {});
    ASSERT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, "ok") << path;
  }
  auto v2 = get("/openapi/v2", nullptr, {});
  ASSERT_TRUE(v2) << httplib::to_string(v2.error());
  EXPECT_EQ(v2->status, 200);
  auto doc = json(v2);
  ASSERT_FALSE(doc.is_discarded()) << v2->body;
  EXPECT_EQ(doc.value("swagger", ""), "2.0") << v2->body;
  EXPECT_TRUE(doc.contains("info") && doc.contains("paths")) << v2->body;

  auto v3 = get("/openapi/v3", nullptr, {});
  ASSERT_TRUE(v3) << httplib::to_string(v3.error());
  EXPECT_EQ(v3->status, 200);
  auto index = json(v3);
  ASSERT_FALSE(index.is_discarded()) << v3->body;
  ASSERT_TRUE(index["paths"].contains("apis/external.metrics.k8s.io/v1beta1")) << v3->body;
  std::string url = index["paths"]["apis/external.metrics.k8s.io/v1beta1"]["serverRelativeURL"];
  auto group = get(url, nullptr, {});
  ASSERT_TRUE(group) << httplib::to_string(group.error());
  EXPECT_EQ(group->status, 200) << url;
  auto groupDoc = json(group);
  ASSERT_FALSE(groupDoc.is_discarded()) << group->body;
  EXPECT_EQ(groupDoc.value("openapi", "").substr(0, 2), "3.") << group->body;

  // Open endpoints stay open with a certificate too.
  auto withCert = get("/healthz", &pki().intruder, {});
  ASSERT_TRUE(withCert);
  EXPECT_EQ(withCert->status, 200);
}

TEST_F(AdapterServerTest, ReadyzFollowsTheReadyFunction) {
  startServer();
  auto notReady = get("/readyz", nullptr, {});
  ASSERT_TRUE(notReady) << httplib::to_string(notReady.error());
  EXPECT_EQ(notReady->status, 503) << notReady->body;
  ready = true;
  auto nowReady = get("/readyz", nullptr, {});
  ASSERT_TRUE(nowReady) << httplib::to_string(nowReady.error());
  EXPECT_EQ(nowReady->status, 200) << nowReady->body;
  ready = false;
  auto again = get("/readyz", nullptr, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 503);
}

TEST_F(AdapterServerTest, ProbesHaveAPlainHttpPortOfTheirOwnThatServesNothingElse) {
  startServer();
  ASSERT_NE(server->healthPort(), server->port());
  httplib::Client probes("127.0.0.1", server->healthPort());
  for (const char* path : {"/healthz", "/livez"}) {
    auto r = probes.Get(path);
    ASSERT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << path;
  }
  EXPECT_EQ(probes.Get("/readyz")->status, 503);
  ready = true;
  EXPECT_EQ(probes.Get("/readyz")->status, 200);
  for (const char* path : {"/metrics", kCheckout, "/openapi/v2"}) EXPECT_EQ(probes.Get(path)->status, 404) << path;
}

// governor_adapter_requests_total samples from the exposition text, keyed by their labels
// ("code=200,path=discovery").
std::map<std::string, double> requestCounts(const std::string& text) {
  std::map<std::string, double> out;
  std::regex line(R"(^governor_adapter_requests_total\{([^}]*)\} (\S+))");
  std::regex label(R"re((\w+)="([^"]*)")re");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_search(l, m, line)) continue;
    std::map<std::string, std::string> labels;
    std::string ls = m[1];
    for (auto it = std::sregex_iterator(ls.begin(), ls.end(), label); it != std::sregex_iterator(); ++it) {
      labels[(*it)[1]] = (*it)[2];
    }
    out["code=" + labels["code"] + ",path=" + labels["path"]] = std::stod(m[2]);
  }
  return out;
}

TEST_F(AdapterServerTest, MetricsCountRequestsByCode) {
  startServer();
  ASSERT_EQ(get(kDiscovery, &pki().frontProxyClient)->status, 200);
  ASSERT_EQ(get(kDiscovery, nullptr)->status, 401);
  ASSERT_EQ(get(kDiscovery, &pki().intruder)->status, 401);
  ASSERT_EQ(get(kCheckout, &pki().frontProxyClient)->status, 200);
  ASSERT_EQ(get(kCheckout, &pki().frontProxyClient)->status, 200);
  ASSERT_EQ(
      get("/apis/external.metrics.k8s.io/v1beta1/namespaces/nowhere/governor_queue_backlog", &pki().frontProxyClient)
          ->status,
      404);
  ASSERT_EQ(get("/healthz", nullptr, {})->status, 200);

  auto r = get("/metrics", nullptr, {});
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("# TYPE governor_adapter_requests_total counter"), std::string::npos) << r->body;
  auto counts = requestCounts(r->body);
  EXPECT_EQ(counts, (std::map<std::string, double>{{"code=200,path=discovery", 1},
                                                   {"code=401,path=discovery", 2},
                                                   {"code=200,path=metric", 2},
                                                   {"code=404,path=metric", 1}}))
      << r->body;
  EXPECT_NE(r->body.find("governor_adapter_request_duration_seconds_count 6"), std::string::npos) << r->body;
}

// ---------------------------------------------------------------------------------------
// Serving certificate

TEST_F(AdapterServerTest, SelfSignedServingCertificateCoversLoopback) {
  startServer();
  auto c = servedCert(server->port());
  ASSERT_TRUE(c);
  EXPECT_EQ(subjectCn(c.get()), "governor-metrics-adapter");
  EXPECT_EQ(X509_check_host(c.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(c.get(), "127.0.0.1", 0), 1);
}

// The thread that looks at the certificate files stops mid-wait, not at its next look.
TEST_F(AdapterServerTest, StopsAtOnceBetweenLooksAtTheCertificateFiles) {
  auto d = tempDir();
  auto a = makeCert("adapter-a", 1001, Role::Server);
  writeFile(d / "tls.crt", certPem(a));
  writeFile(d / "tls.key", keyPem(a));
  ServerOptions options;
  options.certFile = (d / "tls.crt").string();
  options.keyFile = (d / "tls.key").string();
  options.certCheckInterval = 60s;
  startServer(options);
  auto stopped = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 1s * testing::kSlowdown);
}

TEST_F(AdapterServerTest, ServingCertificateIsReloadedWhenFilesChange) {
  auto d = tempDir();
  auto certFile = d / "tls.crt";
  auto keyFile = d / "tls.key";
  auto a = makeCert("adapter-a", 1001, Role::Server);
  auto b = makeCert("adapter-b", 1002, Role::Server);
  auto c = makeCert("adapter-c", 1003, Role::Server);
  writeFile(certFile, certPem(a));
  writeFile(keyFile, keyPem(a));

  ServerOptions options;
  options.certFile = certFile.string();
  options.keyFile = keyFile.string();
  options.certCheckInterval = 1s;
  startServer(options);
  ASSERT_EQ(servedSerial(server->port()), 1001);
  EXPECT_EQ(verifyServedChain(server->port(), a), X509_V_OK);
  auto served = servedCert(server->port());
  ASSERT_TRUE(served);
  EXPECT_EQ(subjectCn(served.get()), "adapter-a");

  // Rotate to B: served within a little over the check interval, without a restart.
  replaceFile(keyFile, keyPem(b));
  replaceFile(certFile, certPem(b));
  auto rotated = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1500ms);
  long serial = servedSerial(server->port());
  for (auto deadline = rotated + 3s; serial != 1002 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
    serial = servedSerial(server->port());
  }
  EXPECT_EQ(serial, 1002) << "not reloaded within 3 s with certCheckInterval 1 s";
  EXPECT_EQ(verifyServedChain(server->port(), b), X509_V_OK);
  // Requests still work over the new certificate.
  auto r = get(kDiscovery, &pki().frontProxyClient);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);

  // Half-written: the key of C in place, its certificate cut in the middle. B stays.
  std::string pemC = certPem(c);
  writeFile(keyFile, keyPem(c));
  writeFile(certFile, pemC.substr(0, pemC.size() / 2));
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(servedSerial(server->port()), 1002) << "a half-written certificate replaced the served one";
  auto during = get(kDiscovery, &pki().frontProxyClient);
  ASSERT_TRUE(during) << httplib::to_string(during.error());
  EXPECT_EQ(during->status, 200);

  // Garbage in both files: still B.
  writeFile(keyFile, "not a key\n");
  writeFile(certFile, "-----BEGIN CERTIFICATE-----\ngarbage\n");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(servedSerial(server->port()), 1002);

  // Once the rotation completes, C is served.
  writeFile(keyFile, keyPem(c));
  writeFile(certFile, pemC);
  std::this_thread::sleep_for(1500ms);
  serial = servedSerial(server->port());
  for (auto deadline = std::chrono::steady_clock::now() + 2s;
       serial != 1003 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
    serial = servedSerial(server->port());
  }
  EXPECT_EQ(serial, 1003);
}

// tls.crt as cert-manager and kubeadm write it for an intermediate-issued certificate:
// the leaf followed by its issuer. Clients that trust only the root (the APIService's
// caBundle) need the intermediate in the handshake.
TEST_F(AdapterServerTest, ServingCertificateChainIsSentWhole) {
  auto d = tempDir();
  auto root = makeCert("serving-root", 3001, Role::CA);
  auto intermediate = makeCert("serving-intermediate", 3002, Role::CA, &root);
  auto leaf = makeCert("adapter", 3003, Role::Server, &intermediate);
  writeFile(d / "tls.crt", certPem(leaf) + certPem(intermediate));
  writeFile(d / "tls.key", keyPem(leaf));
  ServerOptions options;
  options.certFile = (d / "tls.crt").string();
  options.keyFile = (d / "tls.key").string();
  startServer(options);
  ASSERT_EQ(servedSerial(server->port()), 3003);
  long result = verifyServedChain(server->port(), root);
  EXPECT_EQ(result, X509_V_OK) << "verify result " << result << ": "
                               << X509_verify_cert_error_string(result < 0 ? X509_V_ERR_UNSPECIFIED : result);
}

TEST_F(AdapterServerTest, MismatchedRotationKeepsTheOldPair) {
  auto d = tempDir();
  auto certFile = d / "tls.crt";
  auto keyFile = d / "tls.key";
  auto a = makeCert("adapter-a", 2001, Role::Server);
  auto b = makeCert("adapter-b", 2002, Role::Server);
  writeFile(certFile, certPem(a));
  writeFile(keyFile, keyPem(a));
  ServerOptions options;
  options.certFile = certFile.string();
  options.keyFile = keyFile.string();
  options.certCheckInterval = 1s;
  startServer(options);
  ASSERT_EQ(servedSerial(server->port()), 2001);

  // Only the certificate has been updated so far: the key does not match it.
  replaceFile(certFile, certPem(b));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(servedSerial(server->port()), 2001);
  replaceFile(keyFile, keyPem(b));
  std::this_thread::sleep_for(1500ms);
  long serial = servedSerial(server->port());
  for (auto deadline = std::chrono::steady_clock::now() + 2s;
       serial != 2002 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
    serial = servedSerial(server->port());
  }
  EXPECT_EQ(serial, 2002);
}

TEST_F(AdapterServerTest, KeepAliveConnectionsAnswerEveryRequest) {
  startServer();
  ready = true;
  auto good = client(&pki().frontProxyClient);
  good->set_keep_alive(true);
  auto bad = client(&pki().wrongCaClient);
  bad->set_keep_alive(true);
  httplib::Headers proxy{{"X-Remote-User", "system:kube-aggregator"}};
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    auto ok = good->Get(kCheckout, proxy);
    ASSERT_TRUE(ok) << httplib::to_string(ok.error());
    EXPECT_EQ(ok->status, 200) << ok->body;
    auto refused = bad->Get(kCheckout, proxy);
    ASSERT_TRUE(refused) << httplib::to_string(refused.error());
    EXPECT_EQ(refused->status, 401) << refused->body;
    auto probe = bad->Get("/readyz");
    ASSERT_TRUE(probe) << httplib::to_string(probe.error());
    EXPECT_EQ(probe->status, 200);
  }
}

// ---------------------------------------------------------------------------------------
// Abuse from anyone who reaches the port: bounded before it is read, no starvation, no old TLS

constexpr long kMiB = 1 << 20;

TEST_F(AdapterServerTest, AGzipPostToHealthzIsRefusedWithoutGrowingMemory) {
  startServer();
  auto bomb = testing::gzipBomb(256 * kMiB);
  testing::PeakMemory memory;
  auto r = client(nullptr)->Post("/healthz", {{"Content-Encoding", "gzip"}}, bomb, "application/octet-stream");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_LT(memory.growth(), 8 * kMiB) << "the body must never be decoded";
  EXPECT_EQ(get("/healthz", nullptr, {})->status, 200);
}

TEST_F(AdapterServerTest, ARequestLineWithoutEndIsCutOffWithoutGrowingMemory) {
  startServer();
  testing::PeakMemory memory;
  testing::RawClient c(server->port(), {});
  ASSERT_TRUE(c.handshaken());
  c.send("GET /");
  EXPECT_LT(c.flood(96 * kMiB, 'a'), size_t{16 * kMiB}) << "the server must stop reading long before 96 MiB";
  EXPECT_LT(memory.growth(), 8 * kMiB);
}

TEST_F(AdapterServerTest, OnlyTls12AndLaterWithGoDefaultCipherSuites) {
  startServer();
  int port = server->port();
  EXPECT_FALSE(testing::RawClient(port, {.maxVersion = TLS1_1_VERSION}).handshaken()) << "TLS 1.1";
  EXPECT_FALSE(testing::RawClient(port, {.maxVersion = TLS1_2_VERSION, .ciphers = "AES128-SHA"}).handshaken())
      << "RSA key exchange with CBC";
  EXPECT_FALSE(testing::RawClient(port, {.maxVersion = TLS1_2_VERSION, .ciphers = "ECDHE-RSA-AES128-SHA"}).handshaken())
      << "CBC with SHA-1";
  EXPECT_TRUE(
      testing::RawClient(port, {.maxVersion = TLS1_2_VERSION, .ciphers = "ECDHE-RSA-AES128-GCM-SHA256"}).handshaken());
  EXPECT_TRUE(testing::RawClient(port, {.minVersion = TLS1_3_VERSION}).handshaken());
}

// 32 connections sending one byte of a ClientHello every 2 s (the reported attack): the
// kubelet's probes and the HPA's requests still answer at once, and the slow clients are
// cut at the request deadline.
TEST_F(AdapterServerTest, SlowClientsStarveNeitherProbesNorTheHpa) {
  ServerOptions options;
  options.requestTimeout = 3s;
  startServer(options);
  ready = true;
  testing::Trickle slow(server->port(), 32, 2s);
  std::this_thread::sleep_for(500ms);
  httplib::Client probes("127.0.0.1", server->healthPort());
  probes.set_read_timeout(2, 0);
  auto hpa = client(&pki().frontProxyClient);
  int rounds = 0;
  std::chrono::steady_clock::duration slowestProbe{}, slowestMetric{};
  for (auto end = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < end; ++rounds) {
    auto t0 = std::chrono::steady_clock::now();
    auto probe = probes.Get("/readyz");
    auto t1 = std::chrono::steady_clock::now();
    auto metric = hpa->Get(kCheckout, {{"X-Remote-User", "system:kube-aggregator"}});
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_TRUE(probe) << httplib::to_string(probe.error());
    EXPECT_EQ(probe->status, 200);
    ASSERT_TRUE(metric) << httplib::to_string(metric.error());
    EXPECT_EQ(metric->status, 200) << metric->body;
    slowestProbe = std::max(slowestProbe, t1 - t0);
    slowestMetric = std::max(slowestMetric, t2 - t1);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(rounds, 5);
  EXPECT_LT(slowestProbe, 500ms * testing::kSlowdown);
  EXPECT_LT(slowestMetric, 500ms * testing::kSlowdown);
  std::cout << "under 32 slow clients: slowest probe "
            << std::chrono::duration<double, std::milli>(slowestProbe).count() << " ms, slowest metric "
            << std::chrono::duration<double, std::milli>(slowestMetric).count() << " ms\n";
  for (auto end = std::chrono::steady_clock::now() + 5s;
       slow.closedByServer() < 32 && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(slow.closedByServer(), 32) << "each slow client is cut at the 3 s request deadline";
}

// 1,000 connections that never send a byte, opened as fast as one thread can, many times
// the cap (128): each new one takes the place of the one that has waited longest, so the
// HPA's requests, which send their handshake and head at once, are answered all along.
TEST_F(AdapterServerTest, AFloodOfIdleConnectionsDoesNotStarveTheHpa) {
  startServer();
  ready = true;
  std::atomic<int> opened{0};
  std::thread flood([&] {
    std::deque<std::unique_ptr<testing::RawClient>> open;
    for (; opened < 1000; ++opened) {
      open.push_back(std::make_unique<testing::RawClient>(server->port()));
      if (open.size() > 400) open.pop_front();  // the client's own descriptors are few
    }
  });
  auto hpa = client(&pki().frontProxyClient);
  int rounds = 0;
  std::chrono::steady_clock::duration slowest{};
  const auto started = std::chrono::steady_clock::now();
  for (; opened < 1000 || std::chrono::steady_clock::now() - started < 2s; ++rounds) {
    auto t0 = std::chrono::steady_clock::now();
    auto metric = hpa->Get(kCheckout, {{"X-Remote-User", "system:kube-aggregator"}});
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    EXPECT_TRUE(metric && metric->status == 200) << (metric ? metric->body : httplib::to_string(metric.error()));
    std::this_thread::sleep_for(100ms);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  flood.join();
  EXPECT_GT(rounds, 5);
  EXPECT_LT(slowest, 500ms * testing::kSlowdown);
  std::cout << "under a flood of 1000 idle connections in " << took << " s: " << rounds << " metric requests, slowest "
            << std::chrono::duration<double, std::milli>(slowest).count() << " ms\n";
}

// Stopping a server right after start() must not hang: the destructor may run before the
// listening thread has entered its accept loop.
TEST_F(AdapterServerTest, DestroyingRightAfterStartReturns) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto d = tempDir();
  auto a = makeCert("adapter-a", 1, Role::Server);
  writeFile(d / "tls.crt", certPem(a));
  writeFile(d / "tls.key", keyPem(a));
  ServerOptions options;
  options.bindAddress = "127.0.0.1";
  options.port = 0;
  options.certFile = (d / "tls.crt").string();
  options.keyFile = (d / "tls.key").string();
  EXPECT_EXIT(
      {
        alarm(20);  // a hang ends the child with SIGALRM
        for (int i = 0; i < 100; ++i) {
          auto s = AdapterServer::start(options, api, *auth, *authorizer, std::make_shared<prometheus::Registry>(),
                                        [] { return true; });
          if (!s) std::_Exit(2);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---------------------------------------------------------------------------------------
// Start errors

TEST_F(AdapterServerTest, CertificateWithoutKeyIsAnErrorNamingTheFlags) {
  auto d = tempDir();
  auto a = makeCert("adapter-a", 1, Role::Server);
  writeFile(d / "tls.crt", certPem(a));
  writeFile(d / "tls.key", keyPem(a));
  for (auto [cert, key] :
       {std::pair{(d / "tls.crt").string(), std::string()}, std::pair{std::string(), (d / "tls.key").string()}}) {
    ServerOptions options;
    options.bindAddress = "127.0.0.1";
    options.port = 0;
    options.certFile = cert;
    options.keyFile = key;
    auto s = AdapterServer::start(options, api, *auth, *authorizer, std::make_shared<prometheus::Registry>(),
                                  [] { return true; });
    ASSERT_FALSE(s) << "started with cert '" << cert << "' and key '" << key << "'";
    auto message = s.error().what();
    EXPECT_NE(message.find("--tls-cert-file"), std::string::npos) << message;
    EXPECT_NE(message.find("--tls-private-key-file"), std::string::npos) << message;
  }
}

TEST_F(AdapterServerTest, UnreadableOrMismatchedFilesAreErrorsNamingTheFile) {
  auto d = tempDir();
  auto a = makeCert("adapter-a", 1, Role::Server);
  auto b = makeCert("adapter-b", 2, Role::Server);
  writeFile(d / "a.crt", certPem(a));
  writeFile(d / "b.key", keyPem(b));
  writeFile(d / "junk", "junk\n");
  struct Case {
    std::string cert, key, flag;
  };
  for (const auto& c : {Case{(d / "missing.crt").string(), (d / "b.key").string(), "--tls-cert-file"},
                        Case{(d / "a.crt").string(), (d / "missing.key").string(), "--tls-private-key-file"},
                        Case{(d / "junk").string(), (d / "b.key").string(), "--tls-cert-file"},
                        Case{(d / "a.crt").string(), (d / "junk").string(), "--tls-private-key-file"},
                        Case{(d / "a.crt").string(), (d / "b.key").string(), "does not match"}}) {
    ServerOptions options;
    options.bindAddress = "127.0.0.1";
    options.port = 0;
    options.certFile = c.cert;
    options.keyFile = c.key;
    auto s = AdapterServer::start(options, api, *auth, *authorizer, std::make_shared<prometheus::Registry>(),
                                  [] { return true; });
    ASSERT_FALSE(s) << c.cert << " " << c.key;
    EXPECT_NE(s.error().what().find(c.flag), std::string::npos) << s.error().what();
  }
}

TEST(AuthenticatorTest, RejectsACaBundleWithoutCertificates) {
  FrontProxyConfig config;
  config.clientCaPem = "not a certificate";
  EXPECT_FALSE(Authenticator::create(config));
}

}  // namespace
}  // namespace governor::adapter
