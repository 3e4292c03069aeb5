// The contract between the two binaries: the metrics the adapter serves, which the operator
// puts into HPAs and reads back for status, and where the metrics APIs address them. One
// home, so that a renamed metric cannot leave one side asking for what the other no
// longer serves.
#pragma once

#include <string>

namespace governor::api {

// external.metrics.k8s.io: the queue backlog, selected by governor.io/service-level=NAME.
inline constexpr const char* kBacklogMetric = "governor_queue_backlog";
// external.metrics.k8s.io, selected like the backlog: the replicas that drain the backlog within
// spec.autoscaling.queue.drainWithin at the measured rates (the HPA's AverageValue is 1).
inline constexpr const char* kDrainReplicasMetric = "governor_queue_drain_replicas";
// In the backlog's metricLabels (external API) or metric.selector.matchLabels (custom API),
// "true" while the value served is the fallback of spec.autoscaling.queue.fallback, not a
// measured backlog.
inline constexpr const char* kFallbackLabel = "governor.io/fallback";
// custom.metrics.k8s.io on the ServiceLevel itself: the cache's hit ratio.
inline constexpr const char* kCacheHitRatioMetric = "governor_cache_hit_ratio";
// Exported on the adapter's /metrics per cache (labels namespace, servicelevel); the
// operator's cache alert rule reads them.
inline constexpr const char* kCacheHitsCounter = "governor_cache_keyspace_hits_total";
inline constexpr const char* kCacheMissesCounter = "governor_cache_keyspace_misses_total";
// The custom metrics API's resource for metrics described by a ServiceLevel.
inline constexpr const char* kServiceLevelResource = "servicelevels.governor.io";

// custom.metrics.k8s.io on the workload: "governor_latency_p95_seconds" for 95.
std::string latencyMetric(int percentile);
// The custom metrics API's resource of a workload kind: "statefulsets.apps" for
// StatefulSet, "deployments.apps" otherwise.
std::string workloadResource(const std::string& kind);

// Paths through the aggregator, as the HPA controller asks them. `object` "*" lists the
// metric of every object of that resource in the namespace; an external metric without a
// label selector is listed for every ServiceLevel in it.
std::string externalMetricPath(const std::string& ns, const std::string& metric);
std::string backlogPath(const std::string& ns, const std::string& serviceLevel);
std::string customMetricPath(const std::string& ns, const std::string& resource, const std::string& object,
                             const std::string& metric);

}  // namespace governor::api
