// What the adapter measures, learnt from ServiceLevels: one backlog per ServiceLevel with
// a queue (external API) and the replicas that drain it in time when it has drainWithin, latency percentiles per
// workload of a ServiceLevel with a latency objective, and the hit ratio of the cache of a ServiceLevel with one
// (custom API). Each target knows how to measure itself.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/metrics.h"
#include "api/servicelevel.h"
#include "kube/result.h"
#include "metrics-adapter/cache_stats.h"
#include "metrics-adapter/drain.h"
#include "metrics-adapter/queue_reads.h"
#include "metrics-adapter/redis_access.h"
#include "metrics-adapter/sources/prometheus_source.h"
#include "metrics-adapter/sources/redis_source.h"

namespace governor::adapter {

// The metric names and resources are the contract with the operator (api/metrics.h).
using api::kBacklogMetric;
using api::kDrainReplicasMetric;
using api::kServiceLevelResource;
using api::latencyMetric;
// The latency percentiles served for every workload with a latency objective, besides
// the one its autoscaling names.
inline constexpr int kServedPercentiles[] = {50, 90, 95, 99};

struct MetricTarget {
  enum class Api { External, Custom };
  Api api = Api::External;
  std::string key;  // the cache key
  std::string namespaceName;
  std::string metric;
  std::string serviceLevel;
  // The object the metric describes in the custom metrics API (an external target may have
  // one too: the backlog is served on its ServiceLevel as well); empty: none.
  std::string resource;    // "deployments.apps", "statefulsets.apps", "servicelevels.governor.io" or ""
  std::string objectKind;  // "Deployment", "StatefulSet" or "ServiceLevel"
  std::string objectApiVersion = "apps/v1";
  std::string objectName;
  // External: the metric's labels; custom: the workload's labels. The labelSelector of
  // an external query, or of a custom query for "*", is matched against them.
  api::Labels labels;
  std::function<kube::Result<double>()> measure;
  std::string source;  // "redis <address>" or "prometheus <url>": what a hung server delays
  // Served instead of the error once the latest `afterFailures` measurements in a row failed,
  // marked with the label governor.io/fallback (the backlog's spec.autoscaling.queue.fallback);
  // nullopt: an error stays an error.
  struct Fallback {
    int afterFailures = 0;
    double value = 0;
  };
  std::optional<Fallback> fallback;
  // When set, the value served, instead of the cache entry's (which then says only whether
  // the latest measurement succeeded); nullopt while there is nothing to serve yet.
  std::function<std::optional<double>()> served;
};

struct TargetOptions {
  std::string latencyWindow = "2m";    // the rate() range of latency queries
  std::string queueRateWindow = "1m";  // the rate() range of arrivalQuery and processedQuery
  // Where the caches are: api::cacheAddress's template ({servicelevel}, {namespace});
  // empty: NAME-redis.NAMESPACE.svc:6379.
  std::string cacheAddressTemplate;
  // The queue addresses allowed besides the ServiceLevel's own namespace's Services
  // (allowedRedisAddress). A queue elsewhere is an error, measured without any connection.
  RedisAllowlist redisAllowlist;
  // Latency queries read only the ServiceLevel's namespace: namespace="<its namespace>"
  // replaces any namespace matcher of the histogram. Off only for a single-tenant cluster.
  bool prometheusNamespaceScope = true;
};

// Resolves a Secret key into the Redis password, or why that Secret may not be used
// (redisPassword: only Secrets labelled governor.io/redis-credentials=true).
using SecretReader = std::function<kube::Result<std::string>(const std::string& ns, const api::SecretKeyRef& ref)>;
// A workload's replicas (api::Workloads::replicas) by its namespace, kind and name.
using ReplicaReader =
    std::function<kube::Result<WorkloadReplicas>(const std::string& ns, const api::Workload& workload)>;

// What targets measure with, and where what outlives one poll is kept. Each outlives the targets.
struct Sources {
  RedisSource& redis;
  kube::PrometheusClient& prometheus;
  CacheStats& caches;      // hit ratios, over polls
  DrainEstimator& drains;  // rates per replica, over polls
  SecretReader secrets;
  ReplicaReader replicas;
};

// The targets of one ServiceLevel. Pure: measuring happens only when `measure` is called;
// measuring a cache's hit ratio reads its INFO stats into `caches`, a drain-time target its
// rates into `drains`. Its queue is added to `reads`, the round's (every ServiceLevel's targets
// of one round share one): the backlog and the drain-time target take its reading from there.
std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, const Sources& sources, const TargetOptions& options,
                                     const std::shared_ptr<QueueReads>& reads);

// A workload's labels (api::Workloads::labels) by its namespace, kind and name.
using LabelReader = std::function<kube::Result<api::Labels>(const std::string& ns, const api::Workload& workload)>;

// One poll round's targets: every target of each ServiceLevel, their queues read together
// (one pipeline per Redis connection), a workload's custom metric carrying the workload's
// labels. What ServiceLevels no longer there left in `sources` (cache stats on /metrics,
// drain estimates) is forgotten.
std::vector<MetricTarget> roundTargets(const std::vector<api::ServiceLevel>& serviceLevels, const Sources& sources,
                                       const TargetOptions& options, const LabelReader& workloadLabels);

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
