#include "metrics-adapter/sources/prometheus_source.h"

#include <charconv>

namespace governor::adapter {
namespace {

// "sum by (le, job) (" or "sum(".
std::string sumBy(const std::vector<std::string>& by) {
  if (by.empty()) return "sum(";
  std::string out = "sum by (";
  for (size_t i = 0; i < by.size(); ++i) out += (i ? ", " : "") + by[i];
  return out + ") (";
}

}  // namespace

std::string latencyQuery(const std::string& bucketSeries, double quantile, const std::string& window,
                         const std::vector<std::string>& by) {
  char digits[32];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, quantile);  // shortest round-trip form
  const std::string q = ec == std::errc() ? std::string(digits, end) : std::to_string(quantile);
  std::vector<std::string> labels{"le"};
  labels.insert(labels.end(), by.begin(), by.end());
  return "histogram_quantile(" + q + ", " + sumBy(labels) + "rate(" + bucketSeries + "[" + window + "])))";
}

std::string counterRateQuery(const std::string& counterSeries, const std::string& window,
                             const std::vector<std::string>& by) {
  return sumBy(by) + "rate(" + counterSeries + "[" + window + "]))";
}

}  // namespace governor::adapter
