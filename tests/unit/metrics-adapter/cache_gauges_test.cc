// CacheGauges: the age of the cache's oldest value and its failing metrics, as /metrics shows them.
#include "metrics-adapter/cache_gauges.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;

double gauge(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect()) {
    if (family.name == name) return family.metric.at(0).gauge.value;
  }
  ADD_FAILURE() << name << " not registered";
  return -1;
}

TEST(CacheGauges, ShowTheOldestValuesAgeAndTheFailingMetrics) {
  auto now = std::chrono::system_clock::time_point(1'700'000'000s);
  MetricCache cache([&now] { return now; });
  prometheus::Registry registry;
  CacheGauges gauges(registry, cache);
  cache.update("ok", 1.0);
  cache.update("failing", kube::Error{kube::Status{503, "ServiceUnavailable", "refused"}, "LLEN jobs"});
  now += 7s;
  gauges.update();
  EXPECT_DOUBLE_EQ(gauge(registry, "governor_adapter_cache_age_seconds"), 7.0);
  EXPECT_DOUBLE_EQ(gauge(registry, "governor_adapter_source_errors"), 1.0);

  cache.update("failing", 2.0);
  gauges.update();
  EXPECT_DOUBLE_EQ(gauge(registry, "governor_adapter_source_errors"), 0.0);
}

}  // namespace
}  // namespace governor::adapter
