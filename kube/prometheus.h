// Instant queries to Prometheus over its HTTP API (POST /api/v1/query, form-encoded): one number for the
// metrics adapter, the series of a condition for the operator's scale-down guard.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/result.h"

namespace httplib {
class Client;
}

namespace governor::kube {

// Thread-safe: queries run in parallel, each on a kept-alive HTTP(S) connection of its own
// (connections are reused, as many as queries ran at once), so a slow query holds up no other.
// The pure steps of a query, for tests and the fuzzer: the answer is untrusted bytes. Errors
// carry only the Status; query() and series() add the URL and the query.
// The data object ({"resultType", "result"}) of an answer with HTTP status `code` and `body`.
kube::Result<nlohmann::json> prometheusData(int code, const std::string& body);
// One finite number from a data object: a scalar, or a vector of exactly one series.
kube::Result<double> prometheusValue(const nlohmann::json& data);
// The series of a vector data object (an array, maybe empty).
kube::Result<nlohmann::json> prometheusSeries(const nlohmann::json& data);

class PrometheusClient {
 public:
  // baseURL: "http://prometheus.monitoring:9090", "https://host" or with a path prefix
  // ("http://host:9090/prometheus"). https verifies the server against the system's CAs.
  // A baseURL that cannot be used makes every query fail with a message saying so.
  explicit PrometheusClient(std::string baseURL, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~PrometheusClient();
  PrometheusClient(const PrometheusClient&) = delete;
  PrometheusClient& operator=(const PrometheusClient&) = delete;

  // The query's value: a scalar, or a vector of exactly one series. No series ("query returned
  // no data"), several ("query returned 3 series"), NaN or ±Inf (a quantile with no traffic)
  // are errors, never a made-up number. Errors name the URL and the query:
  // `prometheus http://p:9090 query "up": Unavailable: could not connect`.
  kube::Result<double> query(const std::string& promql);
  // The series of a vector query, as Prometheus gives them ([{"metric": {labels}, "value":
  // [time, "value"]}, ...]); none is an empty array, not an error: a condition such as an
  // alert's expression that does not hold. Any other result type is an error.
  kube::Result<nlohmann::json> series(const std::string& promql);

  const std::string& baseURL() const { return baseURL_; }

 private:
  kube::Error fail(const std::string& promql, int code, std::string reason, std::string message) const;
  // The answer's data object ({"resultType", "result"}), or why there is none.
  kube::Result<nlohmann::json> data(const std::string& promql);

  const std::string baseURL_;
  const std::chrono::milliseconds timeout_;
  std::string pathPrefix_;  // "" or "/prometheus"
  std::string invalidURL_;  // why baseURL_ cannot be used; empty when it can
  std::unique_ptr<httplib::Client> newClient() const;

  std::string schemeHostPort_;  // what httplib::Client takes
  std::mutex mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;  // guarded by mutex_: connections no query uses
};

}  // namespace governor::kube
