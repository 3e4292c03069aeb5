// The HorizontalPodAutoscaler (autoscaling/v2) of spec.autoscaling: an External metric for
// the queue backlog and an Object metric for the workload's latency, both served by
// governor-metrics-adapter.
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

Json workloadRef(const Workload& w) {
  return {{"apiVersion", "apps/v1"}, {"kind", w.kind}, {"name", w.name}};
}

}  // namespace

std::vector<Child> renderAutoscaler(const ServiceLevel& sl) {
  if (!sl.autoscaling) return {};
  const Autoscaling& a = *sl.autoscaling;

  Json metrics = Json::array();
  if (a.queue) {
    metrics.push_back(
        {{"type", "External"},
         {"external",
          {{"metric",
            {{"name", api::kBacklogMetric},
             {"selector", {{"matchLabels", {{kServiceLevelLabel, sl.name}}}}}}},
           {"target", {{"type", "AverageValue"}, {"averageValue", std::to_string(a.queue->targetPerReplica)}}}}}});
  }
  if (a.latency) {
    metrics.push_back(
        {{"type", "Object"},
         {"object",
          {{"describedObject", workloadRef(sl.workload)},
           {"metric", {{"name", api::latencyMetric(a.latency->percentile)}}},
           {"target", {{"type", "Value"}, {"value", secondsQuantity(a.latency->target)}}}}}});
  }

  Json spec = {{"scaleTargetRef", workloadRef(sl.workload)},
               {"minReplicas", a.minReplicas},
               {"maxReplicas", a.maxReplicas}};
  // Without metrics the API server would default to 80% CPU, which nobody asked for; the
  // parser already rejects an autoscaling section with neither queue nor latency.
  if (!metrics.empty()) spec["metrics"] = metrics;
  if (!a.behavior.is_null()) spec["behavior"] = a.behavior;

  Json hpa = {{"apiVersion", "autoscaling/v2"},
              {"kind", "HorizontalPodAutoscaler"},
              {"metadata", childMetadata(sl, sl.name)},
              {"spec", spec}};
  return {Child{ChildGroup::Autoscaler, resources::kHpa, std::move(hpa)}};
}

}  // namespace governor::op
