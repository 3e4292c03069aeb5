// The hit ratio of each ServiceLevel's cache (the Redis Governor runs as NAME-redis): every
// poll reads the cache's keyspace counters (INFO stats); the adapter exports them as the
// counters governor_cache_keyspace_hits_total and governor_cache_keyspace_misses_total and
// serves hits / (hits + misses) of the latest poll window with lookups as the custom metric
// governor_cache_hit_ratio. The arithmetic is in pure functions; CacheStats keeps the state.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "api/metrics.h"
#include "metrics-adapter/sources/redis_info.h"

namespace governor::adapter {

using api::kCacheHitRatioMetric;
using api::kCacheHitsCounter;
using api::kCacheMissesCounter;

// How much a Redis counter grew from one reading to the next: the difference, or all of
// `current` when it went down (Redis restarted, or CONFIG RESETSTAT, and counts from 0 again).
uint64_t counterIncrease(uint64_t previous, uint64_t current);
// counterIncrease of hits and of misses.
KeyspaceStats statsIncrease(const KeyspaceStats& previous, const KeyspaceStats& current);
// hits / (hits + misses) of a window; nullopt when the window saw no lookup (0/0).
std::optional<double> hitRatio(const KeyspaceStats& window);

// Thread-safe. Caches are keyed by their ServiceLevel's namespace and name.
class CacheStats {
 public:
  using Key = std::pair<std::string, std::string>;  // namespace, ServiceLevel name

  // Registers the two counter families (labels namespace and servicelevel) in `registry`.
  explicit CacheStats(prometheus::Registry& registry);
  CacheStats(const CacheStats&) = delete;
  CacheStats& operator=(const CacheStats&) = delete;

  // One successful reading of a cache. Its counters grow by the increase since the previous
  // reading (the first reading adds the whole counts, as a restart would); when the window
  // since the previous reading saw lookups, its ratio becomes the one served. Returns the
  // ratio served now: nullopt until a window with lookups, the last one while idle.
  std::optional<double> observe(const Key& cache, const KeyspaceStats& reading);
  // The ratio served for a cache (as observe returned it last).
  std::optional<double> ratio(const Key& cache) const;
  // Forgets every cache not in `keep`: its series leave /metrics (a deleted ServiceLevel, or
  // one whose cache section was removed).
  void retain(const std::set<Key>& keep);

 private:
  struct State {
    std::optional<KeyspaceStats> last;
    std::optional<double> ratio;
    prometheus::Counter* hits = nullptr;
    prometheus::Counter* misses = nullptr;
  };

  prometheus::Family<prometheus::Counter>& hits_;
  prometheus::Family<prometheus::Counter>& misses_;
  mutable std::mutex mu_;
  std::map<Key, State> caches_;  // guarded by mu_
};

}  // namespace governor::adapter
