// What rules.cc and dashboard.cc both say about SLOs: exact decimal text of targets and
// budgets, PromQL label selectors, and the names of the series rules.cc records
// (docs/alerts.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "operator/api.h"

namespace governor::op {

using std::chrono::milliseconds;
inline constexpr milliseconds kMinute = std::chrono::minutes(1);
inline constexpr milliseconds kHour = std::chrono::hours(1);
inline constexpr milliseconds kDay = std::chrono::hours(24);

// units / 10^scale as the shortest exact decimal: (1, 3) -> "0.001", (1500, 3) -> "1.5".
std::string decimal(int64_t units, int scale);
std::string ratioOf(const Percent& p);      // "99.9" -> "0.999": the objective as a ratio
std::string budgetOf(const Percent& p);     // "99.9" -> "0.001": the error budget as a ratio
std::string percentText(const Percent& p);  // "99.9" -> "99.9%"

// A PromQL string literal, quoted and escaped.
std::string promqlString(const std::string& s);
// {k="v",...} in label order.
std::string selector(const Labels& labels);
// The labels of a ServiceLevel's recorded series: namespace, service_level[, slo].
Labels seriesLabels(const ServiceLevel& sl, const std::string& slo = "");

// Recorded series.
std::string errorsRecord(milliseconds window);  // governor:slo_errors:ratio_rate<window>
inline constexpr const char* kBudgetRemainingRecord = "governor:slo_error_budget_remaining:ratio";
inline constexpr const char* kCacheHitRecord = "governor:cache_hits:ratio_rate5m";

}  // namespace governor::op
