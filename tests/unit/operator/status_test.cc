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
  EXPECT_TRUE(findCondition(c, "Nope").is_null());
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

TEST(Rfc3339, FormatsUtcSeconds) {
  EXPECT_EQ(rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace governor::op
