// renderAutoscaler: the HorizontalPodAutoscaler users see for spec.autoscaling.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "kube/quantity.h"
#include "operator/render/render.h"
#include "sample.h"

namespace governor::op {
namespace {

using std::chrono::milliseconds;

QueueScaling queue(int64_t targetPerReplica) {
  QueueScaling q;
  q.redis.address = "redis.shop:6379";
  q.redis.key = "jobs";
  q.targetPerReplica = targetPerReplica;
  return q;
}

LatencyScaling latency(int percentile, milliseconds target) { return {percentile, target}; }

Json only(const std::vector<Child>& children) {
  EXPECT_EQ(children.size(), 1u);
  return children.empty() ? Json() : children[0].object;
}

TEST(RenderAutoscalerTest, NothingWithoutAutoscaling) { EXPECT_TRUE(renderAutoscaler(checkout()).empty()); }

TEST(RenderAutoscalerTest, RendersTheWholeHpaForQueueLatencyAndBehavior) {
  const ServiceLevel sl = parsed(R"(  workload: {name: checkout}
  objectives:
    latency: {threshold: 200ms, target: "95", histogram: http_request_duration_seconds_bucket}
  autoscaling:
    minReplicas: 2
    maxReplicas: 20
    queue:
      redis: {address: "redis.shop:6379", key: jobs}
      targetPerReplica: 100
    latency: {percentile: 95, target: 250ms}
    behavior: {scaleDown: {stabilizationWindowSeconds: 60}}
)");

  auto children = renderAutoscaler(sl);
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].group, ChildGroup::Autoscaler);
  EXPECT_EQ(children[0].resource.apiVersion(), "autoscaling/v2");
  EXPECT_EQ(children[0].resource.plural, "horizontalpodautoscalers");
  EXPECT_EQ(children[0].object, Json::parse(R"({
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {
      "name": "checkout",
      "namespace": "shop",
      "labels": {"app.kubernetes.io/managed-by": "governor", "governor.io/service-level": "checkout"},
      "ownerReferences": [{"apiVersion": "governor.io/v1alpha1", "kind": "ServiceLevel", "name": "checkout",
                           "uid": "0b6f3c1e-uid", "controller": true, "blockOwnerDeletion": true}]
    },
    "spec": {
      "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
      "minReplicas": 2,
      "maxReplicas": 20,
      "metrics": [
        {"type": "External",
         "external": {
           "metric": {"name": "governor_queue_backlog",
                      "selector": {"matchLabels": {"governor.io/service-level": "checkout"}}},
           "target": {"type": "AverageValue", "averageValue": "100"}}},
        {"type": "Object",
         "object": {
           "describedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
           "metric": {"name": "governor_latency_p95_seconds"},
           "target": {"type": "Value", "value": "250m"}}}
      ],
      "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}
    }
  })"))
      << children[0].object.dump(2);
}

TEST(RenderAutoscalerTest, OnlyQueueHasOneExternalMetricAndNoBehavior) {
  ServiceLevel sl = checkout();
  Autoscaling a;
  a.maxReplicas = 5;
  a.queue = queue(7);
  sl.autoscaling = a;

  Json spec = only(renderAutoscaler(sl))["spec"];
  EXPECT_EQ(spec["minReplicas"], 1);
  EXPECT_EQ(spec["maxReplicas"], 5);
  ASSERT_EQ(spec["metrics"].size(), 1u);
  EXPECT_EQ(spec["metrics"][0]["type"], "External");
  EXPECT_EQ(spec["metrics"][0]["external"]["target"]["averageValue"], "7");
  EXPECT_FALSE(spec.contains("behavior"));
}

TEST(RenderAutoscalerTest, OnlyLatencyOnAStatefulSet) {
  ServiceLevel sl = checkout();
  sl.workload = {"StatefulSet", "db"};
  Autoscaling a;
  a.maxReplicas = 3;
  a.latency = latency(99, milliseconds(2000));
  sl.autoscaling = a;

  Json spec = only(renderAutoscaler(sl))["spec"];
  Json workload = {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"name", "db"}};
  EXPECT_EQ(spec["scaleTargetRef"], workload);
  ASSERT_EQ(spec["metrics"].size(), 1u);
  const Json& object = spec["metrics"][0]["object"];
  EXPECT_EQ(spec["metrics"][0]["type"], "Object");
  EXPECT_EQ(object["describedObject"], workload);
  EXPECT_EQ(object["metric"]["name"], "governor_latency_p99_seconds");
  EXPECT_EQ(object["target"], Json::parse(R"({"type": "Value", "value": "2"})"));
}

TEST(RenderAutoscalerTest, LatencyTargetIsSecondsAsAQuantity) {
  struct Case {
    int64_t millis;
    std::string value;
  };
  const Case cases[] = {
      {250, "250m"}, {2000, "2"}, {1500, "1500m"}, {1, "1m"}, {60000, "60"}, {100, "100m"}, {10000, "10"},
  };
  for (const auto& c : cases) {
    ServiceLevel sl = checkout();
    Autoscaling a;
    a.maxReplicas = 2;
    a.latency = latency(95, milliseconds(c.millis));
    sl.autoscaling = a;
    Json metric = only(renderAutoscaler(sl))["spec"]["metrics"][0];
    EXPECT_EQ(metric["object"]["target"]["value"], c.value) << c.millis << "ms";
  }
}

TEST(RenderAutoscalerTest, BehaviorIsPassedThroughUntouched) {
  const Json behavior = Json::parse(R"({
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15},
                             {"type": "Pods", "value": 4, "periodSeconds": 15}]},
    "scaleDown": {"selectPolicy": "Disabled"}
  })");
  ServiceLevel sl = checkout();
  Autoscaling a;
  a.maxReplicas = 10;
  a.queue = queue(50);
  a.behavior = behavior;
  sl.autoscaling = a;
  EXPECT_EQ(only(renderAutoscaler(sl))["spec"]["behavior"], behavior);
}

TEST(RenderAutoscalerTest, CpuAndMemoryBesideTheQueueInTheSameHpa) {
  ServiceLevel sl = checkout();
  Autoscaling a;
  a.maxReplicas = 10;
  a.queue = queue(50);
  a.resources["cpu"].averageUtilization = 70;
  a.resources["memory"].averageValue = kube::parseQuantity("512Mi").value();
  sl.autoscaling = a;
  Json metrics = only(renderAutoscaler(sl))["spec"]["metrics"];
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0]["type"], "External");
  EXPECT_EQ(metrics[1], Json::parse(R"({"type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}})"));
  EXPECT_EQ(metrics[2], Json::parse(R"({"type": "Resource",
    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}})"));
}

TEST(RenderAutoscalerTest, BacklogAsAnObjectMetricOnTheServiceLevelWhereTheExternalApiIsAnothers) {
  ServiceLevel sl = checkout();
  Autoscaling a;
  a.maxReplicas = 5;
  a.queue = queue(7);
  sl.autoscaling = a;
  Json metrics = only(renderAutoscaler(sl, {.backlogApi = BacklogApi::Custom}))["spec"]["metrics"];
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0], Json::parse(R"({"type": "Object", "object": {
    "describedObject": {"apiVersion": "governor.io/v1alpha1", "kind": "ServiceLevel", "name": "checkout"},
    "metric": {"name": "governor_queue_backlog"},
    "target": {"type": "AverageValue", "averageValue": "7"}}})"));
}

TEST(RenderAutoscalerTest, DrainWithinAddsTheDrainReplicasAtOnePerReplica) {
  ServiceLevel sl = checkout();
  Autoscaling a;
  a.maxReplicas = 5;
  a.queue = queue(7);
  a.queue->drainWithin = std::chrono::minutes(2);
  sl.autoscaling = a;
  Json metrics = only(renderAutoscaler(sl))["spec"]["metrics"];
  ASSERT_EQ(metrics.size(), 2u) << "the backlog per replica and the drain time: the HPA takes the larger";
  EXPECT_EQ(metrics[0]["external"]["metric"]["name"], "governor_queue_backlog");
  EXPECT_EQ(metrics[1], Json::parse(R"({"type": "External", "external": {
    "metric": {"name": "governor_queue_drain_replicas",
               "selector": {"matchLabels": {"governor.io/service-level": "checkout"}}},
    "target": {"type": "AverageValue", "averageValue": "1"}}})"));

  sl.autoscaling->queue->targetPerReplica = 0;  // drainWithin alone
  metrics = only(renderAutoscaler(sl, {.backlogApi = BacklogApi::Custom}))["spec"]["metrics"];
  ASSERT_EQ(metrics.size(), 1u) << metrics.dump();
  EXPECT_EQ(metrics[0], Json::parse(R"({"type": "Object", "object": {
    "describedObject": {"apiVersion": "governor.io/v1alpha1", "kind": "ServiceLevel", "name": "checkout"},
    "metric": {"name": "governor_queue_drain_replicas"},
    "target": {"type": "AverageValue", "averageValue": "1"}}})"));
}

// checkout scaling on a queue from `min` to `max` replicas.
ServiceLevel queued(int32_t min, int32_t max) {
  ServiceLevel sl = checkout();
  Autoscaling a;
  a.minReplicas = min;
  a.maxReplicas = max;
  a.queue = queue(7);
  sl.autoscaling = a;
  return sl;
}

// The HPA's minReplicas and maxReplicas.
std::pair<int, int> bounds(const ServiceLevel& sl, const RenderOptions& o) {
  Json spec = only(renderAutoscaler(sl, o))["spec"];
  return {spec["minReplicas"].get<int>(), spec["maxReplicas"].get<int>()};
}

TEST(RenderAutoscalerTest, MinReplicasZeroGivesTheHpaAFloorOfOne) {
  EXPECT_EQ(bounds(queued(0, 5), {}), std::pair(1, 5));
}

TEST(RenderAutoscalerTest, APauseHoldsTheHpaAtThePausedReplicas) {
  ServiceLevel sl = queued(2, 10);
  auto bounds = [&](const RenderOptions& o) { return governor::op::bounds(sl, o); };
  sl.paused = Pause{3};
  EXPECT_EQ(bounds({.workloadReplicas = 6}), std::pair(3, 3));
  sl.paused = Pause{};  // where it is
  EXPECT_EQ(bounds({.workloadReplicas = 6}), std::pair(6, 6));
  EXPECT_EQ(pausedReplicas(sl, {.workloadReplicas = 6}), 6);
  // At 0 the HPA keeps its bounds: the operator scales the workload to none, and the HPA stops.
  sl.paused = Pause{0};
  EXPECT_EQ(bounds({.workloadReplicas = 6}), std::pair(2, 10));
  EXPECT_EQ(pausedReplicas(sl, {.workloadReplicas = 6}), 0);
  sl.paused.reset();
  EXPECT_EQ(bounds({.workloadReplicas = 6}), std::pair(2, 10));
  EXPECT_EQ(pausedReplicas(sl, {.workloadReplicas = 6}), std::nullopt);
}

TEST(RenderAutoscalerTest, TheScaleDownGuardRaisesTheFloorNeverAboveMax) {
  ServiceLevel sl = queued(2, 10);
  auto bounds = [&](const RenderOptions& o) { return governor::op::bounds(sl, o); };
  EXPECT_EQ(bounds({.guardFloor = 6}), std::pair(6, 10));
  EXPECT_EQ(bounds({.guardFloor = 1}), std::pair(2, 10));    // never below minReplicas
  EXPECT_EQ(bounds({.guardFloor = 14}), std::pair(10, 10));  // never above maxReplicas
  EXPECT_EQ(bounds({}), std::pair(2, 10));                   // released
  sl.paused = Pause{3};                                      // a pause wins
  EXPECT_EQ(bounds({.workloadReplicas = 6, .guardFloor = 6}), std::pair(3, 3));
}

}  // namespace
}  // namespace governor::op
