// renderQuota: the ResourceQuota and LimitRange users see for spec.quota.
#include <string>

#include <gtest/gtest.h>

#include "operator/render/render.h"
#include "sample.h"

namespace governor::op {
namespace {

const Json kMetadata = Json::parse(R"({
  "name": "checkout",
  "namespace": "shop",
  "labels": {"app.kubernetes.io/managed-by": "governor", "governor.io/service-level": "checkout"},
  "ownerReferences": [{"apiVersion": "governor.io/v1alpha1", "kind": "ServiceLevel", "name": "checkout",
                       "uid": "0b6f3c1e-uid", "controller": true, "blockOwnerDeletion": true}]
})");

TEST(RenderQuotaTest, NothingWithoutQuota) { EXPECT_TRUE(renderQuota(checkout()).empty()); }

TEST(RenderQuotaTest, RendersResourceQuotaAndLimitRange) {
  const ServiceLevel sl = parsed(R"(  workload: {name: checkout}
  quota:
    hard: {requests.cpu: "8", requests.memory: 16Gi, pods: "50"}
    limitRange: {defaultRequest: {cpu: 100m, memory: 128Mi}, default: {cpu: 500m, memory: 512Mi}}
)");

  auto children = renderQuota(sl);
  ASSERT_EQ(children.size(), 2u);

  EXPECT_EQ(children[0].group, ChildGroup::Quota);
  EXPECT_EQ(children[0].resource.plural, "resourcequotas");
  EXPECT_EQ(
      children[0].object,
      (Json{{"apiVersion", "v1"}, {"kind", "ResourceQuota"}, {"metadata", kMetadata}, {"spec", Json::parse(R"({"hard": {
                                         "requests.cpu": "8", "requests.memory": "16Gi", "pods": "50"}})")}}))
      << children[0].object.dump(2);

  EXPECT_EQ(children[1].group, ChildGroup::Quota);
  EXPECT_EQ(children[1].resource.plural, "limitranges");
  EXPECT_EQ(
      children[1].object,
      (Json{{"apiVersion", "v1"}, {"kind", "LimitRange"}, {"metadata", kMetadata}, {"spec", Json::parse(R"({"limits": [{
                                         "type": "Container",
                                         "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                                         "default": {"cpu": "500m", "memory": "512Mi"}}]})")}}))
      << children[1].object.dump(2);
}

TEST(RenderQuotaTest, RendersOnlyWhatIsGiven) {
  using Map = std::map<std::string, std::string>;
  struct Case {
    std::string what;
    Quota quota;
    std::vector<std::string> kinds;
    Json limit;  // the LimitRange's one limit, when there is one
  };
  const Case cases[] = {
      {"empty section", Quota{}, {}, nullptr},
      {"only hard", Quota{Map{{"pods", "10"}}, {}, {}}, {"ResourceQuota"}, nullptr},
      {"only limitRange",
       Quota{{}, Map{{"cpu", "100m"}}, Map{{"cpu", "1"}}},
       {"LimitRange"},
       Json::parse(R"({"type": "Container", "defaultRequest": {"cpu": "100m"}, "default": {"cpu": "1"}})")},
      {"only defaultRequest",
       Quota{{}, Map{{"memory", "64Mi"}}, {}},
       {"LimitRange"},
       Json::parse(R"({"type": "Container", "defaultRequest": {"memory": "64Mi"}})")},
      {"only default",
       Quota{{}, {}, Map{{"memory", "1Gi"}}},
       {"LimitRange"},
       Json::parse(R"({"type": "Container", "default": {"memory": "1Gi"}})")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ServiceLevel sl = checkout();
    sl.quota = c.quota;
    auto children = renderQuota(sl);
    ASSERT_EQ(children.size(), c.kinds.size());
    for (size_t i = 0; i < children.size(); ++i) {
      EXPECT_EQ(children[i].object["kind"], c.kinds[i]);
      EXPECT_EQ(children[i].object["metadata"], kMetadata);
      if (c.kinds[i] == "LimitRange") {
        EXPECT_EQ(children[i].object["spec"]["limits"], Json::array({c.limit}));
      }
    }
  }
}

}  // namespace
}  // namespace governor::op
