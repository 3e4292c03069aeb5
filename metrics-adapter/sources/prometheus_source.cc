#include "metrics-adapter/sources/prometheus_source.h"

#include <charconv>

namespace governor::adapter {

std::string latencyQuery(const std::string& bucketSeries, double quantile, const std::string& window) {
  char digits[32];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, quantile);  // shortest round-trip form
  const std::string q = ec == std::errc() ? std::string(digits, end) : std::to_string(quantile);
  return "histogram_quantile(" + q + ", sum by (le) (rate(" + bucketSeries + "[" + window + "])))";
}

std::string counterRateQuery(const std::string& counterSeries, const std::string& window) {
  return "sum(rate(" + counterSeries + "[" + window + "]))";
}

}  // namespace governor::adapter
