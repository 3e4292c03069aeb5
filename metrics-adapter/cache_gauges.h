// The metric cache's health on /metrics: how old its oldest value is, and how many metrics
// fail. The adapter's main sets them again every 200 ms.
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "metrics-adapter/cache.h"

namespace governor::adapter {

class CacheGauges {
 public:
  CacheGauges(prometheus::Registry& registry, const MetricCache& cache);
  // Both gauges from the cache as it is now.
  void update();

 private:
  const MetricCache& cache_;
  prometheus::Gauge& age_;
  prometheus::Gauge& errors_;
};

}  // namespace governor::adapter
