// REST over httplib: one pooled keep-alive connection per concurrent request, TLS
// material parsed once from the Config, every failure turned into an Error value.
#include "kube/client.h"

#include "kube/c_ptr.h"
#include "kube/host_port.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace governor::kube {
namespace {

std::string percentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class Query {
 public:
  Query& add(const std::string& key, const std::string& value) {
    if (!value.empty()) q_ += (q_.empty() ? "?" : "&") + key + "=" + percentEncode(value);
    return *this;
  }
  std::string str() const { return q_; }

 private:
  std::string q_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using BioPtr = CPtr<BIO, BIO_free>;

BioPtr memBio(const std::string& pem) { return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

std::string trimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The reason the API server would give, for answers that carry no Status.
std::string reasonForCode(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
  }
}

// How many times a 429 or 503 with Retry-After is tried again.
constexpr int kMaxRetries = 3;

// Retry-After in seconds, as the API server sends it (an HTTP date is not used there).
std::optional<std::chrono::seconds> retryAfter(const httplib::Response& res) {
  auto text = res.get_header_value("Retry-After");
  int seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

std::string describe(const std::string& method, const std::string& path) { return method + " " + path; }

}  // namespace

std::string Resource::path(const std::string& ns, const std::string& name) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) p += "/namespaces/" + ns;
  p += "/" + plural;
  if (!name.empty()) p += "/" + name;
  return p;
}

std::string stringField(const Json& object, const std::string& key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

namespace {
const Json& metadataOf(const Json& object) {
  static const Json none = Json::object();
  if (!object.is_object()) return none;
  const auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : none;
}
}  // namespace

std::string resourceVersionOf(const Json& object) { return stringField(metadataOf(object), "resourceVersion"); }

std::string objectKey(const Json& object) {
  const Json& md = metadataOf(object);
  std::string ns = stringField(md, "namespace");
  std::string name = stringField(md, "name");
  return ns.empty() ? name : ns + "/" + name;
}

Error errorFromResponse(int httpStatus, const std::string& body, const std::string& context) {
  Error err{Status{httpStatus, "", ""}, context};
  auto status = Json::parse(body, nullptr, false);
  if (status.is_object() && stringField(status, "kind") == "Status") {
    err.status.reason = stringField(status, "reason");
    err.status.message = stringField(status, "message");
  } else {
    // Not UTF-8 perhaps, or cut inside a character; the message goes into JSON later.
    err.status.message = utf8Safe(body.substr(0, 512));
  }
  if (err.status.reason.empty()) err.status.reason = reasonForCode(httpStatus);
  return err;
}

Result<WatchEvent> decodeWatchEvent(std::string_view line) {
  auto json = Json::parse(line, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return Error{Status{0, "InvalidResponse", "watch event is not JSON"}, ""};
  const auto type = json.find("type");
  const auto object = json.find("object");
  if (type == json.end() || !type->is_string()) {
    return Error{Status{0, "InvalidResponse", "watch event has no type"}, ""};
  }
  if (object == json.end() || !object->is_object()) {
    return Error{Status{0, "InvalidResponse", "watch event has no object"}, ""};
  }
  return WatchEvent{type->get<std::string>(), std::move(*object)};
}

Status watchErrorStatus(const Json& object) {
  if (!object.is_object()) return Status{};
  int code = 0;
  if (const auto it = object.find("code"); it != object.end() && it->is_number_integer()) {
    const auto value = it->get<int64_t>();
    if (value > 0 && value < 1000) code = static_cast<int>(value);
  }
  return Status{code, stringField(object, "reason"), stringField(object, "message")};
}

Result<ListPage> decodeListPage(const Json& body, const std::string& apiVersion) {
  auto invalid = [](const std::string& why) { return Error{Status{0, "InvalidResponse", why}, ""}; };
  if (!body.is_object()) return invalid("list response is not an object");
  ListPage page;
  const Json& md = metadataOf(body);
  page.resourceVersion = stringField(md, "resourceVersion");
  page.continueToken = stringField(md, "continue");
  auto kind = stringField(body, "kind");
  if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
  const auto items = body.find("items");
  if (items == body.end() || items->is_null()) return page;
  if (!items->is_array()) return invalid("list response's items is not an array");
  for (const Json& item : *items) {
    if (!item.is_object()) return invalid("list response has an item that is not an object");
    page.items.push_back(item);
    // Items of a list carry no kind or apiVersion; restore them so objects stand alone.
    if (!item.contains("kind")) page.items.back()["kind"] = kind;
    if (!item.contains("apiVersion")) page.items.back()["apiVersion"] = apiVersion;
  }
  return page;
}

std::vector<std::string> LineDecoder::feed(std::string_view data) {
  std::vector<std::string> lines;
  carry_.append(data);
  size_t start = 0;
  for (size_t nl; (nl = carry_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) lines.emplace_back(carry_, start, nl - start);
  }
  carry_.erase(0, start);
  return lines;
}

void WatchCancel::cancel() {
  cancelled_ = true;
  std::lock_guard lock(mu_);
  if (stopper_) stopper_();
}

void WatchCancel::attach(std::function<void()> stopper) {
  std::lock_guard lock(mu_);
  stopper_ = std::move(stopper);
}

void WatchCancel::detach() {
  std::lock_guard lock(mu_);
  stopper_ = nullptr;
}

// Parsed TLS material, and the certificate authority as a file for httplib: given a
// certificate store instead (set_ca_cert_store), httplib 0.11 also loads the system's roots
// into it on every connection, about 0.8 MiB each, and trusts them besides the cluster's
// CA. A memfd, so that no file system needs to be writable.
struct Client::Tls {
  CPtr<X509, X509_free> cert;
  CPtr<EVP_PKEY, EVP_PKEY_free> key;
  int caFd = -1;

  Tls() = default;
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;
  ~Tls() {
    if (caFd >= 0) close(caFd);
  }
  std::string caPath() const { return caFd < 0 ? "" : "/proc/self/fd/" + std::to_string(caFd); }
};

class Client::Pool {
 public:
  // `server` has passed urlHostPort (Client::create).
  Pool(const Config& config, const Tls& tls, const HostPort& server) : config_(config), tls_(tls) {
    https_ = config.server.rfind("https://", 0) == 0;
    host_ = server.host;
    port_ = server.port;
  }

  std::unique_ptr<httplib::ClientImpl> acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return connect();
  }

  void release(std::unique_ptr<httplib::ClientImpl> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

  std::unique_ptr<httplib::ClientImpl> connect() const {
    std::unique_ptr<httplib::ClientImpl> c;
    if (https_) {
      auto ssl = std::make_unique<httplib::SSLClient>(host_, port_, tls_.cert.get(), tls_.key.get());
      if (config_.insecureSkipTlsVerify) {
        ssl->enable_server_certificate_verification(false);
      } else if (tls_.caFd >= 0) {
        ssl->set_ca_cert_path(tls_.caPath());
      }
      c = std::move(ssl);
    } else {
      c = std::make_unique<httplib::ClientImpl>(host_, port_);
    }
    c->set_keep_alive(true);
    // httplib writes a request's headers and body separately: with Nagle on, the body waits
    // for the server's delayed ACK (about 40 ms per write).
    c->set_tcp_nodelay(true);
    c->set_connection_timeout(std::chrono::seconds(5));
    c->set_read_timeout(config_.timeout);
    c->set_write_timeout(config_.timeout);
    return c;
  }

 private:
  static constexpr size_t kMaxIdle = 8;
  const Config& config_;
  const Tls& tls_;
  bool https_ = true;
  std::string host_;
  int port_ = 443;
  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle_;
};

Result<std::unique_ptr<Client>> Client::create(const Config& config) {
  auto invalid = [](const std::string& msg) { return Error{Status{0, "Invalid", msg}, "kube client"}; };
  auto server = urlHostPort(config.server);
  if (!server) {
    return invalid("server \"" + config.server +
                   "\" must be an https:// or http:// URL with a host and a port from 1 to 65535");
  }
  auto tls = std::make_unique<Tls>();
  if (!config.caPem.empty()) {
    auto bio = memBio(config.caPem);
    CPtr<X509, X509_free> ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!ca) return invalid("certificate authority is not a PEM certificate");
    tls->caFd = memfd_create("governor-kube-ca", MFD_CLOEXEC);
    const auto& pem = config.caPem;
    if (tls->caFd < 0 || write(tls->caFd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size())) {
      return invalid(std::string("cannot keep the certificate authority in a memfd: ") + std::strerror(errno));
    }
  }
  if (!config.clientCertPem.empty() || !config.clientKeyPem.empty()) {
    auto certBio = memBio(config.clientCertPem);
    auto keyBio = memBio(config.clientKeyPem);
    tls->cert.reset(PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr));
    tls->key.reset(PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr));
    if (!tls->cert) return invalid("client certificate is not a PEM certificate");
    if (!tls->key) return invalid("client key is not a PEM private key");
  }
  return std::unique_ptr<Client>(new Client(config, std::move(tls)));
}

Client::Client(Config config, std::unique_ptr<Tls> tls)
    : config_(std::move(config)),
      tls_(std::move(tls)),
      limiter_(config_.qps, config_.burst),
      timeoutMs_(config_.timeout.count()) {
  config_.server = trimSlash(config_.server);
  pool_ = std::make_unique<Pool>(config_, *tls_, urlHostPort(config_.server).value_or(HostPort{}));
}

Client::~Client() = default;

std::string Client::bearerToken() const {
  if (!config_.tokenFile.empty()) {
    auto t = readFile(config_.tokenFile);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    if (!t.empty()) return t;
  }
  return config_.token;
}

Result<Json> Client::request(const std::string& method, const std::string& path, const std::string& body,
                             const std::string& contentType) {
  if (writesRefused_ && method != "GET") {
    return Error{Status{0, "WritesRefused", "this process no longer writes (it lost its lease, or it is stopping)"},
                 describe(method, path)};
  }
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = {{"Accept", "application/json"}, {"User-Agent", "governor/0.1"}};
  if (auto token = bearerToken(); !token.empty()) req.headers.emplace("Authorization", "Bearer " + token);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.headers.emplace("Content-Type", contentType);
    req.body = body;
  }
  const auto timeout = std::chrono::milliseconds(timeoutMs_.load());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  httplib::Response res;
  for (int attempt = 0;; ++attempt) {
    std::this_thread::sleep_for(limiter_.reserve());
    auto conn = pool_->acquire();
    // Each try gets what is left of the request's time, so that no wait outlasts it.
    auto send = [&]() -> std::optional<httplib::Error> {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds(0)) return httplib::Error::Read;
      conn->set_connection_timeout(std::min<std::chrono::milliseconds>(left, std::chrono::seconds(5)));
      conn->set_read_timeout(left);
      conn->set_write_timeout(left);
      res = httplib::Response();
      httplib::Error err = httplib::Error::Success;
      if (conn->send(req, res, err)) return std::nullopt;
      return err;
    };
    auto err = send();
    if (err) {
      // A pooled connection the server closed meanwhile fails at once; retry once fresh.
      conn = pool_->connect();
      err = send();
    }
    if (observer_) observer_(method, err ? 0 : res.status);
    if (err) {
      if (std::chrono::steady_clock::now() < deadline) {
        return Error{Status{0, "Unavailable", httplib::to_string(*err)}, describe(method, path)};
      }
      return Error{Status{0, "Timeout", "no answer within " + std::to_string(timeout.count()) + "ms"},
                   describe(method, path)};
    }
    pool_->release(std::move(conn));
    auto wait = retryAfter(res);
    if ((res.status != 429 && res.status != 503) || !wait || attempt == kMaxRetries ||
        std::chrono::steady_clock::now() + *wait >= deadline) {
      break;
    }
    std::this_thread::sleep_for(*wait);
  }
  if (res.status < 200 || res.status >= 300) {
    return errorFromResponse(res.status, res.body, describe(method, path));
  }
  if (res.body.empty()) return Json::object();
  auto json = Json::parse(res.body, nullptr, false);
  if (json.is_discarded()) {
    return Error{Status{res.status, "InvalidResponse", "response is not JSON"}, describe(method, path)};
  }
  return json;
}

Result<Json> Client::get(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  return request("GET", r.path(ns, name) + (subresource.empty() ? "" : "/" + subresource), "", "");
}

Result<ListPage> Client::listPage(const Resource& r, const std::string& ns, const ListOptions& opts) {
  Query q;
  q.add("labelSelector", opts.labelSelector)
      .add("fieldSelector", opts.fieldSelector)
      .add("resourceVersion", opts.resourceVersion)
      .add("limit", opts.limit > 0 ? std::to_string(opts.limit) : "")
      .add("continue", opts.continueToken);
  auto res = request("GET", r.path(ns) + q.str(), "", "");
  if (!res) return res.error();
  auto page = decodeListPage(*res, r.apiVersion());
  if (!page) return Error{page.error().status, describe("GET", r.path(ns) + q.str())};
  return page;
}

Result<ListPage> Client::list(const Resource& r, const std::string& ns, ListOptions opts, const ItemView& view) {
  ListPage all;
  bool restarted = false;
  for (;;) {
    auto page = listPage(r, ns, opts);
    if (!page) {
      if (page.error().isGone() && !opts.continueToken.empty() && !restarted) {
        restarted = true;
        opts.continueToken.clear();
        all = ListPage();
        continue;
      }
      return page.error();
    }
    for (auto& item : page->items) {
      if (view) item = view(std::move(item));
      if (!item.is_null()) all.items.push_back(std::move(item));
    }
    all.resourceVersion = page->resourceVersion;
    if (page->continueToken.empty()) return all;
    opts.continueToken = page->continueToken;
  }
}

Result<Json> Client::create(const Resource& r, const std::string& ns, const Json& object,
                            const std::string& fieldManager) {
  return request("POST", r.path(ns) + Query().add("fieldManager", fieldManager).str(), object.dump(),
                 "application/json");
}

Result<Json> Client::update(const Resource& r, const Json& object, const std::string& subresource) {
  const Json& md = metadataOf(object);
  auto path = r.path(stringField(md, "namespace"), stringField(md, "name"));
  return request("PUT", path + (subresource.empty() ? "" : "/" + subresource), object.dump(), "application/json");
}

Result<Json> Client::apply(const Resource& r, const std::string& ns, const std::string& name, const Json& object,
                           const ApplyOptions& opts) {
  Query q;
  q.add("fieldManager", opts.fieldManager).add("force", opts.force ? "true" : "");
  auto path = r.path(ns, name) + (opts.subresource.empty() ? "" : "/" + opts.subresource);
  // JSON is YAML, so the apply-patch+yaml content type takes the JSON text as is.
  return request("PATCH", path + q.str(), object.dump(), "application/apply-patch+yaml");
}

Result<Json> Client::mergePatch(const Resource& r, const std::string& ns, const std::string& name, const Json& patch,
                                const std::string& subresource) {
  auto path = r.path(ns, name) + (subresource.empty() ? "" : "/" + subresource);
  return request("PATCH", path, patch.dump(), "application/merge-patch+json");
}

Outcome Client::remove(const Resource& r, const std::string& ns, const std::string& name, Propagation propagation,
                       const std::string& uid) {
  static const char* names[] = {"Background", "Foreground", "Orphan"};
  Json body = {
      {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", names[static_cast<int>(propagation)]}};
  if (!uid.empty()) body["preconditions"] = {{"uid", uid}};
  auto res = request("DELETE", r.path(ns, name), body.dump(), "application/json");
  if (!res) return res.error();
  return Ok{};
}

Result<Json> Client::raw(const std::string& method, const std::string& path, const std::string& body,
                         const std::string& contentType) {
  return request(method, path, body, contentType);
}

Outcome Client::watch(const Resource& r, const std::string& ns, const WatchOptions& opts, const WatchHandler& handler,
                      WatchCancel* cancel) {
  Query q;
  q.add("watch", "1")
      .add("resourceVersion", opts.resourceVersion)
      .add("labelSelector", opts.labelSelector)
      .add("fieldSelector", opts.fieldSelector)
      .add("allowWatchBookmarks", opts.allowBookmarks ? "true" : "")
      .add("timeoutSeconds", std::to_string(opts.timeoutSeconds));
  auto path = r.path(ns) + q.str();
  std::this_thread::sleep_for(limiter_.reserve());
  auto conn = pool_->connect();
  conn->set_keep_alive(false);
  // A silent stream is broken: bookmarks arrive about every minute, the timeout ends it.
  conn->set_read_timeout(std::chrono::seconds(opts.timeoutSeconds + 70));
  if (cancel) {
    cancel->attach([c = conn.get()] { c->stop(); });
    if (cancel->cancelled()) {
      cancel->detach();
      return Ok{};
    }
  }

  httplib::Request req;
  req.method = "GET";
  req.path = path;
  req.headers = {{"Accept", "application/json"}, {"User-Agent", "governor/0.1"}};
  if (auto token = bearerToken(); !token.empty()) req.headers.emplace("Authorization", "Bearer " + token);
  int status = 0;
  std::string errorBody;
  LineDecoder decoder;
  bool stoppedByHandler = false;
  std::optional<Error> decodeError;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    if (status < 200 || status >= 300) {
      errorBody.append(data, len);
      return true;
    }
    for (auto& line : decoder.feed({data, len})) {
      auto ev = decodeWatchEvent(line);
      if (!ev) {
        decodeError = Error{Status{status, "InvalidResponse", ev.error().status.message}, describe("WATCH", path)};
        return false;
      }
      if (!handler(*ev)) {
        stoppedByHandler = true;
        return false;
      }
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool sent = conn->send(req, res, err);
  if (cancel) cancel->detach();
  if (observer_) observer_("WATCH", status);
  if (decodeError) return *decodeError;
  if (stoppedByHandler || (cancel && cancel->cancelled())) return Ok{};
  if (status != 0 && (status < 200 || status >= 300)) {
    return errorFromResponse(status, errorBody, describe("WATCH", path));
  }
  if (!sent) return Error{Status{0, "Unavailable", httplib::to_string(err)}, describe("WATCH", path)};
  return Ok{};
}

}  // namespace governor::kube
