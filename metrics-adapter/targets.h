// What the adapter measures, learnt from ServiceLevels: one backlog per ServiceLevel with
// a queue (external API) and the replicas that drain it in time when it has drainWithin, latency percentiles per
// workload of a ServiceLevel with a latency objective, and the hit ratio of the cache of a ServiceLevel with one
// (custom API). Each target knows how to measure itself.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/metrics.h"
#include "api/servicelevel.h"
#include "kube/result.h"
#include "kube/selector.h"
#include "metrics-adapter/cache_stats.h"
#include "metrics-adapter/drain.h"
#include "metrics-adapter/prometheus_reads.h"
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

// What targets read together in each poll round (every ServiceLevel's targets made at once share
// one, for as long as they are kept): the queues, one pipeline per Redis connection and round, and
// the latency percentiles and rates, one Prometheus query per shape and round.
struct RoundReads {
  RoundReads(const Sources& sources, const TargetOptions& options)
      : queues(sources.redis), prometheus(sources.prometheus, options.latencyWindow, options.queueRateWindow) {}
  // Starts a round: the readings of the one before are not served to it.
  void nextRound() {
    queues.nextRound();
    prometheus.nextRound();
  }
  QueueReads queues;
  PrometheusReads prometheus;
};

// The targets of one ServiceLevel. Pure: measuring happens only when `measure` is called;
// measuring a cache's hit ratio reads its INFO stats into `caches`, a drain-time target its
// rates into `drains`. Its queue and its Prometheus queries are added to `reads`, the round's:
// its targets take their readings from there, in whichever round `reads` is.
std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, const Sources& sources, const TargetOptions& options,
                                     const std::shared_ptr<RoundReads>& reads);
// The same with reads of their own.
std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, const Sources& sources, const TargetOptions& options);

// A workload's labels (api::Workloads::labels) by its namespace, kind and name.
using LabelReader = std::function<kube::Result<api::Labels>(const std::string& ns, const api::Workload& workload)>;

// The targets of every ServiceLevel, made one ServiceLevel at a time (never every ServiceLevel
// parsed at once): every target of each, their queues read together (one pipeline per Redis
// connection and round) and their Prometheus queries one per shape and round, a workload's custom
// metric carrying the workload's labels. LiveTargets keeps them over poll rounds.
class RoundTargets {
 public:
  RoundTargets(Sources sources, TargetOptions options, LabelReader workloadLabels)
      : sources_(std::move(sources)),
        options_(std::move(options)),
        workloadLabels_(std::move(workloadLabels)),
        reads_(std::make_shared<RoundReads>(sources_, options_)) {}
  void add(const api::ServiceLevel& sl);
  // What the targets read: its nextRound() starts each poll round.
  const std::shared_ptr<RoundReads>& reads() const { return reads_; }
  // The targets. What ServiceLevels no longer there left in the sources (cache stats
  // on /metrics, drain estimates) is forgotten.
  std::vector<MetricTarget> take() &&;

 private:
  const Sources sources_;
  const TargetOptions options_;
  const LabelReader workloadLabels_;
  const std::shared_ptr<RoundReads> reads_;
  std::vector<MetricTarget> all_;
  std::set<CacheStats::Key> caches_, drained_;
};

// The targets made at one look at the ServiceLevels, sorted by key, with the indexes API requests
// read them by: a request costs about the same with 10 ServiceLevels or 5,000.
class TargetSnapshot {
 public:
  explicit TargetSnapshot(std::vector<MetricTarget> targets);
  const std::vector<MetricTarget>& all() const { return all_; }
  // The external targets of namespace `ns` and `metric` that `selector` matches, in key order.
  // A selector that names ServiceLevels (governor.io/service-level = or in, as the HPAs of the
  // operator do) reads only theirs.
  std::vector<const MetricTarget*> external(const std::string& ns, const std::string& metric,
                                            const kube::Selector& selector) const;
  // The targets of `metric` on object `name` of `resource` in `ns`, in key order; name "*":
  // on every object of that resource whose labels `selector` matches.
  std::vector<const MetricTarget*> custom(const std::string& ns, const std::string& resource, const std::string& name,
                                          const std::string& metric, const kube::Selector& selector) const;

 private:
  // Up to four of a target's fields (the rest empty); nullopt: not in that index.
  using Fields = std::array<std::string_view, 4>;
  using FieldsOf = std::optional<Fields> (*)(const MetricTarget&);
  // The positions in all_ of the targets with fields, sorted by them and then by key: a lookup is a
  // binary search, with no string kept per target.
  struct Index {
    FieldsOf fieldsOf;
    std::vector<uint32_t> order;
  };
  Index index(FieldsOf fieldsOf) const;
  std::vector<const MetricTarget*> matching(const Index& index, const Fields& fields,
                                            const kube::Selector& selector) const;
  std::vector<MetricTarget> all_;
  Index external_;    // namespace, metric
  Index externalOf_;  // namespace, metric, service-level label
  Index custom_;      // namespace, resource, metric
  Index customOf_;    // namespace, resource, metric, object name
};

// The current targets, replaced as a whole each time they are made (LiveTargets).
class Targets {
 public:
  void set(std::vector<MetricTarget> targets);
  // Shared, never copied: a request holds the snapshot it reads.
  std::shared_ptr<const TargetSnapshot> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TargetSnapshot> targets_ = std::make_shared<TargetSnapshot>(std::vector<MetricTarget>{});
};

}  // namespace governor::adapter
