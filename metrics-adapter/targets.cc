#include "metrics-adapter/targets.h"

#include <algorithm>
#include <set>

#include "api/series_selector.h"

namespace governor::adapter {
namespace {

// The cache key of a custom metric: its object, the metric and the ServiceLevel it is for.
std::string customKey(const MetricTarget& t) {
  return "custom/" + t.namespaceName + "/" + t.resource + "/" + t.objectName + "/" + t.metric + "/" + t.serviceLevel;
}

void describeByServiceLevel(MetricTarget& t, const api::ServiceLevel& sl) {
  t.resource = kServiceLevelResource;
  t.objectKind = api::kKind;
  t.objectApiVersion = api::kApiVersion;
  t.objectName = sl.name;
}

// A series selector as the adapter's queries read it: only the ServiceLevel's namespace unless
// the adapter was told otherwise.
kube::Result<api::SeriesSelector> scoped(const std::string& selector, const api::ServiceLevel& sl,
                                         const TargetOptions& options) {
  auto series = api::parseSeriesSelector(selector);
  if (series && options.prometheusNamespaceScope) series = api::inNamespace(*series, sl.namespaceName);
  return series;
}

// The external targets of spec.autoscaling.queue: the backlog, and with drainWithin the
// replicas that drain it in time.
void queueTargets(const api::ServiceLevel& sl, const Sources& sources, const TargetOptions& options,
                  const std::shared_ptr<QueueReads>& reads, std::vector<MetricTarget>& out) {
  const api::QueueScaling& qs = *sl.autoscaling->queue;
  const auto& q = qs.redis;
  RedisQueue queue{q.address,       q.db, q.key, q.type == "stream" ? RedisQueue::Type::Stream : RedisQueue::Type::List,
                   q.consumerGroup, "",   q.tls};
  // Decided before any connection and any Secret: a refused address is never resolved, and no
  // password is read for it.
  auto allowed = allowedRedisAddress(q.address, sl.namespaceName, options.redisAllowlist);
  const std::string context = "redis " + q.address + " key " + q.key;
  const std::string source = "redis " + q.address;
  // The queue to connect to, with its password, or why there is none.
  auto resolve = [secrets = sources.secrets, queue, ref = q.passwordSecretRef, ns = sl.namespaceName, allowed,
                  context]() mutable -> kube::Result<RedisQueue> {
    if (!allowed) return kube::Error{allowed.error().status, context};
    queue.address = *allowed;
    if (ref) {
      auto password = secrets(ns, *ref);
      if (!password) return kube::Error{password.error().status, context};
      queue.password = *password;
    }
    return queue;
  };
  auto target = [&](const char* metric) {
    MetricTarget t;
    t.api = MetricTarget::Api::External;
    t.namespaceName = sl.namespaceName;
    t.metric = metric;
    t.serviceLevel = sl.name;
    t.key = "external/" + sl.namespaceName + "/" + metric + "/" + sl.name;
    t.labels = {{api::kServiceLevelLabel, sl.name}};
    // Also served on the ServiceLevel by the custom metrics API, for HPAs of an operator run
    // with --backlog-api=custom (where another provider owns the external API).
    describeByServiceLevel(t, sl);
    t.source = source;
    return t;
  };
  // Read once per poll for both targets, with the other queues of its source.
  const size_t read = reads->add(source, resolve, qs.drainWithin && queue.type == RedisQueue::Type::Stream);

  MetricTarget backlog = target(kBacklogMetric);
  // The backlog that makes the HPA's AverageValue target ask for exactly `replicas`.
  if (qs.fallback) {
    backlog.fallback = MetricTarget::Fallback{qs.fallback->afterFailures, static_cast<double>(qs.fallback->replicas) *
                                                                              static_cast<double>(qs.targetPerReplica)};
  }
  backlog.measure = [reads, read]() -> kube::Result<double> {
    const kube::Result<int64_t>& length = reads->reading(read).backlog;
    if (!length) return length.error();
    return static_cast<double>(length.value());
  };
  out.push_back(std::move(backlog));
  if (!qs.drainWithin) return;

  MetricTarget drain = target(kDrainReplicasMetric);
  if (qs.fallback) drain.fallback = MetricTarget::Fallback{qs.fallback->afterFailures, double(qs.fallback->replicas)};
  // The list's rate queries, rendered from their parse and scoped like the latency's.
  std::optional<std::string> arrival, processed;
  for (auto [text, query] : {std::pair{&qs.arrivalQuery, &arrival}, std::pair{&qs.processedQuery, &processed}}) {
    if (text->empty()) continue;
    auto series = scoped(*text, sl, options);
    *query = series ? counterRateQuery(api::renderSeriesSelector(*series), options.queueRateWindow) : "";
  }
  drain.measure = [sources, reads, read, arrival, processed, within = *qs.drainWithin,
                   key = DrainEstimator::Key{sl.namespaceName, sl.name},
                   workload = sl.workload]() mutable -> kube::Result<double> {
    const RedisReading& polled = reads->reading(read);
    if (!polled.backlog) return polled.backlog.error();
    QueueReading reading;
    reading.at = polled.at;
    reading.backlog = static_cast<double>(polled.backlog.value());
    if (polled.counts) {
      if (!*polled.counts) return polled.counts->error();
      reading.added = static_cast<double>((*polled.counts)->added);
      reading.acknowledged = static_cast<double>((*polled.counts)->acknowledged);
    }
    for (auto [query, rate] :
         {std::pair{&arrival, &reading.arrivalRate}, std::pair{&processed, &reading.processedRate}}) {
      if (!*query) continue;
      if ((*query)->empty()) return kube::Error{kube::Status{0, "Invalid", "a rate query is no series selector"}, ""};
      auto value = sources.prometheus.query(**query);
      if (!value) return value.error();
      *rate = *value;
    }
    auto replicas = sources.replicas(key.first, workload);
    if (!replicas) return replicas.error();
    reading.replicas = *replicas;
    return sources.drains.observe(key, reading, within);
  };
  out.push_back(std::move(drain));
}

}  // namespace

std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, const Sources& sources, const TargetOptions& options,
                                     const std::shared_ptr<QueueReads>& reads) {
  std::vector<MetricTarget> out;
  if (sl.autoscaling && sl.autoscaling->queue) queueTargets(sl, sources, options, reads, out);
  if (sl.objectives && sl.objectives->latency) {
    // Rendered from its parse, never pasted: the histogram stays one selector, and reads only
    // the ServiceLevel's namespace unless the adapter was told otherwise.
    auto series = scoped(sl.objectives->latency->histogram, sl, options);
    std::set<int> percentiles(std::begin(kServedPercentiles), std::end(kServedPercentiles));
    if (sl.autoscaling && sl.autoscaling->latency) percentiles.insert(sl.autoscaling->latency->percentile);
    for (int p : percentiles) {
      MetricTarget t;
      t.api = MetricTarget::Api::Custom;
      t.namespaceName = sl.namespaceName;
      t.metric = latencyMetric(p);
      t.serviceLevel = sl.name;
      t.resource = api::workloadResource(sl.workload.kind);
      t.objectKind = sl.workload.kind;
      t.objectName = sl.workload.name;
      t.key = customKey(t);
      if (series) {
        auto query = latencyQuery(api::renderSeriesSelector(*series), p / 100.0, options.latencyWindow);
        t.measure = [&prometheus = sources.prometheus, query] { return prometheus.query(query); };
      } else {  // parseServiceLevel refuses such a ServiceLevel
        t.measure = [error = series.error()]() -> kube::Result<double> { return error; };
      }
      t.source = "prometheus " + sources.prometheus.baseURL();
      out.push_back(std::move(t));
    }
  }
  if (sl.cache) {
    // The cache entry's value is the lookups counted so far; the ratio is served from `caches`,
    // which keeps it over idle polls.
    const std::string address = api::cacheAddress(sl.name, sl.namespaceName, options.cacheAddressTemplate);
    const CacheStats::Key key{sl.namespaceName, sl.name};
    MetricTarget t;
    t.api = MetricTarget::Api::Custom;
    t.namespaceName = sl.namespaceName;
    t.metric = kCacheHitRatioMetric;
    t.serviceLevel = sl.name;
    describeByServiceLevel(t, sl);
    t.key = customKey(t);
    t.labels = {{api::kServiceLevelLabel, sl.name}};
    t.source = "redis " + address;
    t.measure = [&redis = sources.redis, &caches = sources.caches, address, key]() -> kube::Result<double> {
      auto stats = redis.cacheStats(address);
      if (!stats) return stats.error();
      caches.observe(key, *stats);
      return static_cast<double>(stats->hits) + static_cast<double>(stats->misses);
    };
    t.served = [&caches = sources.caches, key] { return caches.ratio(key); };
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<MetricTarget> roundTargets(const std::vector<api::ServiceLevel>& serviceLevels, const Sources& sources,
                                       const TargetOptions& options, const LabelReader& workloadLabels) {
  std::vector<MetricTarget> all;
  std::set<CacheStats::Key> caches, drained;
  auto reads = std::make_shared<QueueReads>(sources.redis);
  for (const auto& sl : serviceLevels) {
    if (sl.cache) caches.insert({sl.namespaceName, sl.name});
    if (sl.autoscaling && sl.autoscaling->queue && sl.autoscaling->queue->drainWithin) {
      drained.insert({sl.namespaceName, sl.name});
    }
    for (auto& t : targetsFor(sl, sources, options, reads)) {
      // A workload's labels; a ServiceLevel's metric (the cache hit ratio) is selected by
      // its governor.io/service-level label alone, and a ServiceLevel is no workload to GET.
      if (t.api == MetricTarget::Api::Custom && t.resource != api::kServiceLevelResource) {
        if (auto labels = workloadLabels(t.namespaceName, {t.objectKind, t.objectName})) {
          for (const auto& [k, v] : *labels) t.labels[k] = v;
        }
      }
      all.push_back(std::move(t));
    }
  }
  sources.caches.retain(caches);  // the caches of deleted ServiceLevels leave /metrics
  sources.drains.retain(drained);
  return all;
}

void Targets::set(std::vector<MetricTarget> targets) {
  std::sort(targets.begin(), targets.end(), [](const MetricTarget& a, const MetricTarget& b) { return a.key < b.key; });
  std::lock_guard lock(mu_);
  targets_ = std::move(targets);
}

std::vector<MetricTarget> Targets::snapshot() const {
  std::lock_guard lock(mu_);
  return targets_;
}

}  // namespace governor::adapter
