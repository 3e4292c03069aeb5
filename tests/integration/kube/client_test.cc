// The REST client against the real kube-apiserver: CRUD, server-side apply, conflicts,
// watch order and pagination.
#include <gtest/gtest.h>

#include <thread>

#include "cluster.h"
#include "kube/client.h"

namespace governor::testing {
namespace {

using kube::Json;

Json configMap(const std::string& name, const Json& data, const Json& labels = Json::object()) {
  return {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"labels", labels}}}, {"data", data}};
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "kube-client");
  }
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
};

TEST_F(ClientTest, CreateGetListUpdateDeleteConfigMap) {
  auto ns = ns_->name();
  auto created = client_->create(kConfigMaps, ns, configMap("one", {{"k", "v1"}}, {{"app", "x"}}));
  ASSERT_TRUE(created.ok()) << created.error().what();
  EXPECT_EQ((*created)["metadata"]["namespace"], ns);

  auto got = client_->get(kConfigMaps, ns, "one");
  ASSERT_TRUE(got.ok()) << got.error().what();
  EXPECT_EQ((*got)["data"]["k"], "v1");

  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("two", {{"k", "v"}}, {{"app", "y"}})).ok());
  auto listed = client_->list(kConfigMaps, ns, {.labelSelector = "app=x"});
  ASSERT_TRUE(listed.ok()) << listed.error().what();
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0]["metadata"]["name"], "one");
  EXPECT_EQ(listed->items[0]["kind"], "ConfigMap");
  EXPECT_FALSE(listed->resourceVersion.empty());

  auto changed = *got;
  changed["data"]["k"] = "v2";
  auto updated = client_->update(kConfigMaps, changed);
  ASSERT_TRUE(updated.ok()) << updated.error().what();
  EXPECT_EQ((*updated)["data"]["k"], "v2");
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], (*got)["metadata"]["resourceVersion"]);

  ASSERT_TRUE(client_->remove(kConfigMaps, ns, "one").ok());
  auto gone = client_->get(kConfigMaps, ns, "one");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().isNotFound());
  EXPECT_EQ(gone.error().status.reason, "NotFound");
  EXPECT_NE(gone.error().what().find("configmaps \"one\" not found"), std::string::npos) << gone.error().what();
}

TEST_F(ClientTest, CreatingAnExistingObjectSaysAlreadyExists) {
  ASSERT_TRUE(client_->create(kConfigMaps, ns_->name(), configMap("dup", {})).ok());
  auto again = client_->create(kConfigMaps, ns_->name(), configMap("dup", {}));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().status.code, 409);
  EXPECT_EQ(again.error().status.reason, "AlreadyExists");
}

TEST_F(ClientTest, ServerSideApplyCreatesThenChangesNothingWhenReappliedAsIs) {
  auto ns = ns_->name();
  kube::ApplyOptions opts{.fieldManager = "governor-test", .force = true};
  auto desired = configMap("applied", {{"a", "1"}});
  auto first = client_->apply(kConfigMaps, ns, "applied", desired, opts);
  ASSERT_TRUE(first.ok()) << first.error().what();
  auto rv = (*first)["metadata"]["resourceVersion"];

  auto second = client_->apply(kConfigMaps, ns, "applied", desired, opts);
  ASSERT_TRUE(second.ok()) << second.error().what();
  EXPECT_EQ((*second)["metadata"]["resourceVersion"], rv) << "a no-op apply must not write";

  desired["data"]["a"] = "2";
  auto third = client_->apply(kConfigMaps, ns, "applied", desired, opts);
  ASSERT_TRUE(third.ok()) << third.error().what();
  EXPECT_NE((*third)["metadata"]["resourceVersion"], rv);
  auto managers = (*third)["metadata"]["managedFields"];
  ASSERT_FALSE(managers.empty());
  EXPECT_EQ(managers[0]["manager"], "governor-test");
}

TEST_F(ClientTest, MergePatchAndStatusSubresource) {
  auto ns = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("patched", {{"a", "1"}})).ok());
  auto patched = client_->mergePatch(kConfigMaps, ns, "patched", {{"data", {{"b", "2"}, {"a", nullptr}}}});
  ASSERT_TRUE(patched.ok()) << patched.error().what();
  EXPECT_EQ((*patched)["data"], Json({{"b", "2"}}));

  // Namespaces have a status subresource: it answers the object.
  auto status = client_->get(kNamespaces, "", ns, "status");
  ASSERT_TRUE(status.ok()) << status.error().what();
  EXPECT_EQ((*status)["status"]["phase"], "Active");
}

TEST_F(ClientTest, UpdateWithStaleResourceVersionIsAConflict) {
  auto ns = ns_->name();
  auto created = client_->create(kConfigMaps, ns, configMap("contended", {{"n", "0"}}));
  ASSERT_TRUE(created.ok());
  auto mine = *created;
  auto theirs = *created;
  theirs["data"]["n"] = "1";
  ASSERT_TRUE(client_->update(kConfigMaps, theirs).ok());
  mine["data"]["n"] = "2";
  auto stale = client_->update(kConfigMaps, mine);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.error().isConflict());
  EXPECT_EQ(stale.error().status.reason, "Conflict");
  EXPECT_NE(stale.error().what().find("the object has been modified"), std::string::npos) << stale.error().what();
}

TEST_F(ClientTest, WatchSeesAddUpdateDeleteInOrder) {
  auto ns = ns_->name();
  auto start = client_->list(kConfigMaps, ns);
  ASSERT_TRUE(start.ok());
  std::vector<std::string> seen;
  std::mutex mu;
  kube::WatchCancel cancel;
  std::thread watcher([&] {
    kube::WatchOptions opts{.resourceVersion = start->resourceVersion, .timeoutSeconds = 60};
    auto out = client_->watch(
        kConfigMaps, ns, opts,
        [&](const kube::WatchEvent& ev) {
          if (ev.type == "BOOKMARK") return true;
          // kube-controller-manager's root-ca-cert-publisher adds kube-root-ca.crt to every
          // new namespace, perhaps after `start`: only this test's ConfigMap counts.
          if (ev.object["metadata"].value("name", "") != "w") return true;
          std::lock_guard lock(mu);
          seen.push_back(ev.type + " " + ev.object["metadata"].value("name", "") + " " +
                         ev.object.value("data", Json::object()).value("v", ""));
          return true;
        },
        &cancel);
    EXPECT_TRUE(out.ok()) << out.error().what();
  });
  auto created = client_->create(kConfigMaps, ns, configMap("w", {{"v", "1"}}));
  ASSERT_TRUE(created.ok());
  auto next = *created;
  next["data"]["v"] = "2";
  ASSERT_TRUE(client_->update(kConfigMaps, next).ok());
  ASSERT_TRUE(client_->remove(kConfigMaps, ns, "w").ok());
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 3;
  }));
  cancel.cancel();
  watcher.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED w 1", "MODIFIED w 2", "DELETED w 2"}));
}

TEST_F(ClientTest, ListPaginatesOverMoreThan500Objects) {
  auto ns = ns_->name();
  constexpr int kCount = 520;
  std::vector<std::thread> writers;
  std::atomic<int> failures = 0;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kCount; i += 4) {
        if (!client_->create(kConfigMaps, ns, configMap("page-" + std::to_string(i), {}, {{"bulk", "yes"}})).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(failures, 0);

  auto first = client_->listPage(kConfigMaps, ns, {.labelSelector = "bulk=yes", .limit = 500});
  ASSERT_TRUE(first.ok()) << first.error().what();
  EXPECT_EQ(first->items.size(), 500u);
  EXPECT_FALSE(first->continueToken.empty());

  auto all = client_->list(kConfigMaps, ns, {.labelSelector = "bulk=yes", .limit = 100});
  ASSERT_TRUE(all.ok()) << all.error().what();
  std::set<std::string> names;
  for (const auto& item : all->items) names.insert(item["metadata"]["name"]);
  EXPECT_EQ(names.size(), static_cast<size_t>(kCount));
}

// A list's view sees each item as its page arrives; between the first two pages here one
// more object is made, etcd compacted past the list's snapshot and the kube-apiserver
// restarted (its watch cache would serve the next page from a snapshot of its own), so the
// continue token is too old (410 Expired) and the list starts again from the beginning,
// once, this time with the new object. Items the view makes null are dropped.
TEST_F(ClientTest, AListWhoseContinueTokenExpiresStartsAgainOnceAndViewsEachItem) {
  auto ns = ns_->name();
  constexpr int kCount = 30;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("page-" + std::to_string(i), {}, {{"bulk", "yes"}})).ok());
  }
  int viewed = 0;
  bool compacted = false;
  auto all = client_->list(kConfigMaps, ns, {.labelSelector = "bulk=yes", .limit = 10}, [&](Json item) -> Json {
    if (++viewed == 1) {
      compacted = client_->create(kConfigMaps, ns, configMap("page-30", {}, {{"bulk", "yes"}})).ok() && compactEtcd() &&
                  clusterCtl("kill kube-apiserver") == 0 && clusterCtl("start kube-apiserver") == 0;
    }
    const std::string name = item["metadata"]["name"];
    if (std::stoi(name.substr(5)) % 2) return nullptr;
    return Json{{"name", name}};
  });
  ASSERT_TRUE(compacted) << "could not write, compact etcd or restart the kube-apiserver between the pages";
  ASSERT_TRUE(all.ok()) << all.error().what();
  std::vector<Json> expected;
  for (int i : {0, 10, 12, 14, 16, 18, 2, 20, 22, 24, 26, 28, 30, 4, 6, 8}) {  // in the API's order, by name
    expected.push_back({{"name", "page-" + std::to_string(i)}});
  }
  EXPECT_EQ(all->items, expected);
  EXPECT_EQ(viewed, 10 + kCount + 1) << "the first page, then the whole list again";
}

TEST_F(ClientTest, ErrorsNameTheRequestAndCarryTheApiStatus) {
  auto bad = client_->create(kConfigMaps, ns_->name(), configMap("Not_A_Valid_Name", {}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status.code, 422);
  EXPECT_EQ(bad.error().status.reason, "Invalid");
  EXPECT_NE(bad.error().what().find("POST /api/v1/namespaces/" + ns_->name() + "/configmaps"), std::string::npos)
      << bad.error().what();
  EXPECT_NE(bad.error().what().find("metadata.name"), std::string::npos) << bad.error().what();
}

}  // namespace
}  // namespace governor::testing
