// What the adapter measures, learnt from ServiceLevels: one backlog per ServiceLevel with
// a queue (external API), and latency percentiles per workload of a ServiceLevel with a
// latency objective (custom API). Each target knows how to measure itself.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "api/servicelevel.h"
#include "kube/result.h"
#include "metrics-adapter/sources/prometheus_source.h"
#include "metrics-adapter/sources/redis_source.h"

namespace governor::adapter {

inline constexpr const char* kBacklogMetric = "governor_queue_backlog";
// The latency percentiles served for every workload with a latency objective, besides
// the one its autoscaling names.
inline constexpr int kServedPercentiles[] = {50, 90, 95, 99};

struct MetricTarget {
  enum class Api { External, Custom };
  Api api = Api::External;
  std::string key;            // the cache key
  std::string namespaceName;
  std::string metric;
  std::string serviceLevel;
  // Custom metrics: the object the metric describes.
  std::string resource;       // "deployments.apps" or "statefulsets.apps"
  std::string objectKind;     // "Deployment" or "StatefulSet"
  std::string objectName;
  // External: the metric's labels; custom: the workload's labels. The labelSelector of
  // an external query, or of a custom query for "*", is matched against them.
  api::Labels labels;
  std::function<kube::Result<double>()> measure;
  std::string source;  // "redis <address>" or "prometheus <url>": what a hung server delays
};

// "governor_latency_p95_seconds" for 95.
std::string latencyMetric(int percentile);

struct TargetOptions {
  std::string latencyWindow = "2m";  // the rate() range of latency queries
};

// Resolves a Secret key into the Redis password (reads the API when called).
using SecretReader = std::function<kube::Result<std::string>(const std::string& ns, const api::SecretKeyRef& ref)>;

// The targets of one ServiceLevel. Pure: measuring happens only when `measure` is called.
std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, RedisSource& redis, PrometheusSource& prometheus,
                                     const SecretReader& secrets, const TargetOptions& options);

// The current targets, replaced as a whole after each look at the ServiceLevels.
class Targets {
 public:
  void set(std::vector<MetricTarget> targets);
  std::vector<MetricTarget> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::vector<MetricTarget> targets_;
};

}  // namespace governor::adapter
