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
                  const std::shared_ptr<RoundReads>& reads, std::vector<MetricTarget>& out) {
  const api::QueueScaling& qs = *sl.autoscaling->queue;
  const auto& q = qs.redis;
  RedisQueue queue{q.address,       q.db, q.key, q.type == "stream" ? RedisQueue::Type::Stream : RedisQueue::Type::List,
                   q.consumerGroup, "",   q.tls};
  // Decided before any connection and any Secret: a refused address is never resolved, and no
  // password is read for it.
  auto allowed = allowedRedisAddress(q.address, sl.namespaceName, options.redisAllowlist);
  const std::string context = "redis " + q.address + " key " + q.key;
  const std::string source = "redis " + q.address;
  // The queue to connect to, with its password, or why there is none. Kept as long as the
  // targets, so it holds only what it needs: a ServiceLevel without a Secret, just its queue.
  if (allowed) queue.address = allowed.value();
  QueueReads::Resolve resolve;
  if (!allowed) {
    resolve = [error = kube::Error{allowed.error().status, context}]() -> kube::Result<RedisQueue> { return error; };
  } else if (!q.passwordSecretRef) {
    resolve = [queue]() -> kube::Result<RedisQueue> { return queue; };
  } else {
    resolve = [secrets = sources.secrets, queue, ref = *q.passwordSecretRef, ns = sl.namespaceName,
               context]() -> kube::Result<RedisQueue> {
      // A copy: the targets are kept over rounds, and each resolves afresh.
      RedisQueue resolved = queue;
      auto password = secrets(ns, ref);
      if (!password) return kube::Error{password.error().status, context};
      resolved.password = *password;
      return resolved;
    };
  }
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
  const size_t read =
      reads->queues.add(source, std::move(resolve), qs.drainWithin && queue.type == RedisQueue::Type::Stream);

  MetricTarget backlog = target(kBacklogMetric);
  // The backlog that makes the HPA's AverageValue target ask for exactly `replicas`.
  if (qs.fallback) {
    backlog.fallback = MetricTarget::Fallback{qs.fallback->afterFailures, static_cast<double>(qs.fallback->replicas) *
                                                                              static_cast<double>(qs.targetPerReplica)};
  }
  backlog.measure = [reads, read]() -> kube::Result<double> {
    const kube::Result<int64_t> length = reads->queues.reading(read).backlog;
    if (!length) return length.error();
    return static_cast<double>(length.value());
  };
  out.push_back(std::move(backlog));
  if (!qs.drainWithin) return;

  MetricTarget drain = target(kDrainReplicasMetric);
  if (qs.fallback) drain.fallback = MetricTarget::Fallback{qs.fallback->afterFailures, double(qs.fallback->replicas)};
  // The list's rate queries, scoped like the latency's: the index of each read, or the reason
  // it cannot be made.
  std::optional<kube::Result<size_t>> arrival, processed;
  for (auto [text, query] : {std::pair{&qs.arrivalQuery, &arrival}, std::pair{&qs.processedQuery, &processed}}) {
    if (text->empty()) continue;
    auto series = scoped(*text, sl, options);
    *query = series ? kube::Result<size_t>(reads->prometheus.addRate(*series)) : kube::Result<size_t>(series.error());
  }
  drain.measure = [sources, reads, read, arrival, processed, within = *qs.drainWithin,
                   key = DrainEstimator::Key{sl.namespaceName, sl.name},
                   workload = sl.workload]() mutable -> kube::Result<double> {
    const RedisReading polled = reads->queues.reading(read);
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
      if (!**query) return (*query)->error();  // parseServiceLevel refuses such a ServiceLevel
      auto value = reads->prometheus.reading(***query);
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
                                     const std::shared_ptr<RoundReads>& reads) {
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
        t.measure = [reads, read = reads->prometheus.addQuantile(*series, p)] {
          return reads->prometheus.reading(read);
        };
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

std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, const Sources& sources,
                                     const TargetOptions& options) {
  return targetsFor(sl, sources, options, std::make_shared<RoundReads>(sources, options));
}

void RoundTargets::add(const api::ServiceLevel& sl) {
  if (sl.cache) caches_.insert({sl.namespaceName, sl.name});
  if (sl.autoscaling && sl.autoscaling->queue && sl.autoscaling->queue->drainWithin) {
    drained_.insert({sl.namespaceName, sl.name});
  }
  for (auto& t : targetsFor(sl, sources_, options_, reads_)) {
    // A workload's labels; a ServiceLevel's metric (the cache hit ratio) is selected by
    // its governor.io/service-level label alone, and a ServiceLevel is no workload to GET.
    if (t.api == MetricTarget::Api::Custom && t.resource != api::kServiceLevelResource) {
      if (auto labels = workloadLabels_(t.namespaceName, {t.objectKind, t.objectName})) {
        for (const auto& [k, v] : *labels) t.labels[k] = v;
      }
    }
    all_.push_back(std::move(t));
  }
}

std::vector<MetricTarget> RoundTargets::take() && {
  sources_.caches.retain(caches_);  // the caches of deleted ServiceLevels leave /metrics
  sources_.drains.retain(drained_);
  all_.shrink_to_fit();  // kept until the next change
  return std::move(all_);
}

namespace {

// TargetSnapshot's index fields (its Fields).
using Fields = std::array<std::string_view, 4>;

std::optional<Fields> byMetric(const MetricTarget& t) {
  if (t.api != MetricTarget::Api::External) return std::nullopt;
  return Fields{t.namespaceName, t.metric};
}

std::optional<Fields> byServiceLevel(const MetricTarget& t) {
  auto sl = t.labels.find(api::kServiceLevelLabel);
  if (t.api != MetricTarget::Api::External || sl == t.labels.end()) return std::nullopt;
  return Fields{t.namespaceName, t.metric, sl->second};
}

std::optional<Fields> byResource(const MetricTarget& t) {
  if (t.resource.empty()) return std::nullopt;
  return Fields{t.namespaceName, t.resource, t.metric};
}

std::optional<Fields> byObject(const MetricTarget& t) {
  if (t.resource.empty()) return std::nullopt;
  return Fields{t.namespaceName, t.resource, t.metric, t.objectName};
}

}  // namespace

TargetSnapshot::TargetSnapshot(std::vector<MetricTarget> targets) : all_(std::move(targets)) {
  std::sort(all_.begin(), all_.end(), [](const MetricTarget& a, const MetricTarget& b) { return a.key < b.key; });
  external_ = index(byMetric);
  externalOf_ = index(byServiceLevel);
  custom_ = index(byResource);
  customOf_ = index(byObject);
}

TargetSnapshot::Index TargetSnapshot::index(FieldsOf fieldsOf) const {
  Index index{fieldsOf, {}};
  for (uint32_t i = 0; i < all_.size(); ++i) {
    if (fieldsOf(all_[i])) index.order.push_back(i);
  }
  index.order.shrink_to_fit();
  // Stable: all_ is in key order, and so is each run of equal fields.
  std::stable_sort(index.order.begin(), index.order.end(),
                   [&](uint32_t a, uint32_t b) { return *fieldsOf(all_[a]) < *fieldsOf(all_[b]); });
  return index;
}

std::vector<const MetricTarget*> TargetSnapshot::matching(const Index& index, const Fields& fields,
                                                          const kube::Selector& selector) const {
  std::vector<const MetricTarget*> out;
  // A position against the fields looked up, either way round.
  struct Before {
    const TargetSnapshot& snapshot;
    FieldsOf fieldsOf;
    bool operator()(uint32_t i, const Fields& f) const { return *fieldsOf(snapshot.all_[i]) < f; }
    bool operator()(const Fields& f, uint32_t i) const { return f < *fieldsOf(snapshot.all_[i]); }
  };
  auto [first, last] = std::equal_range(index.order.begin(), index.order.end(), fields, Before{*this, index.fieldsOf});
  for (auto i = first; i != last; ++i) {
    if (selector.matches(all_[*i].labels)) out.push_back(&all_[*i]);
  }
  return out;
}

std::vector<const MetricTarget*> TargetSnapshot::external(const std::string& ns, const std::string& metric,
                                                          const kube::Selector& selector) const {
  for (const auto& r : selector.requirements()) {
    using Op = kube::Requirement::Operator;
    if (r.key != api::kServiceLevelLabel || (r.op != Op::Equals && r.op != Op::DoubleEquals && r.op != Op::In)) {
      continue;
    }
    std::vector<const MetricTarget*> out;
    for (const auto& sl : r.values) {
      auto some = matching(externalOf_, {ns, metric, sl}, selector);
      out.insert(out.end(), some.begin(), some.end());
    }
    std::sort(out.begin(), out.end(), [](const MetricTarget* a, const MetricTarget* b) { return a->key < b->key; });
    return out;
  }
  return matching(external_, {ns, metric}, selector);
}

std::vector<const MetricTarget*> TargetSnapshot::custom(const std::string& ns, const std::string& resource,
                                                        const std::string& name, const std::string& metric,
                                                        const kube::Selector& selector) const {
  if (name == "*") return matching(custom_, {ns, resource, metric}, selector);
  return matching(customOf_, {ns, resource, metric, name}, kube::Selector());
}

void Targets::set(std::vector<MetricTarget> targets) {
  auto next = std::make_shared<const TargetSnapshot>(std::move(targets));
  std::lock_guard lock(mu_);
  targets_ = std::move(next);
}

std::shared_ptr<const TargetSnapshot> Targets::snapshot() const {
  std::lock_guard lock(mu_);
  return targets_;
}

}  // namespace governor::adapter
