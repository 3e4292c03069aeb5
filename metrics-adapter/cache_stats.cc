// CacheStats and its arithmetic; see cache_stats.h.
#include "metrics-adapter/cache_stats.h"

namespace governor::adapter {

uint64_t counterIncrease(uint64_t previous, uint64_t current) {
  return current >= previous ? current - previous : current;
}

KeyspaceStats statsIncrease(const KeyspaceStats& previous, const KeyspaceStats& current) {
  return {counterIncrease(previous.hits, current.hits), counterIncrease(previous.misses, current.misses)};
}

std::optional<double> hitRatio(const KeyspaceStats& window) {
  const uint64_t lookups = window.hits + window.misses;
  if (lookups == 0 || lookups < window.hits) return std::nullopt;  // none, or beyond 64 bits
  return static_cast<double>(window.hits) / static_cast<double>(lookups);
}

CacheStats::CacheStats(prometheus::Registry& registry)
    : hits_(prometheus::BuildCounter()
                .Name(kCacheHitsCounter)
                .Help("Lookups of an existing key in a ServiceLevel's cache (Redis keyspace_hits, read every poll)")
                .Register(registry)),
      misses_(prometheus::BuildCounter()
                  .Name(kCacheMissesCounter)
                  .Help("Lookups of a missing key in a ServiceLevel's cache (Redis keyspace_misses, read every poll)")
                  .Register(registry)) {}

std::optional<double> CacheStats::observe(const Key& cache, const KeyspaceStats& reading) {
  std::lock_guard lock(mu_);
  State& state = caches_[cache];
  if (state.hits == nullptr) {
    const prometheus::Labels labels{{"namespace", cache.first}, {"servicelevel", cache.second}};
    state.hits = &hits_.Add(labels);
    state.misses = &misses_.Add(labels);
  }
  const KeyspaceStats increase = statsIncrease(state.last.value_or(KeyspaceStats{}), reading);
  state.hits->Increment(static_cast<double>(increase.hits));
  state.misses->Increment(static_cast<double>(increase.misses));
  if (state.last) {
    if (auto ratio = hitRatio(increase)) state.ratio = ratio;
  }
  state.last = reading;
  return state.ratio;
}

std::optional<double> CacheStats::ratio(const Key& cache) const {
  std::lock_guard lock(mu_);
  auto it = caches_.find(cache);
  return it == caches_.end() ? std::nullopt : it->second.ratio;
}

void CacheStats::retain(const std::set<Key>& keep) {
  std::lock_guard lock(mu_);
  for (auto it = caches_.begin(); it != caches_.end();) {
    if (keep.contains(it->first)) {
      ++it;
      continue;
    }
    hits_.Remove(it->second.hits);
    misses_.Remove(it->second.misses);
    it = caches_.erase(it);
  }
}

}  // namespace governor::adapter
