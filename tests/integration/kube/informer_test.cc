// Informers against the real kube-apiserver, including one that is killed mid-watch and
// one whose resourceVersion has expired.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "api/workloads.h"
#include "cluster.h"
#include "kube/informer.h"

namespace governor::testing {
namespace {

using kube::Json;

Json configMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"v", value}}}};
}

// Records, per object name, what the handlers were told, in order.
class Recorder {
 public:
  kube::EventHandler handler() {
    return {[this](const Json& o) { record(o, "add"); }, [this](const Json&, const Json& o) { record(o, "update"); },
            [this](const Json& o) { record(o, "delete"); }};
  }
  std::vector<std::string> of(const std::string& name) {
    std::lock_guard lock(mu_);
    return log_[name];
  }

 private:
  void record(const Json& o, const std::string& what) {
    std::lock_guard lock(mu_);
    log_[o["metadata"]["name"]].push_back(what + ":" + o.value("data", Json::object()).value("v", ""));
  }
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> log_;
};

class InformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "informer");
  }
  void TearDown() override {
    // A test that failed half-way must not leave the API server down for the next one.
    if (clusterCtl("start kube-apiserver") != 0) ADD_FAILURE() << "could not restart kube-apiserver";
  }

  kube::InformerOptions fastOptions() {
    kube::InformerOptions opts;
    opts.reflector.backoffInitial = std::chrono::milliseconds(200);
    opts.reflector.backoffCap = std::chrono::seconds(2);
    return opts;
  }

  // The informer's store holds exactly what the API server lists.
  bool converged(kube::Informer& informer) {
    auto server = client_->list(kConfigMaps, ns_->name());
    if (!server) return false;
    std::map<std::string, std::string> want, have;
    for (const auto& o : server->items) want[o["metadata"]["name"]] = o["metadata"]["resourceVersion"];
    for (const auto& o : informer.list()) have[o["metadata"]["name"]] = o["metadata"]["resourceVersion"];
    return want == have;
  }

  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
};

// The cache keeps what readers use and not metadata.managedFields, from the first list and
// from watch events alike; list(keep) copies only what it keeps.
TEST_F(InformerTest, StoresObjectsWithoutManagedFieldsAndListsAFilteredView) {
  auto ns = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("listed", "1")).ok());
  auto live = client_->get(kConfigMaps, ns, "listed");
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE((*live)["metadata"].contains("managedFields")) << "the API server records the create's manager";
  kube::Informer informer(*client_, kConfigMaps, ns, fastOptions());
  Recorder rec;
  informer.addHandler(rec.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("watched", "2")).ok());
  ASSERT_TRUE(eventually([&] { return rec.of("watched").size() == 1; }));
  for (const auto& obj : informer.list()) {
    EXPECT_FALSE(obj["metadata"].contains("managedFields")) << obj.dump();
    EXPECT_TRUE(obj["metadata"].contains("resourceVersion"));
  }
  auto kept = informer.list([](const Json& o) { return o.value("data", Json::object()).value("v", "") == "2"; });
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]["metadata"]["name"], "watched");
  informer.stop();
}

// keepNamespace (an operator shard's): over every namespace, the objects of the others are
// neither listed into the store nor told about when watched.
TEST_F(InformerTest, KeepsOnlyTheNamespacesItIsToldTo) {
  TestNamespace other(*client_, "informer-other");
  const std::string label = "governor-test/informer-keep";
  Json listed = configMap("listed", "1");
  listed["metadata"]["labels"][label] = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns_->name(), listed).ok());
  ASSERT_TRUE(client_->create(kConfigMaps, other.name(), listed).ok());
  kube::InformerOptions opts = fastOptions();
  opts.reflector.labelSelector = label + "=" + ns_->name();
  opts.keepNamespace = [ns = ns_->name()](const std::string& n) { return n == ns; };
  kube::Informer informer(*client_, kConfigMaps, "", opts);
  Recorder rec;
  informer.addHandler(rec.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(10)));
  Json watched = configMap("watched", "2");
  watched["metadata"]["labels"][label] = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, other.name(), watched).ok());
  ASSERT_TRUE(client_->create(kConfigMaps, ns_->name(), watched).ok());
  ASSERT_TRUE(eventually([&] { return rec.of("watched").size() == 1; }));
  EXPECT_EQ(rec.of("listed"), std::vector<std::string>{"add:1"});
  EXPECT_EQ(informer.keys(), (std::vector<std::string>{ns_->name() + "/listed", ns_->name() + "/watched"}));
  EXPECT_FALSE(informer.get(other.name() + "/watched"));
  informer.stop();
}

// api::Workloads, as both binaries watch them: the operator is told of a workload's scale and of
// its labels, the adapter (whose targets carry the labels) of its labels only; both of a workload
// that appears or goes.
TEST_F(InformerTest, WorkloadsTellOfTheChangesEachBinaryAsksFor) {
  const auto ns = ns_->name();
  kube::Informers informers(*client_, fastOptions());
  api::Workloads::watch(informers, ns);
  api::Workloads workloads(informers, ns);
  std::mutex mu;
  std::vector<std::string> labels, labelsOrReplicas;
  auto into = [&mu](std::vector<std::string>& told) {
    return [&mu, &told](const std::string& workloadNs, const api::Workload& w) {
      std::lock_guard lock(mu);
      told.push_back(w.kind + " " + workloadNs + "/" + w.name);
    };
  };
  // In this order on each event: once the second is told, the first has been asked.
  workloads.onChange(api::Workloads::Change::Labels, into(labels));
  workloads.onChange(api::Workloads::Change::LabelsOrReplicas, into(labelsOrReplicas));
  informers.startAll();
  ASSERT_TRUE(informers.waitForSync(std::chrono::seconds(10)));
  auto told = [&](size_t byLabels, size_t byBoth) {
    return eventually([&] {
      std::lock_guard lock(mu);
      return labels.size() == byLabels && labelsOrReplicas.size() == byBoth;
    });
  };
  const std::string web = "Deployment " + ns + "/web";

  ASSERT_TRUE(client_->create(kDeployments, ns, deployment("web")).ok());
  ASSERT_TRUE(told(1, 1)) << "a new workload";
  ASSERT_TRUE(client_->mergePatch(kDeployments, ns, "web", {{"spec", {{"replicas", 3}}}}).ok());
  ASSERT_TRUE(told(1, 2)) << "a scale: the operator only";
  ASSERT_TRUE(client_->mergePatch(kDeployments, ns, "web", {{"metadata", {{"labels", {{"tier", "web"}}}}}}).ok());
  ASSERT_TRUE(told(2, 3)) << "new labels";
  ASSERT_TRUE(client_->remove(kDeployments, ns, "web").ok());
  ASSERT_TRUE(told(3, 4)) << "a workload gone";
  informers.stopAll();
  EXPECT_EQ(labels, std::vector<std::string>(3, web));
  EXPECT_EQ(labelsOrReplicas, std::vector<std::string>(4, web));
}

TEST_F(InformerTest, SyncsThenFollowsChangesAndSharesOneInformerPerResource) {
  auto ns = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("before", "1")).ok());
  kube::Informers informers(*client_, fastOptions());
  auto& informer = informers.get(kConfigMaps, ns);
  EXPECT_EQ(&informer, &informers.get(kConfigMaps, ns)) << "the same resource must share one informer";
  Recorder rec;
  informer.addHandler(rec.handler());
  informers.startAll();
  ASSERT_TRUE(informers.waitForSync(std::chrono::seconds(10)));
  EXPECT_TRUE(informer.get(ns + "/before").has_value());

  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("after", "1")).ok());
  ASSERT_TRUE(client_->mergePatch(kConfigMaps, ns, "before", {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(client_->remove(kConfigMaps, ns, "after").ok());
  ASSERT_TRUE(eventually([&] { return rec.of("after").size() == 2 && rec.of("before").size() == 2; }));
  EXPECT_EQ(rec.of("before"), (std::vector<std::string>{"add:1", "update:2"}));
  EXPECT_EQ(rec.of("after"), (std::vector<std::string>{"add:1", "delete:1"}));
  EXPECT_FALSE(informer.get(ns + "/after").has_value());

  // A late handler hears about what is already there.
  Recorder late;
  informer.addHandler(late.handler());
  EXPECT_EQ(late.of("before"), (std::vector<std::string>{"add:2"}));
  informers.stopAll();
}

TEST_F(InformerTest, ResyncRepeatsEveryObjectAsAnUpdate) {
  auto ns = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("steady", "1")).ok());
  auto opts = fastOptions();
  opts.resyncPeriod = std::chrono::milliseconds(200);
  kube::Informer informer(*client_, kConfigMaps, ns, opts);
  Recorder rec;
  informer.addHandler(rec.handler());
  informer.start();
  EXPECT_TRUE(eventually([&] { return rec.of("steady").size() >= 3; }, std::chrono::seconds(5)));
  EXPECT_EQ(rec.of("steady")[0], "add:1");
  EXPECT_EQ(rec.of("steady")[1], "update:1");
  informer.stop();
}

TEST_F(InformerTest, ResumesAfterApiServerIsKilledAndLosesNoEvent) {
  auto ns = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("a", "1")).ok());
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("b", "1")).ok());
  kube::Informer informer(*client_, kConfigMaps, ns, fastOptions());
  Recorder rec;
  informer.addHandler(rec.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(client_->mergePatch(kConfigMaps, ns, "a", {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(eventually([&] { return rec.of("a").size() == 2; }));

  ASSERT_EQ(clusterCtl("kill kube-apiserver"), 0);
  ASSERT_EQ(clusterCtl("start kube-apiserver"), 0);
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("c", "1")).ok());
  ASSERT_TRUE(client_->mergePatch(kConfigMaps, ns, "a", {{"data", {{"v", "3"}}}}).ok());
  ASSERT_TRUE(client_->remove(kConfigMaps, ns, "b").ok());

  EXPECT_TRUE(eventually([&] { return converged(informer); }, std::chrono::seconds(60)));
  EXPECT_EQ(rec.of("a"), (std::vector<std::string>{"add:1", "update:2", "update:3"}));
  EXPECT_EQ(rec.of("b"), (std::vector<std::string>{"add:1", "delete:1"}));
  EXPECT_EQ(rec.of("c"), (std::vector<std::string>{"add:1"}));
  auto stats = informer.stats();
  EXPECT_GE(stats.watches, 2) << "the informer must have watched again after the kill";
  std::cout << "after kill -9: lists=" << stats.lists << " watches=" << stats.watches << " gone=" << stats.gone << "\n";
  informer.stop();
}

TEST_F(InformerTest, ExpiredResourceVersionMakesItRelistAndConverge) {
  auto ns = ns_->name();
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("stays", "1")).ok());
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("goes", "1")).ok());
  kube::Informer informer(*client_, kConfigMaps, ns, fastOptions());
  Recorder rec;
  informer.addHandler(rec.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(10)));
  informer.stop();

  // While it is stopped: changes it misses, then a restarted API server whose watch cache
  // starts after the informer's resourceVersion, so resuming answers 410 Gone.
  ASSERT_TRUE(client_->create(kConfigMaps, ns, configMap("new", "1")).ok());
  ASSERT_TRUE(client_->remove(kConfigMaps, ns, "goes").ok());
  ASSERT_TRUE(client_->mergePatch(kConfigMaps, ns, "stays", {{"data", {{"v", "2"}}}}).ok());
  ASSERT_EQ(clusterCtl("stop kube-apiserver"), 0);
  ASSERT_EQ(clusterCtl("start kube-apiserver"), 0);

  informer.start();
  EXPECT_TRUE(eventually([&] { return converged(informer); }, std::chrono::seconds(60)));
  auto stats = informer.stats();
  EXPECT_GE(stats.gone, 1) << "resuming from an expired resourceVersion must meet 410 Gone";
  EXPECT_EQ(stats.lists, 2) << "410 Gone must lead to exactly one relist";
  EXPECT_EQ(rec.of("goes"), (std::vector<std::string>{"add:1", "delete:1"}));
  EXPECT_EQ(rec.of("new"), (std::vector<std::string>{"add:1"}));
  EXPECT_EQ(rec.of("stays"), (std::vector<std::string>{"add:1", "update:2"}));
  informer.stop();
}

}  // namespace
}  // namespace governor::testing
