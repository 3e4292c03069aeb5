// api::Workloads over informers listing from the fake API: what both binaries read of a
// workload (its replicas and labels), what the informers keep of it, and the error for none.
#include "api/workloads.h"

#include <gtest/gtest.h>

#include <set>

#include "support/fake_api.h"

namespace governor::api {
namespace {

using kube::Json;

Json deployment(const std::string& name, const Json& spec, const Json& status) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "shop"}, {"labels", {{"app", name}}}, {"uid", name + "-uid"}}},
          {"spec", spec},
          {"status", status}};
}

TEST(WorkloadView, KeepsOnlyTheNameLabelsAndReplicas) {
  Json full = deployment("web", {{"replicas", 3}, {"template", {{"spec", {{"containers", Json::array()}}}}}},
                         {{"readyReplicas", 2}, {"conditions", Json::array()}});
  full["metadata"]["managedFields"] = Json::array();
  EXPECT_EQ(workloadView(full),
            (Json{{"metadata", {{"name", "web"}, {"namespace", "shop"}, {"labels", {{"app", "web"}}}}},
                  {"spec", {{"replicas", 3}}},
                  {"status", {{"readyReplicas", 2}}}}));
}

TEST(Workloads, ReadsReplicasAndLabelsFromTheInformersAndNamesWhatIsMissing) {
  testing::FakeApi api;
  api.put(kDeployments, deployment("web", {{"replicas", 3}}, {{"readyReplicas", 2}}));
  api.put(kDeployments, deployment("fresh", Json::object(), Json::object()));
  Json db = deployment("db", {{"replicas", 1}}, {{"readyReplicas", 1}});
  db["kind"] = "StatefulSet";
  api.put(kStatefulSets, db);
  kube::Config config;
  config.server = api.url();
  auto client = kube::Client::create(config);
  ASSERT_TRUE(client) << client.error().what();
  kube::Informers informers(**client);
  Workloads::watch(informers, "");
  const Workloads workloads(informers, "");
  informers.startAll();
  ASSERT_TRUE(informers.waitForSync(std::chrono::seconds(10)));

  EXPECT_EQ(workloads.replicas("shop", {"Deployment", "web"}).value(), (WorkloadReplicas{3, 2}));
  EXPECT_EQ(workloads.replicas("shop", {"Deployment", "fresh"}).value(), (WorkloadReplicas{1, 0}))
      << "absent fields are their defaults";
  EXPECT_EQ(workloads.replicas("shop", {"StatefulSet", "db"}).value(), (WorkloadReplicas{1, 1}));
  EXPECT_EQ(workloads.labels("shop", {"Deployment", "web"}).value(), (Labels{{"app", "web"}}));
  auto missing = workloads.replicas("shop", {"StatefulSet", "web"});
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().isNotFound());
  EXPECT_EQ(missing.error().status.message, "StatefulSet shop/web does not exist");
  EXPECT_TRUE(api.reads().empty()) << "no GET: everything from the informers' lists";
  informers.stopAll();
  // A workload is large, and a page is held whole until its items are transformed.
  const auto asked = api.lists();
  const std::set<std::string> lists(asked.begin(), asked.end());
  EXPECT_EQ(lists, (std::set<std::string>{"deployments limit=100", "statefulsets limit=100"}));
}

}  // namespace
}  // namespace governor::api
