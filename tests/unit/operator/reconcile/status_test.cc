// Conditions keep their transition time; "holds" ignores what the server adds.
#include <gtest/gtest.h>

#include "operator/reconcile/status.h"

namespace governor::op {
namespace {

TEST(SetCondition, TransitionTimeMovesOnlyWhenStatusChanges) {
  auto c = setCondition(Json::array(), {"Ready", false, "WorkloadNotFound", "missing"}, 1, "t1");
  c = setCondition(c, {"Ready", false, "Conflict", "other"}, 2, "t2");
  auto ready = findCondition(c, "Ready");
  EXPECT_EQ(ready["lastTransitionTime"], "t1");
  EXPECT_EQ(ready["reason"], "Conflict");
  EXPECT_EQ(ready["observedGeneration"], 2);
  c = setCondition(c, {"Ready", true, "Reconciled", "ok"}, 2, "t3");
  EXPECT_EQ(findCondition(c, "Ready")["lastTransitionTime"], "t3");
  EXPECT_EQ(c.size(), 1u);
  c = setCondition(c, {"CacheReady", true, "Reconciled", "ok"}, 2, "t3");
  EXPECT_EQ(removeCondition(c, "Ready").size(), 1u);
  EXPECT_EQ(findCondition(c, "Nope"), Json::object());
  EXPECT_EQ(findCondition(c, "Nope").value("status", ""), "") << "safe to read from when absent";
  EXPECT_EQ(findCondition(Json(), "Ready"), Json::object());
}

// HPA status conditions as kube-controller-manager writes them.
Json hpaStatus(Json conditions) { return {{"currentReplicas", 2}, {"conditions", std::move(conditions)}}; }
Json hpaCondition(const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message) {
  return {{"type", type}, {"status", status}, {"reason", reason}, {"message", message}};
}

TEST(ScalingActive, TakesTheHpasReasonAndMessage) {
  auto broken = scalingActive(hpaStatus(Json::array(
      {hpaCondition("AbleToScale", "True", "SucceededGetScale",
                    "the HPA controller was able to get the target's current scale"),
       hpaCondition("ScalingActive", "False", "FailedGetExternalMetric",
                    "the HPA was unable to compute the replica count: redis 10.0.0.1:6379: connection refused")})));
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->type, "ScalingActive");
  EXPECT_FALSE(broken->status);
  EXPECT_EQ(broken->reason, "FailedGetExternalMetric");
  EXPECT_EQ(broken->message,
            "the HPA was unable to compute the replica count: redis 10.0.0.1:6379: connection refused");
  EXPECT_TRUE(scalingBroken(*broken));

  auto fine = scalingActive(hpaStatus(
      Json::array({hpaCondition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
                   hpaCondition("ScalingActive", "True", "ValidMetricFound",
                                "the HPA was able to successfully calculate a replica count"),
                   hpaCondition("ScalingLimited", "True", "TooFewReplicas",
                                "the desired replica count is less than the minimum")})));
  ASSERT_TRUE(fine);
  EXPECT_TRUE(fine->status);
  EXPECT_EQ(fine->reason, "ValidMetricFound");
  EXPECT_FALSE(scalingBroken(*fine)) << "ScalingLimited is the HPA doing its job";
}

TEST(ScalingActive, AnHpaThatCannotReadItsTargetCannotScale) {
  auto c = scalingActive(hpaStatus(
      Json::array({hpaCondition("AbleToScale", "False", "FailedGetScale", "deployments/scale.apps \"api\" not found"),
                   hpaCondition("ScalingActive", "True", "ValidMetricFound", "earlier")})));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->status);
  EXPECT_EQ(c->reason, "FailedGetScale");
  EXPECT_TRUE(scalingBroken(*c));
}

TEST(ScalingActive, ScaledToZeroByHandIsNotAFault) {
  auto c = scalingActive(
      hpaStatus(Json::array({hpaCondition("ScalingActive", "False", "ScalingDisabled",
                                          "scaling is disabled since the replica count of the target is zero")})));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->status);
  EXPECT_FALSE(scalingBroken(*c));
}

TEST(ScalingActive, NothingBeforeTheHpaHasSaid) {
  EXPECT_FALSE(scalingActive(Json::object()));
  EXPECT_FALSE(scalingActive(hpaStatus(Json::array())));
}

// The adapter marks a fallback in the external item's metricLabels and in the custom item's
// metric.selector; a measured backlog carries neither.
TEST(ServedAsFallback, ReadsTheMarkOfEitherApi) {
  EXPECT_TRUE(servedAsFallback(Json::parse(
      R"({"metricName": "governor_queue_backlog", "value": "80",
          "metricLabels": {"governor.io/service-level": "w", "governor.io/fallback": "true"}})")));
  EXPECT_TRUE(servedAsFallback(Json::parse(
      R"({"metric": {"name": "governor_queue_backlog", "selector": {"matchLabels": {"governor.io/fallback": "true"}}},
          "value": "80"})")));
  EXPECT_FALSE(servedAsFallback(Json::parse(
      R"({"metricName": "governor_queue_backlog", "value": "80", "metricLabels": {"governor.io/service-level": "w"}})")));
  EXPECT_FALSE(servedAsFallback(Json::parse(R"({"metric": {"name": "governor_queue_backlog", "selector": null}})")));
  EXPECT_FALSE(servedAsFallback(Json::parse(R"({"metricLabels": {"governor.io/fallback": "false"}})")));
}

TEST(FallbackCondition, NamesTheFailuresAndTheReplicas) {
  auto c = fallbackCondition(3, 4);
  EXPECT_EQ(c.type, "Fallback");
  EXPECT_TRUE(c.status);
  EXPECT_EQ(c.reason, "SourceFailing");
  EXPECT_NE(c.message.find("failed to measure the backlog 3 polls in a row or more"), std::string::npos) << c.message;
  EXPECT_NE(c.message.find("asks the HPA for 4 replicas"), std::string::npos) << c.message;
}

TEST(FormatRatio, ThreeDecimalsAtMostNoTrailingZeros) {
  EXPECT_EQ(formatRatio(0.8126), "0.813");
  EXPECT_EQ(formatRatio(29.0 / 40), "0.725");
  EXPECT_EQ(formatRatio(0.5), "0.5");
  EXPECT_EQ(formatRatio(1), "1");
  EXPECT_EQ(formatRatio(0), "0");
}

TEST(Holds, DesiredFieldsMustMatchServerAdditionsDoNot) {
  Json live = {{"metadata", {{"name", "a"}, {"resourceVersion", "5"}, {"labels", {{"x", "1"}, {"y", "2"}}}}},
               {"spec", {{"replicas", 1}, {"ports", Json::array({{{"port", 80}, {"protocol", "TCP"}}})}}},
               {"status", {{"ready", true}}}};
  EXPECT_TRUE(holds(live, {{"metadata", {{"labels", {{"x", "1"}}}}}, {"spec", {{"replicas", 1}}}}));
  EXPECT_TRUE(holds(live, {{"spec", {{"ports", Json::array({{{"port", 80}}})}}}}));
  EXPECT_FALSE(holds(live, {{"spec", {{"replicas", 2}}}}));
  EXPECT_FALSE(holds(live, {{"spec", {{"ports", Json::array({{{"port", 80}}, {{"port", 81}}})}}}}));
  EXPECT_FALSE(holds(live, {{"spec", {{"missing", "x"}}}}));
  EXPECT_TRUE(holds(live, {{"spec", {{"empty", Json::object()}}}})) << "the server drops empty maps";
  EXPECT_TRUE(holds({{"v", 1.0}}, {{"v", 1}}));
}

TEST(OwnedBy, NeedsAControllerReferenceWithTheUid) {
  Json obj = {{"metadata", {{"ownerReferences", Json::array({{{"uid", "u1"}, {"controller", true}}})}}}};
  EXPECT_TRUE(ownedBy(obj, "u1"));
  EXPECT_FALSE(ownedBy(obj, "u2"));
  EXPECT_FALSE(ownedBy({{"metadata", Json::object()}}, "u1"));
}

}  // namespace
}  // namespace governor::op
