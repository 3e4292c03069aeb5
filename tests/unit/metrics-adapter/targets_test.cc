// TargetSnapshot's indexes: what an API request reads is what a scan of every target with the
// request's namespace, metric, object and selector would find, in key order.
#include "metrics-adapter/targets.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

MetricTarget external(const std::string& ns, const std::string& sl, api::Labels labels = {}) {
  MetricTarget t;
  t.api = MetricTarget::Api::External;
  t.namespaceName = ns;
  t.metric = kBacklogMetric;
  t.serviceLevel = sl;
  t.key = "external/" + ns + "/" + t.metric + "/" + sl;
  t.labels = std::move(labels);
  t.labels[api::kServiceLevelLabel] = sl;
  t.resource = kServiceLevelResource;  // served on the ServiceLevel too
  t.objectName = sl;
  return t;
}

MetricTarget latency(const std::string& ns, const std::string& workload, const std::string& sl, api::Labels labels) {
  MetricTarget t;
  t.api = MetricTarget::Api::Custom;
  t.namespaceName = ns;
  t.metric = "governor_latency_p95_seconds";
  t.serviceLevel = sl;
  t.resource = "deployments.apps";
  t.objectName = workload;
  t.key = "custom/" + ns + "/deployments.apps/" + workload + "/" + t.metric + "/" + sl;
  t.labels = std::move(labels);
  return t;
}

std::vector<std::string> keys(const std::vector<const MetricTarget*>& found) {
  std::vector<std::string> out;
  for (const auto* t : found) out.push_back(t->key);
  return out;
}

kube::Selector selector(const std::string& text) { return kube::parseSelector(text).value(); }

TEST(TargetSnapshotTest, ExternalTargetsByNamespaceMetricAndSelector) {
  const TargetSnapshot snapshot({external("shop", "b", {{"tier", "web"}}), external("shop", "a"), external("cart", "a"),
                                 external("shop", "c", {{"tier", "web"}})});
  const std::string m = kBacklogMetric;
  const std::string k = "external/shop/" + m + "/";
  EXPECT_EQ(keys(snapshot.external("shop", m, {})), (std::vector<std::string>{k + "a", k + "b", k + "c"}));
  EXPECT_EQ(keys(snapshot.external("shop", m, selector("governor.io/service-level=b"))),
            std::vector<std::string>{k + "b"});
  EXPECT_EQ(keys(snapshot.external("shop", m, selector("governor.io/service-level in (c,a,x)"))),
            (std::vector<std::string>{k + "a", k + "c"}))
      << "key order, whatever the order of the values";
  EXPECT_TRUE(snapshot.external("shop", m, selector("governor.io/service-level=b,tier=db")).empty())
      << "the whole selector still applies";
  EXPECT_EQ(keys(snapshot.external("shop", m, selector("tier=web"))), (std::vector<std::string>{k + "b", k + "c"}));
  EXPECT_EQ(keys(snapshot.external("shop", m, selector("governor.io/service-level!=b"))),
            (std::vector<std::string>{k + "a", k + "c"}));
  EXPECT_TRUE(snapshot.external("shop", "other_metric", {}).empty());
  EXPECT_TRUE(snapshot.external("nowhere", m, {}).empty());
}

TEST(TargetSnapshotTest, CustomTargetsByObjectOrBySelector) {
  const TargetSnapshot snapshot({latency("shop", "web", "web-slo", {{"app", "web"}}),
                                 latency("shop", "api", "api-slo", {{"app", "api"}}),
                                 latency("shop", "web", "another-slo", {{"app", "web"}}), external("shop", "q")});
  const std::string p95 = "governor_latency_p95_seconds";
  EXPECT_EQ(keys(snapshot.custom("shop", "deployments.apps", "web", p95, {})),
            (std::vector<std::string>{"custom/shop/deployments.apps/web/" + p95 + "/another-slo",
                                      "custom/shop/deployments.apps/web/" + p95 + "/web-slo"}));
  EXPECT_EQ(keys(snapshot.custom("shop", "deployments.apps", "*", p95, selector("app=api"))),
            std::vector<std::string>{"custom/shop/deployments.apps/api/" + p95 + "/api-slo"});
  EXPECT_EQ(snapshot.custom("shop", "deployments.apps", "*", p95, {}).size(), 3u);
  EXPECT_TRUE(snapshot.custom("shop", "statefulsets.apps", "web", p95, {}).empty());
  // The backlog, an external target, is served on its ServiceLevel by the custom API too.
  EXPECT_EQ(keys(snapshot.custom("shop", kServiceLevelResource, "q", kBacklogMetric, {})),
            std::vector<std::string>{"external/shop/" + std::string(kBacklogMetric) + "/q"});
}

TEST(TargetsTest, ASnapshotIsSharedAndOutlivesTheNextSet) {
  Targets targets;
  EXPECT_TRUE(targets.snapshot()->all().empty());
  targets.set({external("shop", "a")});
  const auto held = targets.snapshot();
  EXPECT_EQ(targets.snapshot().get(), held.get()) << "not copied per request";
  targets.set({});
  EXPECT_EQ(held->all().size(), 1u) << "a request in flight keeps what it read";
  EXPECT_TRUE(targets.snapshot()->all().empty());
}

}  // namespace
}  // namespace governor::adapter
