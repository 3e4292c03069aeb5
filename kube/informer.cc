// Informer store, handler fan-out and resync; see informer.h.
#include "kube/informer.h"

namespace governor::kube {

Informer::Informer(Client& client, Resource resource, std::string ns, InformerOptions opts)
    : resource_(resource),
      opts_(std::move(opts)),
      reflector_(client, std::move(resource), std::move(ns), opts_.reflector, *this) {}

Informer::~Informer() { stop(); }

void Informer::addHandler(EventHandler handler) {
  std::lock_guard notify(notifyMu_);
  std::vector<Json> existing;
  {
    std::lock_guard lock(mu_);
    handlers_.push_back(handler);
    for (const auto& [key, obj] : store_) existing.push_back(obj);
  }
  if (handler.onAdd) {
    for (const auto& obj : existing) handler.onAdd(obj);
  }
}

void Informer::setTransform(Transform transform) {
  std::lock_guard notify(notifyMu_);
  transform_ = std::move(transform);
}

void Informer::start() {
  std::lock_guard lock(runMu_);
  if (watchThread_.joinable()) return;
  stopping_ = false;
  cancel_.reset();
  watchThread_ = std::thread([this] { reflector_.run(cancel_); });
  if (opts_.resyncPeriod.count() > 0) resyncThread_ = std::thread([this] { resyncLoop(); });
}

void Informer::stop() {
  {
    std::lock_guard lock(runMu_);
    stopping_ = true;
  }
  stopCv_.notify_all();
  cancel_.cancel();
  if (watchThread_.joinable()) watchThread_.join();
  if (resyncThread_.joinable()) resyncThread_.join();
}

bool Informer::hasSynced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::waitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return syncedCv_.wait_for(lock, timeout, [this] { return synced_; });
}

std::optional<Json> Informer::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = store_.find(key);
  if (it == store_.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> Informer::list() const {
  return list([](const Json&) { return true; });
}

std::vector<Json> Informer::list(const std::function<bool(const Json&)>& keep) const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  for (const auto& [key, obj] : store_) {
    if (keep(obj)) out.push_back(obj);
  }
  return out;
}

void Informer::replace(std::vector<Json> items) {
  std::lock_guard notify(notifyMu_);
  std::map<std::string, Json> next;
  for (auto& item : items) {
    auto key = objectKey(item);
    next.emplace(std::move(key), stored(std::move(item)));
  }
  std::map<std::string, Json> previous;
  {
    std::lock_guard lock(mu_);
    previous.swap(store_);
    store_ = std::move(next);
  }
  // Tell handlers what changed between the old view and the fresh list. store_ changes
  // only under notifyMu_, which this holds, so reading it without mu_ is safe (and the
  // list is not held twice).
  for (const auto& [key, obj] : previous) {
    if (!store_.contains(key)) notifyDelete(obj);
  }
  for (const auto& [key, obj] : store_) {
    auto old = previous.find(key);
    if (old == previous.end()) {
      notifyAdd(obj);
    } else if (resourceVersionOf(old->second) != resourceVersionOf(obj)) {
      notifyUpdate(old->second, obj);
    }
  }
  {
    std::lock_guard lock(mu_);
    synced_ = true;
  }
  syncedCv_.notify_all();
}

void Informer::apply(const WatchEvent& event) {
  std::lock_guard notify(notifyMu_);
  Json object = stored(event.object);
  auto key = objectKey(event.object);
  std::optional<Json> old;
  {
    std::lock_guard lock(mu_);
    if (auto it = store_.find(key); it != store_.end()) old = it->second;
    if (event.type == "DELETED") {
      store_.erase(key);
    } else {
      store_[key] = object;
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

void Informer::resyncLoop() {
  std::unique_lock lock(runMu_);
  while (!stopCv_.wait_for(lock, opts_.resyncPeriod, [this] { return stopping_; })) {
    std::lock_guard notify(notifyMu_);
    // store_ changes only under notifyMu_: read in place, not copied.
    for (const auto& [key, obj] : store_) notifyUpdate(obj, obj);
  }
}

// Under notifyMu_.
Json Informer::stored(Json object) const {
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) md->erase("managedFields");
  return transform_ ? transform_(std::move(object)) : object;
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

bool Informers::waitForSync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::lock_guard lock(mu_);
  for (const auto& [key, informer] : informers_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!informer->waitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
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
