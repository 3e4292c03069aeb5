// Latency and queue rates from Prometheus: the PromQL that turns a histogram into a quantile
// and a counter into a rate, asked of Prometheus with kube::PrometheusClient (kube/prometheus.h,
// shared with the operator).
#pragma once

#include <string>
#include <vector>

#include "kube/prometheus.h"

namespace governor::adapter {

// histogram_quantile(<quantile>, sum by (le) (rate(<bucketSeries>[<window>]))).
// bucketSeries is a `_bucket` selector, e.g. `http_request_duration_seconds_bucket{job="shop"}`;
// window a PromQL duration ("5m"). The quantile is printed in its shortest exact form ("0.95").
// `by`: labels to keep apart besides le, one quantile for each of their values.
std::string latencyQuery(const std::string& bucketSeries, double quantile, const std::string& window,
                         const std::vector<std::string>& by = {});

// sum(rate(<counterSeries>[<window>])): a counter's rate per second over all its series, or
// over those of each value of the labels `by`.
std::string counterRateQuery(const std::string& counterSeries, const std::string& window,
                             const std::vector<std::string>& by = {});

}  // namespace governor::adapter
