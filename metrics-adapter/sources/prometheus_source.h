// One number from Prometheus: an instant query over the HTTP API (GET /api/v1/query), and the
// PromQL that turns a histogram into a latency quantile.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kube/result.h"

namespace httplib {
class Client;
}

namespace governor::adapter {

// Thread-safe: queries run in parallel, each on a kept-alive HTTP(S) connection of its own
// (connections are reused, as many as queries ran at once), so a slow query holds up no other.
class PrometheusSource {
 public:
  // baseURL: "http://prometheus.monitoring:9090", "https://host" or with a path prefix
  // ("http://host:9090/prometheus"). https verifies the server against the system's CAs.
  // A baseURL that cannot be used makes every query fail with a message saying so.
  explicit PrometheusSource(std::string baseURL, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~PrometheusSource();
  PrometheusSource(const PrometheusSource&) = delete;
  PrometheusSource& operator=(const PrometheusSource&) = delete;

  // The query's value: a scalar, or a vector of exactly one series. No series ("query returned
  // no data"), several ("query returned 3 series"), NaN or ±Inf (a quantile with no traffic)
  // are errors, never a made-up number. Errors name the URL and the query:
  // `prometheus http://p:9090 query "up": Unavailable: could not connect`.
  kube::Result<double> query(const std::string& promql);

  const std::string& baseURL() const { return baseURL_; }

 private:
  kube::Error fail(const std::string& promql, int code, std::string reason, std::string message) const;

  const std::string baseURL_;
  const std::chrono::milliseconds timeout_;
  std::string pathPrefix_;      // "" or "/prometheus"
  std::string invalidURL_;      // why baseURL_ cannot be used; empty when it can
  std::unique_ptr<httplib::Client> newClient() const;

  std::string schemeHostPort_;  // what httplib::Client takes
  std::mutex mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;  // guarded by mutex_: connections no query uses
};

// histogram_quantile(<quantile>, sum by (le) (rate(<bucketSeries>[<window>]))).
// bucketSeries is a `_bucket` selector, e.g. `http_request_duration_seconds_bucket{job="shop"}`;
// window a PromQL duration ("5m"). The quantile is printed in its shortest exact form ("0.95").
std::string latencyQuery(const std::string& bucketSeries, double quantile, const std::string& window);

}  // namespace governor::adapter
