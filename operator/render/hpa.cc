// The HorizontalPodAutoscaler (autoscaling/v2) of spec.autoscaling: an External metric for
// the queue backlog (or an Object metric on the ServiceLevel, RenderOptions::backlogApi) and
// an Object metric for the workload's latency, both served by governor-metrics-adapter, and
// Resource metrics for CPU and memory.
#include <algorithm>
#include <string>

#include "api/metrics.h"
#include "kube/quantity.h"
#include "operator/render/render.h"

namespace governor::op {
namespace {

// A duration in seconds as a Kubernetes quantity: 250ms -> "250m", 2s -> "2", 1500ms -> "1500m".
std::string secondsQuantity(std::chrono::milliseconds d) {
  auto q = kube::parseQuantity(std::to_string(d.count()) + "m");
  return q ? q->canonical() : std::to_string(d.count()) + "m";
}

Json workloadRef(const Workload& w) { return {{"apiVersion", "apps/v1"}, {"kind", w.kind}, {"name", w.name}}; }

}  // namespace

std::optional<int32_t> pausedReplicas(const ServiceLevel& sl, const RenderOptions& options) {
  if (!sl.autoscaling || !sl.paused) return std::nullopt;
  return sl.paused->replicas ? sl.paused->replicas : options.workloadReplicas;
}

std::vector<Child> renderAutoscaler(const ServiceLevel& sl, const RenderOptions& options) {
  if (!sl.autoscaling) return {};
  const Autoscaling& a = *sl.autoscaling;

  Json metrics = Json::array();
  // A queue metric of the adapter: External, or an Object metric on the ServiceLevel
  // (options.backlogApi). Both divide the value by the pods for an AverageValue target.
  auto queueMetric = [&](const char* name, const std::string& perReplica) {
    const Json target = {{"type", "AverageValue"}, {"averageValue", perReplica}};
    if (options.backlogApi == BacklogApi::Custom) {
      metrics.push_back(
          {{"type", "Object"},
           {"object",
            {{"describedObject", {{"apiVersion", api::kApiVersion}, {"kind", api::kKind}, {"name", sl.name}}},
             {"metric", {{"name", name}}},
             {"target", target}}}});
    } else {
      metrics.push_back(
          {{"type", "External"},
           {"external",
            {{"metric", {{"name", name}, {"selector", {{"matchLabels", {{kServiceLevelLabel, sl.name}}}}}}},
             {"target", target}}}});
    }
  };
  if (a.queue && a.queue->targetPerReplica > 0) {
    queueMetric(api::kBacklogMetric, std::to_string(a.queue->targetPerReplica));
  }
  // The adapter serves the replicas needed; an AverageValue of 1 asks the HPA for their ceiling.
  if (a.queue && a.queue->drainWithin) queueMetric(api::kDrainReplicasMetric, "1");
  if (a.latency) {
    metrics.push_back({{"type", "Object"},
                       {"object",
                        {{"describedObject", workloadRef(sl.workload)},
                         {"metric", {{"name", api::latencyMetric(a.latency->percentile)}}},
                         {"target", {{"type", "Value"}, {"value", secondsQuantity(a.latency->target)}}}}}});
  }
  for (const auto& [name, t] : a.resources) {
    Json target = t.averageUtilization ? Json{{"type", "Utilization"}, {"averageUtilization", *t.averageUtilization}}
                                       : Json{{"type", "AverageValue"}, {"averageValue", t.averageValue->canonical()}};
    metrics.push_back({{"type", "Resource"}, {"resource", {{"name", name}, {"target", target}}}});
  }

  // The HPA cannot hold 0 (without its alpha gate): with minReplicas 0 its floor is 1 and the
  // operator scales to and from none. A pause holds the HPA at the paused replicas; at 0 the
  // operator scales the workload to none and the HPA, seeing none, stops (ScalingDisabled).
  int32_t minReplicas = std::max(a.minReplicas, 1);
  int32_t maxReplicas = a.maxReplicas;
  // The scale-down guard holds the floor where the workload is while the SLO burns.
  if (options.guardFloor) minReplicas = std::min(std::max(minReplicas, *options.guardFloor), maxReplicas);
  if (auto held = pausedReplicas(sl, options); held && *held > 0) minReplicas = maxReplicas = *held;
  Json spec = {
      {"scaleTargetRef", workloadRef(sl.workload)}, {"minReplicas", minReplicas}, {"maxReplicas", maxReplicas}};
  // Without metrics the API server would default to 80% CPU, which nobody asked for; the
  // parser already rejects an autoscaling section with nothing to scale on.
  if (!metrics.empty()) spec["metrics"] = metrics;
  if (!a.behavior.is_null()) spec["behavior"] = a.behavior;

  Json hpa = {{"apiVersion", "autoscaling/v2"},
              {"kind", "HorizontalPodAutoscaler"},
              {"metadata", childMetadata(sl, sl.name)},
              {"spec", spec}};
  return {Child{ChildGroup::Autoscaler, resources::kHpa, std::move(hpa)}};
}

}  // namespace governor::op
