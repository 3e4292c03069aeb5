// See cache_gauges.h.
#include "metrics-adapter/cache_gauges.h"

namespace governor::adapter {

CacheGauges::CacheGauges(prometheus::Registry& registry, const MetricCache& cache)
    : cache_(cache),
      age_(prometheus::BuildGauge()
               .Name("governor_adapter_cache_age_seconds")
               .Help("Age of the oldest successfully measured value in the cache")
               .Register(registry)
               .Add({})),
      errors_(prometheus::BuildGauge()
                  .Name("governor_adapter_source_errors")
                  .Help("Metrics whose latest measurement failed (a cache whose INFO stats cannot be read "
                        "counts as its governor_cache_hit_ratio)")
                  .Register(registry)
                  .Add({})) {}

void CacheGauges::update() {
  age_.Set(cache_.ageSeconds());
  double errors = 0;
  for (const auto& key : cache_.keys()) {
    if (auto e = cache_.get(key); e && !e->ok()) ++errors;
  }
  errors_.Set(errors);
}

}  // namespace governor::adapter
