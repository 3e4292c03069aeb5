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

}  // namespace

std::vector<MetricTarget> targetsFor(const api::ServiceLevel& sl, RedisSource& redis, kube::PrometheusClient& prometheus,
                                     CacheStats& caches, const SecretReader& secrets, const TargetOptions& options) {
  std::vector<MetricTarget> out;
  if (sl.autoscaling && sl.autoscaling->queue) {
    const auto& q = sl.autoscaling->queue->redis;
    RedisQueue queue{q.address, q.db, q.key, q.type == "stream" ? RedisQueue::Type::Stream : RedisQueue::Type::List,
                     q.consumerGroup, "", q.tls};
    MetricTarget t;
    t.api = MetricTarget::Api::External;
    t.namespaceName = sl.namespaceName;
    t.metric = kBacklogMetric;
    t.serviceLevel = sl.name;
    t.key = "external/" + sl.namespaceName + "/" + kBacklogMetric + "/" + sl.name;
    t.labels = {{api::kServiceLevelLabel, sl.name}};
    // Also served on the ServiceLevel by the custom metrics API, for HPAs of an operator run
    // with --backlog-api=custom (where another provider owns the external API).
    describeByServiceLevel(t, sl);
    t.source = "redis " + q.address;
    // The backlog that makes the HPA's AverageValue target ask for exactly `replicas`.
    if (const auto& f = sl.autoscaling->queue->fallback) {
      t.fallback = MetricTarget::Fallback{f->afterFailures, static_cast<double>(f->replicas) *
                                                                static_cast<double>(sl.autoscaling->queue->targetPerReplica)};
    }
    auto ref = q.passwordSecretRef;
    auto ns = sl.namespaceName;
    // Decided before any connection and any Secret: a refused address is never resolved, and no
    // password is read for it.
    auto allowed = allowedRedisAddress(q.address, sl.namespaceName, options.redisAllowlist);
    const std::string context = "redis " + q.address + " key " + q.key;
    t.measure = [&redis, secrets, queue, ref, ns, allowed, context]() mutable -> kube::Result<double> {
      if (!allowed) return kube::Error{allowed.error().status, context};
      queue.address = *allowed;
      if (ref) {
        auto password = secrets(ns, *ref);
        if (!password) return kube::Error{password.error().status, context};
        queue.password = *password;
      }
      auto backlog = redis.backlog(queue);
      if (!backlog) return backlog.error();
      return static_cast<double>(*backlog);
    };
    out.push_back(std::move(t));
  }
  if (sl.objectives && sl.objectives->latency) {
    // Rendered from its parse, never pasted: the histogram stays one selector, and reads only
    // the ServiceLevel's namespace unless the adapter was told otherwise.
    auto series = api::parseSeriesSelector(sl.objectives->latency->histogram);
    if (series && options.prometheusNamespaceScope) series = api::inNamespace(*series, sl.namespaceName);
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
        t.measure = [&prometheus, query] { return prometheus.query(query); };
      } else {  // parseServiceLevel refuses such a ServiceLevel
        t.measure = [error = series.error()]() -> kube::Result<double> { return error; };
      }
      t.source = "prometheus " + prometheus.baseURL();
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
    t.measure = [&redis, &caches, address, key]() -> kube::Result<double> {
      auto stats = redis.cacheStats(address);
      if (!stats) return stats.error();
      caches.observe(key, *stats);
      return static_cast<double>(stats->hits) + static_cast<double>(stats->misses);
    };
    t.served = [&caches, key] { return caches.ratio(key); };
    out.push_back(std::move(t));
  }
  return out;
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
