// ServiceLevel -> the objects that should exist. Pure: no I/O, no clock, so the
// reconciler and `governor-operator render` share it and tests need no cluster.
// One file per child kind: hpa.cc, quota.cc, redis.cc, rules.cc, dashboard.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"
#include "operator/api.h"

namespace governor::op {

// Each group of children has a condition of its own in the ServiceLevel's status.
enum class ChildGroup { Autoscaler, Cache, Quota, Rules };
const char* conditionType(ChildGroup group);  // "AutoscalerReady", "CacheReady", ...

struct Child {
  ChildGroup group;
  kube::Resource resource;
  Json object;  // complete, with apiVersion, kind and metadata
};

// Where the HPA reads the queue backlog: the external metrics API (the default), or, where
// another provider (KEDA, prometheus-adapter) owns external.metrics.k8s.io, the custom
// metrics API as an Object metric described by the ServiceLevel itself.
enum class BacklogApi { External, Custom };

struct RenderOptions {
  // When the cluster has no monitoring.coreos.com PrometheusRule CRD, the rules go into
  // a ConfigMap NAME-rules that plain Prometheus loads.
  bool prometheusRuleCrd = true;
  BacklogApi backlogApi = BacklogApi::External;
  // The workload's spec.replicas as read now: a ServiceLevel paused "where it is" holds it.
  std::optional<int32_t> workloadReplicas;
  // While the scale-down guard holds (autoscaling.scaleDownGuard): the HPA's minReplicas is
  // raised to this, never above maxReplicas. A pause still wins.
  std::optional<int32_t> guardFloor;
};

std::vector<Child> render(const ServiceLevel& sl, const RenderOptions& options = {});

// Every kind Governor may create, so the reconciler can find and delete children that
// the spec no longer implies.
const std::vector<kube::Resource>& childResources();

// metadata for a child: name, namespace, our labels, the owner reference (when the
// ServiceLevel has a uid, i.e. came from the API server).
Json childMetadata(const ServiceLevel& sl, const std::string& name);

// 64-bit FNV-1a of `text`: the same on every platform and run, unlike std::hash (the cache's
// config hash, the dashboard's uid, the shard of a namespace).
uint64_t fnv1a(std::string_view text);
// fnv1a as 16 hex digits.
std::string fnv1aHex(std::string_view text);

// Per kind (each in its own file).
std::vector<Child> renderAutoscaler(const ServiceLevel& sl, const RenderOptions& options = {});  // hpa.cc
// The replicas a paused ServiceLevel holds: the annotation's number, else the workload's
// replicas now; nullopt when not paused (or paused where it is, with the replicas unknown).
std::optional<int32_t> pausedReplicas(const ServiceLevel& sl, const RenderOptions& options);
std::vector<Child> renderQuota(const ServiceLevel& sl);                                // quota.cc
std::vector<Child> renderCache(const ServiceLevel& sl);                                // redis.cc
std::vector<Child> renderRules(const ServiceLevel& sl, const RenderOptions& options);  // rules.cc
// ConfigMap NAME-dashboard (label grafana_dashboard: "1"), ChildGroup::Rules; none when the
// ServiceLevel has no objectives, autoscaling or cache.hitRatioTarget.
std::vector<Child> renderDashboard(const ServiceLevel& sl);  // dashboard.cc

// The condition of a burn-rate tier ("page" or "ticket") over every objective: the PromQL of
// the tier's alerts joined by "or", which returns a series (labelled slo=...) while any of them
// burns, and the same in words ("availability: 14.4x over 1h and 5m (2% of the budget in 1h),
// or ..."). Empty without objectives. The alerts (rules.cc) and the scale-down guard both use
// it, so the guard holds exactly while the alert's condition does.
struct BurnConditions {
  std::string expr;
  std::string words;
};
BurnConditions burnConditions(const ServiceLevel& sl, const std::string& tier);  // rules.cc

// The redis.conf of the cache (cache mode: maxmemory, eviction policy, no persistence).
std::string redisConf(const Cache& cache);
// The rule file ("groups:" document) for the objectives and cache; null when the
// ServiceLevel has neither.
Json ruleGroups(const ServiceLevel& sl);

namespace resources {
inline const kube::Resource kHpa{"autoscaling", "v2", "horizontalpodautoscalers", true};
inline const kube::Resource kStatefulSet{"apps", "v1", "statefulsets", true};
inline const kube::Resource kDeployment{"apps", "v1", "deployments", true};
inline const kube::Resource kService{"", "v1", "services", true};
inline const kube::Resource kConfigMap{"", "v1", "configmaps", true};
inline const kube::Resource kResourceQuota{"", "v1", "resourcequotas", true};
inline const kube::Resource kLimitRange{"", "v1", "limitranges", true};
inline const kube::Resource kPrometheusRule{"monitoring.coreos.com", "v1", "prometheusrules", true};
inline const kube::Resource kServiceLevel{"governor.io", "v1alpha1", "servicelevels", true};
inline const kube::Resource kEvent{"events.k8s.io", "v1", "events", true};
inline const kube::Resource kLease{"coordination.k8s.io", "v1", "leases", true};
}  // namespace resources

}  // namespace governor::op
