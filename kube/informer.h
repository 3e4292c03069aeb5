// An informer keeps a thread-safe local copy of one resource type (list+watch through a
// Reflector), tells handlers what changed, and resyncs them periodically. `Informers`
// shares one informer per resource, namespace and selector among its users.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "kube/watch.h"

namespace governor::kube {

struct EventHandler {
  std::function<void(const Json& obj)> onAdd;
  std::function<void(const Json& oldObj, const Json& newObj)> onUpdate;
  std::function<void(const Json& obj)> onDelete;
};

// What the store keeps of an object, given the whole of it (as client-go's SetTransform):
// an informer whose readers use a few fields of a large object need not hold the rest. It
// keeps metadata.name and namespace, the store's key.
using Transform = std::function<Json(Json object)>;
// The value an index files an object under (Informer::setIndex); "" files it under none.
using IndexFunc = std::function<std::string(const Json& object)>;

struct InformerOptions {
  ReflectorOptions reflector;
  // Every period, onUpdate(obj, obj) for each object; zero turns resync off.
  std::chrono::milliseconds resyncPeriod{0};
  // Whether the objects of a namespace are kept (an operator shard's namespaces,
  // operator/shard.h); those of the others are neither stored nor told about, so that a
  // shard's memory grows with its share. Unset: every namespace. Cluster-scoped objects are
  // always kept.
  std::function<bool(const std::string& ns)> keepNamespace;
};

class Informer : private ReflectorSink {
 public:
  Informer(Client& client, Resource resource, std::string ns, InformerOptions opts = {});
  ~Informer() override;
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after the first sync are told about existing objects as adds.
  void addHandler(const EventHandler& handler);
  // Before start(): the store and the handlers see transform(object) instead of the object.
  // Off by default: the whole object.
  void setTransform(Transform transform);
  // Before start(): the store keeps each object as MessagePack bytes instead of a tree, a
  // fifth to a seventh of the memory, and parses it again on every read, event and
  // resync. For informers read a few objects at a time (get, byIndex): list() parses all.
  void setCompact(bool compact);
  // Before start(): byIndex(value) gives the objects `index` files under value.
  void setIndex(IndexFunc index);
  // Before start(): the items a list asks for per page (default 500). Each page is held
  // whole until its items are transformed: smaller pages for large objects.
  void setPageSize(int64_t pageSize) { reflector_.setPageSize(pageSize); }
  void start();
  // Stops and joins the threads. The store and resourceVersion stay, so start() resumes.
  void stop();
  bool hasSynced() const;
  // Wait until synced, for at most `timeout` or until a stop is requested; true when synced.
  bool waitForSync(std::chrono::milliseconds timeout, const std::stop_token& stop = {}) const;
  bool waitForSync(const std::stop_token& stop) const;

  // The store keeps objects without metadata.managedFields: no reader needs them, and they
  // are often the larger part of an object written with server-side apply. With a
  // transform, it keeps what the transform returns.
  std::optional<Json> get(const std::string& key) const;  // "ns/name" or "name"
  std::vector<Json> list() const;
  // The objects `keep` accepts; only those are copied.
  std::vector<Json> list(const std::function<bool(const Json&)>& keep) const;
  std::vector<Json> byIndex(const std::string& value) const;
  // The keys of the objects in the store, sorted: with get(), a walk over every object that
  // copies (or, compact, parses) one at a time.
  std::vector<std::string> keys() const;
  const Resource& resource() const { return resource_; }
  ReflectorStats stats() const { return reflector_.stats(); }

 private:
  Json view(Json object) const override { return kept(object) ? viewOf(std::move(object)) : Json(); }
  void replace(std::vector<Json> items) override;
  void apply(const WatchEvent& event) override;
  void resyncLoop(const std::stop_token& stop);
  void notifyAdd(const Json& obj);
  void notifyUpdate(const Json& oldObj, const Json& newObj);
  void notifyDelete(const Json& obj);
  bool kept(const Json& object) const;
  Json viewOf(Json object) const;
  Json stored(const Json& view) const;
  void reindex(const std::string& key, const Json& view);
  void unindex(const std::string& key);

  Resource resource_;
  InformerOptions opts_;
  Reflector reflector_;

  mutable std::mutex mu_;  // guards store_ (changed only under notifyMu_ too), synced_, handlers_
  mutable std::condition_variable_any syncedCv_;
  std::map<std::string, Json> store_;                   // binary (MessagePack) when compact_
  std::map<std::string, std::set<std::string>> index_;  // an index value: the keys filed under it
  std::map<std::string, std::string> indexed_;          // a key: its index value
  bool synced_ = false;
  std::vector<EventHandler> handlers_;
  std::mutex notifyMu_;  // handlers run one event at a time, in order
  // Set before start(), under notifyMu_ and mu_.
  Transform transform_;
  bool compact_ = false;
  IndexFunc indexFunc_;

  std::mutex runMu_;  // start() and stop() one at a time
  std::jthread watchThread_;
  std::jthread resyncThread_;
};

// Shared informers: asking twice for the same resource, namespace and selector gives
// the same informer.
class Informers {
 public:
  explicit Informers(Client& client, InformerOptions defaults = {}) : client_(client), defaults_(std::move(defaults)) {}
  Informer& get(const Resource& resource, const std::string& ns, const std::string& labelSelector = "");
  void startAll();
  void stopAll();
  bool waitForSync(std::chrono::milliseconds timeout, const std::stop_token& stop = {}) const;
  // What has not synced yet, one line each: "servicelevels.governor.io", with the
  // latest list error when there is one (a missing RBAC rule, an API server down).
  std::vector<std::string> unsynced() const;

 private:
  Client& client_;
  InformerOptions defaults_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Informer>> informers_;
};

}  // namespace governor::kube
