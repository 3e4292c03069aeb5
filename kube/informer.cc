// Informer store, handler fan-out and resync; see informer.h.
#include "kube/informer.h"

#include "kube/stop.h"

namespace governor::kube {
namespace {

// The object a stored entry holds, parsed when the store is compact.
Json unpacked(const Json& stored) { return stored.is_binary() ? Json::from_msgpack(stored.get_binary()) : stored; }

// Calls f with the object a stored entry holds, without a copy when it is a tree.
template <typename F>
void withObject(const Json& stored, F&& f) {
  if (stored.is_binary()) {
    f(unpacked(stored));
  } else {
    f(stored);
  }
}

}  // namespace

Informer::Informer(Client& client, Resource resource, std::string ns, InformerOptions opts)
    : resource_(resource),
      opts_(std::move(opts)),
      reflector_(client, std::move(resource), std::move(ns), opts_.reflector, *this) {}

Informer::~Informer() { stop(); }

void Informer::addHandler(const EventHandler& handler) {
  std::lock_guard notify(notifyMu_);
  std::vector<Json> existing;
  {
    std::lock_guard lock(mu_);
    handlers_.push_back(handler);
    for (const auto& [key, obj] : store_) existing.push_back(unpacked(obj));
  }
  if (handler.onAdd) {
    for (const auto& obj : existing) handler.onAdd(obj);
  }
}

void Informer::setTransform(Transform transform) {
  std::lock_guard notify(notifyMu_);
  std::lock_guard lock(mu_);
  transform_ = std::move(transform);
}

void Informer::setCompact(bool compact) {
  std::lock_guard notify(notifyMu_);
  std::lock_guard lock(mu_);
  compact_ = compact;
}

void Informer::setIndex(IndexFunc index) {
  std::lock_guard notify(notifyMu_);
  std::lock_guard lock(mu_);
  indexFunc_ = std::move(index);
}

void Informer::start() {
  std::lock_guard lock(runMu_);
  if (watchThread_.joinable()) return;
  watchThread_ = std::jthread([this](const std::stop_token& stop) { reflector_.run(stop); });
  if (opts_.resyncPeriod.count() > 0) {
    resyncThread_ = std::jthread([this](const std::stop_token& stop) { resyncLoop(stop); });
  }
}

void Informer::stop() {
  std::lock_guard lock(runMu_);
  // Both at once: the watch stream ends, the waits end.
  watchThread_.request_stop();
  resyncThread_.request_stop();
  if (watchThread_.joinable()) watchThread_.join();
  if (resyncThread_.joinable()) resyncThread_.join();
}

bool Informer::hasSynced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::waitForSync(std::chrono::milliseconds timeout, const std::stop_token& stop) const {
  std::unique_lock lock(mu_);
  return syncedCv_.wait_for(lock, stop, timeout, [this] { return synced_; });
}

bool Informer::waitForSync(const std::stop_token& stop) const {
  std::unique_lock lock(mu_);
  return syncedCv_.wait(lock, stop, [this] { return synced_; });
}

std::optional<Json> Informer::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = store_.find(key);
  if (it == store_.end()) return std::nullopt;
  return unpacked(it->second);
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(store_.size());
  for (const auto& entry : store_) out.push_back(entry.first);
  return out;
}

std::vector<Json> Informer::list() const {
  return list([](const Json&) { return true; });
}

std::vector<Json> Informer::list(const std::function<bool(const Json&)>& keep) const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  for (const auto& [key, stored] : store_) {
    withObject(stored, [&](const Json& obj) {
      if (keep(obj)) out.push_back(obj);
    });
  }
  return out;
}

std::vector<Json> Informer::byIndex(const std::string& value) const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  auto keys = index_.find(value);
  if (keys == index_.end()) return out;
  for (const auto& key : keys->second) out.push_back(unpacked(store_.at(key)));
  return out;
}

void Informer::replace(std::vector<Json> items) {
  std::lock_guard notify(notifyMu_);
  std::map<std::string, Json> next;
  std::map<std::string, Json> previous;
  {
    std::lock_guard lock(mu_);
    index_.clear();
    indexed_.clear();
    for (auto& item : items) {
      auto key = objectKey(item);
      reindex(key, item);  // already viewOf: see view()
      next.emplace(std::move(key), stored(item));
    }
    items.clear();
    previous.swap(store_);
    store_ = std::move(next);
  }
  // Tell handlers what changed between the old view and the fresh list. store_ changes
  // only under notifyMu_, which this holds, so reading it without mu_ is safe (and the
  // list is not held twice).
  for (const auto& [key, obj] : previous) {
    if (!store_.contains(key)) withObject(obj, [this](const Json& o) { notifyDelete(o); });
  }
  for (const auto& entry : store_) {
    // Not a structured binding: lambdas below capture the object (clang-tidy's clang 14 cannot).
    const std::string& key = entry.first;
    const Json& obj = entry.second;
    auto old = previous.find(key);
    if (old == previous.end()) {
      withObject(obj, [this](const Json& o) { notifyAdd(o); });
      continue;
    }
    withObject(old->second, [&](const Json& before) {
      withObject(obj, [&](const Json& now) {
        if (resourceVersionOf(before) != resourceVersionOf(now)) notifyUpdate(before, now);
      });
    });
  }
  {
    std::lock_guard lock(mu_);
    synced_ = true;
  }
  syncedCv_.notify_all();
}

void Informer::apply(const WatchEvent& event) {
  if (!kept(event.object)) return;  // an object never changes namespace
  std::lock_guard notify(notifyMu_);
  auto key = objectKey(event.object);
  Json object = viewOf(event.object);
  std::optional<Json> old;
  {
    std::lock_guard lock(mu_);
    if (auto it = store_.find(key); it != store_.end()) old = unpacked(it->second);
    if (event.type == "DELETED") {
      store_.erase(key);
      unindex(key);
    } else {
      reindex(key, object);
      store_[key] = stored(object);
    }
  }
  if (event.type == "DELETED") {
    notifyDelete(old ? *old : object);
  } else if (old) {
    notifyUpdate(*old, object);
  } else {
    notifyAdd(object);
  }
}

void Informer::resyncLoop(const std::stop_token& stop) {
  while (!sleepUnlessStopped(stop, opts_.resyncPeriod)) {
    std::lock_guard notify(notifyMu_);
    // store_ changes only under notifyMu_: read in place, not copied.
    for (const auto& [key, obj] : store_) withObject(obj, [this](const Json& o) { notifyUpdate(o, o); });
  }
}

bool Informer::kept(const Json& object) const {
  if (!opts_.keepNamespace) return true;
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return true;
  auto ns = md->find("namespace");
  return ns == md->end() || !ns->is_string() || ns->get_ref<const std::string&>().empty() ||
         opts_.keepNamespace(ns->get<std::string>());
}

// What readers see of an object: without managedFields, transformed. Under notifyMu_, or
// on the reflector's thread (view()): transform_ is set before start() only.
Json Informer::viewOf(Json object) const {
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) md->erase("managedFields");
  return transform_ ? transform_(std::move(object)) : object;
}

// How the store keeps a view. Under notifyMu_.
Json Informer::stored(const Json& view) const { return compact_ ? Json::binary(Json::to_msgpack(view)) : view; }

// Files `key` under the index's value for `view`. Under mu_.
void Informer::reindex(const std::string& key, const Json& view) {
  if (!indexFunc_) return;
  unindex(key);
  auto value = indexFunc_(view);
  if (value.empty()) return;
  indexed_[key] = value;
  index_[value].insert(key);
}

// Under mu_.
void Informer::unindex(const std::string& key) {
  auto it = indexed_.find(key);
  if (it == indexed_.end()) return;
  auto keys = index_.find(it->second);
  keys->second.erase(key);
  if (keys->second.empty()) index_.erase(keys);
  indexed_.erase(it);
}

// The notify* helpers run under notifyMu_; handlers_ only grows under that same lock.
void Informer::notifyAdd(const Json& obj) {
  for (const auto& h : handlers_) {
    if (h.onAdd) h.onAdd(obj);
  }
}

void Informer::notifyUpdate(const Json& oldObj, const Json& newObj) {
  for (const auto& h : handlers_) {
    if (h.onUpdate) h.onUpdate(oldObj, newObj);
  }
}

void Informer::notifyDelete(const Json& obj) {
  for (const auto& h : handlers_) {
    if (h.onDelete) h.onDelete(obj);
  }
}

Informer& Informers::get(const Resource& resource, const std::string& ns, const std::string& labelSelector) {
  std::lock_guard lock(mu_);
  auto key = resource.apiVersion() + "/" + resource.plural + "|" + ns + "|" + labelSelector;
  auto& slot = informers_[key];
  if (!slot) {
    auto opts = defaults_;
    opts.reflector.labelSelector = labelSelector;
    slot = std::make_unique<Informer>(client_, resource, ns, opts);
  }
  return *slot;
}

void Informers::startAll() {
  std::lock_guard lock(mu_);
  for (auto& [key, informer] : informers_) informer->start();
}

void Informers::stopAll() {
  std::lock_guard lock(mu_);
  for (auto& [key, informer] : informers_) informer->stop();
}

bool Informers::waitForSync(std::chrono::milliseconds timeout, const std::stop_token& stop) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Waits without the lock, which unsynced() (the readiness probe) takes meanwhile; informers
  // are never removed, so the pointers stay good.
  std::vector<const Informer*> informers;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, informer] : informers_) informers.push_back(informer.get());
  }
  for (const Informer* informer : informers) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!informer->waitForSync(std::max(left, std::chrono::milliseconds(0)), stop)) return false;
  }
  return true;
}

std::vector<std::string> Informers::unsynced() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, informer] : informers_) {
    if (informer->hasSynced()) continue;
    const auto& r = informer->resource();
    auto error = informer->stats().listError;
    out.push_back(r.plural + (r.group.empty() ? "" : "." + r.group) + (error.empty() ? "" : " (" + error + ")"));
  }
  return out;
}

}  // namespace governor::kube
