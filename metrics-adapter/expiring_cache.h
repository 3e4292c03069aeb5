// Values kept for a time each, at most `capacity` of them: what the adapter learns from the
// Kubernetes API (authorization decisions, a workload's labels, a Redis password) is asked
// again once it has expired, not on every request or every poll. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace governor::adapter {

template <class Value>
class ExpiringCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ExpiringCache(size_t capacity) : capacity_(capacity) {}

  // The value put under `key`, unless it has expired by `now`.
  std::optional<Value> get(const std::string& key, Clock::time_point now) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
    return it->second.value;
  }

  // Keeps `value` until now + ttl. When full, expired entries go first, then the first by key.
  void put(const std::string& key, Value value, Clock::duration ttl, Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= capacity_ && !entries_.contains(key)) {
      std::erase_if(entries_, [now](const auto& e) { return e.second.expires <= now; });
      if (!entries_.empty() && entries_.size() >= capacity_) entries_.erase(entries_.begin());
    }
    entries_.insert_or_assign(key, Entry{std::move(value), now + ttl});
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    Value value;
    Clock::time_point expires;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace governor::adapter
