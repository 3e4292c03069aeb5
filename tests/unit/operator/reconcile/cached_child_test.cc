// cachedChild: what the child informers keep is enough for holds() to answer as it does
// of whole objects, and the rules and dashboards are not kept.
#include <gtest/gtest.h>

#include "operator/reconcile/cached_child.h"
#include "operator/reconcile/status.h"

namespace governor::op {
namespace {

const std::string kRules(20000, 'r');

Json liveConfigMap() {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", "checkout-rules"},
            {"namespace", "shop"},
            {"uid", "u1"},
            {"resourceVersion", "7"},
            {"generation", 1},
            {"creationTimestamp", "2026-01-01T00:00:00Z"},
            {"labels", {{"app.kubernetes.io/managed-by", "governor"}}},
            {"ownerReferences", Json::array({{{"uid", "sl"}, {"controller", true}}})}}},
          {"data", {{"checkout.rules.yaml", kRules}}}};
}

Json desiredConfigMap(const std::string& rules) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", "checkout-rules"},
            {"namespace", "shop"},
            {"labels", {{"app.kubernetes.io/managed-by", "governor"}}},
            {"ownerReferences", Json::array({{{"uid", "sl"}, {"controller", true}}})}}},
          {"data", {{"checkout.rules.yaml", rules}}}};
}

TEST(CachedChild, KeepsWhatTheReconcilerReadsAndDigestsTheData) {
  auto kept = cachedChild(liveConfigMap());
  EXPECT_EQ(kept["kind"], "ConfigMap");
  const auto& md = kept["metadata"];
  for (const char* field : {"name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences"}) {
    EXPECT_TRUE(md.contains(field)) << field;
  }
  EXPECT_FALSE(md.contains("generation"));
  EXPECT_FALSE(md.contains("creationTimestamp"));
  const auto& digest = kept["data"]["checkout.rules.yaml"].get_ref<const std::string&>();
  EXPECT_EQ(digest.rfind("sha256:", 0), 0u) << digest;
  EXPECT_EQ(digest.size(), 7u + 64u);
}

TEST(CachedChild, KeepsSpecAndStatus) {
  Json hpa = {{"metadata", {{"name", "checkout"}, {"namespace", "shop"}}},
              {"spec", {{"minReplicas", 1}, {"maxReplicas", 10}}},
              {"status", {{"currentReplicas", 2}, {"desiredReplicas", 3}}}};
  auto kept = cachedChild(hpa);
  EXPECT_EQ(kept["spec"], hpa["spec"]);
  EXPECT_EQ(kept["status"], hpa["status"]);
}

TEST(CachedChild, HoldsAnswersAsOfTheWholeObjects) {
  const auto live = liveConfigMap();
  for (const auto& desired : {desiredConfigMap(kRules), desiredConfigMap(kRules + "changed"), desiredConfigMap("")}) {
    EXPECT_EQ(holds(cachedChild(live), cachedChild(desired)), holds(live, desired)) << desired.dump().substr(0, 200);
  }
  EXPECT_TRUE(holds(cachedChild(live), cachedChild(desiredConfigMap(kRules))));
  EXPECT_FALSE(holds(cachedChild(live), cachedChild(desiredConfigMap(kRules + "changed"))));
  auto relabelled = desiredConfigMap(kRules);
  relabelled["metadata"]["labels"]["team"] = "payments";
  EXPECT_FALSE(holds(cachedChild(live), cachedChild(relabelled)));
}

}  // namespace
}  // namespace governor::op
