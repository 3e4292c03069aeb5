// REST access to the Kubernetes API over HTTPS with keep-alive: CRUD, server-side apply,
// merge patch, the status subresource and watch streams. Thread-safe: each request takes
// a connection from a small pool, so concurrent callers never share a socket. Requests
// pass a client-side token bucket (Config::qps, burst); a 429 or 503 with Retry-After is
// retried after that wait, a few times, within the request's timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/config.h"
#include "kube/rate_limit.h"
#include "kube/result.h"

namespace governor::kube {

using Json = nlohmann::json;

// A resource type: "apps/v1 deployments". The core group is "".
struct Resource {
  std::string group;
  std::string version;
  std::string plural;
  bool namespaced = true;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "/api/v1/namespaces/ns/configmaps/name"; ns is ignored for cluster-scoped types and
  // may be empty (all namespaces) for collections.
  std::string path(const std::string& ns, const std::string& name = "") const;
};

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;  // "" = most recent (quorum read), "0" = any (API cache)
  int64_t limit = 0;            // page size; 0 = unpaged
  std::string continueToken;
};

struct ListPage {
  std::vector<Json> items;
  std::string resourceVersion;
  std::string continueToken;  // empty on the last page
};

struct ApplyOptions {
  std::string fieldManager;
  bool force = false;
  std::string subresource;  // "" or "status"
};

enum class Propagation { Background, Foreground, Orphan };

// One event of a watch stream. For ERROR, `object` is a metav1.Status.
struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Json object;
};

struct WatchOptions {
  std::string resourceVersion;
  std::string labelSelector;
  std::string fieldSelector;
  int timeoutSeconds = 300;  // the server ends the stream after this
  bool allowBookmarks = true;
};

// Returns false to stop the watch.
using WatchHandler = std::function<bool(const WatchEvent&)>;

// Cancels a running watch from another thread; serves one watch at a time.
class WatchCancel {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Arms it again for the next watch (only while no watch is using it).
  void reset() { cancelled_ = false; }

 private:
  friend class Client;
  void attach(std::function<void()> stopper);
  void detach();
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::function<void()> stopper_;
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> create(const Config& config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }

  // Told about every finished request: its HTTP method, or WATCH for a watch stream, and
  // the HTTP status (0 when no answer came). For metrics; set before use.
  using RequestObserver = std::function<void(const std::string& verb, int code)>;
  void setRequestObserver(RequestObserver observer) { observer_ = std::move(observer); }

  // How long each request may take from now on, Retry-After waits included (Config::timeout
  // at first): a leader elector bounds each renewal by the time left before its deadline.
  void setTimeout(std::chrono::milliseconds timeout) { timeoutMs_ = timeout.count(); }

  // From now on every request but GET fails at once without being sent: a leader that lost
  // its lease must not write another object, even one a worker is in the middle of.
  void refuseWrites() { writesRefused_ = true; }

  Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "");
  Result<ListPage> listPage(const Resource& r, const std::string& ns, const ListOptions& opts);
  // Follows continue tokens to the end; restarts once from the beginning when a token
  // expires (410) between pages, as the API concepts page advises. With `view`, each item
  // is replaced by view(item) as its page arrives, and dropped when that is null: a list of
  // many large objects is never held whole (an informer's transform).
  using ItemView = std::function<Json(Json)>;
  Result<ListPage> list(const Resource& r, const std::string& ns, ListOptions opts = {},
                        const ItemView& view = nullptr);
  // POST: fails with 409 AlreadyExists when an object of that name exists, whoever made it.
  Result<Json> create(const Resource& r, const std::string& ns, const Json& object,
                      const std::string& fieldManager = "");
  // PUT: carries metadata.resourceVersion, so a stale one answers 409 Conflict.
  Result<Json> update(const Resource& r, const Json& object, const std::string& subresource = "");
  Result<Json> apply(const Resource& r, const std::string& ns, const std::string& name, const Json& object,
                     const ApplyOptions& opts);
  Result<Json> mergePatch(const Resource& r, const std::string& ns, const std::string& name, const Json& patch,
                          const std::string& subresource = "");
  // With `uid`, deletes only that object: another of the same name answers 409 Conflict.
  Outcome remove(const Resource& r, const std::string& ns, const std::string& name,
                 Propagation propagation = Propagation::Background, const std::string& uid = "");
  // Any path, for what the typed calls do not cover (discovery, aggregated APIs).
  Result<Json> raw(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& contentType = "application/json");

  // Streams events to `handler` until the server closes the stream (Ok), the handler
  // returns false or `cancel` fires (Ok), or the request fails (Error). An ERROR event
  // is passed to the handler like any other.
  Outcome watch(const Resource& r, const std::string& ns, const WatchOptions& opts, const WatchHandler& handler,
                WatchCancel* cancel = nullptr);

 private:
  struct Tls;
  class Pool;
  Client(Config config, std::unique_ptr<Tls> tls);
  Result<Json> request(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& contentType);
  std::string bearerToken() const;

  Config config_;
  std::unique_ptr<Tls> tls_;
  std::unique_ptr<Pool> pool_;
  RequestObserver observer_;
  TokenBucket limiter_;
  std::atomic<int64_t> timeoutMs_;
  std::atomic<bool> writesRefused_{false};
};

// Splits a chunked watch body into complete lines across arbitrary chunk boundaries.
class LineDecoder {
 public:
  // Appends `data` and returns every line it completed (without the newline).
  std::vector<std::string> feed(std::string_view data);
  bool hasPartial() const { return !carry_.empty(); }

 private:
  std::string carry_;
};

// Builds the Error for a non-2xx answer from its body (a metav1.Status when the server
// sent one) and the request's description.
Error errorFromResponse(int httpStatus, const std::string& body, const std::string& context);

// "namespace/name", or "name" for cluster-scoped objects.
std::string objectKey(const Json& object);

// Reading JSON that came from outside without exceptions (json::value() throws when a field
// has another type than its default, and const operator[] of a missing key is undefined):
// the string at `key` of `object`; "" when `object` is no object or the field is no string.
std::string stringField(const Json& object, const std::string& key);
// metadata.resourceVersion of an object; "" when there is none.
std::string resourceVersionOf(const Json& object);

// The pure steps of reading the API server's answers, for tests and the fuzzer:
// One line of a watch stream: an object with a string "type" and an object "object"; an
// error (InvalidResponse) for anything else.
Result<WatchEvent> decodeWatchEvent(std::string_view line);
// The metav1.Status of an ERROR watch event (code 0 when it has none).
Status watchErrorStatus(const Json& object);
// A list response (a ...List object): its items, each an object, given `kind` without "List"
// and `apiVersion` where they lack them (as items of a list do); an error (InvalidResponse)
// when the body or an item is not an object or items is not an array.
Result<ListPage> decodeListPage(const Json& body, const std::string& apiVersion);

}  // namespace governor::kube
