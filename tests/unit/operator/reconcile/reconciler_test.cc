// The reconciler against the in-memory API of tests/support/fake_api.h: what a user sees
// (the status conditions, the writes made and not made) for every condition reason of a
// child or workload that cannot be read or written, for a spec the parser rejects, for
// objects of the same name Governor does not own, for a workload that cannot be scaled, and
// for children the spec dropped.
#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "operator/reconcile/reconciler.h"
#include "support/fake_api.h"

namespace governor::op {
namespace {

using kube::Json;
using testing::FakeApi;
using testing::reconcileOnce;

const Json kQuota = {{"hard", {{"pods", "1000"}}}};
const Json kAutoscaling = {
    {"maxReplicas", 10},
    {"queue", {{"redis", {{"address", "redis:6379"}, {"key", "jobs"}}}, {"targetPerReplica", 10}}}};

// The ServiceLevel shop/team on Deployment app, as the API server hands it over.
Json serviceLevel(const Json& spec) {
  Json full = spec;
  full["workload"] = {{"kind", "Deployment"}, {"name", "app"}};
  return {{"apiVersion", "governor.io/v1alpha1"},
          {"kind", "ServiceLevel"},
          {"metadata", {{"name", "team"}, {"namespace", "shop"}, {"uid", "sl-uid"}, {"generation", 1}}},
          {"spec", full}};
}

struct Made {
  bool labelled = true;  // with governor's labels, naming shop/team
  bool owned = true;     // with shop/team's controller owner reference
};

// An object in shop as someone made it (Governor, when labelled and owned).
Json object(const std::string& kind, const std::string& name, Made made = {}) {
  Json o = {{"apiVersion", "v1"},
            {"kind", kind},
            {"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", name + "-uid"}}}};
  if (made.labelled) {
    o["metadata"]["labels"] = {{"app.kubernetes.io/managed-by", "governor"}, {"governor.io/service-level", "team"}};
  }
  if (made.owned) {
    o["metadata"]["ownerReferences"] = {{{"apiVersion", "governor.io/v1alpha1"},
                                         {"kind", "ServiceLevel"},
                                         {"name", "team"},
                                         {"uid", "sl-uid"},
                                         {"controller", true}}};
  }
  return o;
}

// A fake holding shop/team with `spec` and its Deployment app.
std::unique_ptr<FakeApi> cluster(const Json& spec) {
  auto api = std::make_unique<FakeApi>();
  api->put(resources::kServiceLevel, serviceLevel(spec));
  Json app = object("Deployment", "app", {.labelled = false, .owned = false});
  app["apiVersion"] = "apps/v1";
  app["spec"] = {{"replicas", 2}};
  api->put(resources::kDeployment, app);
  return api;
}

// The condition of that type in shop/team's status as written, or an empty object.
Json condition(const FakeApi& api, const std::string& type) {
  auto sl = api.find(resources::kServiceLevel, "shop", "team");
  return findCondition(sl->value("status", Json::object()).value("conditions", Json::array()), type);
}

// "verb name" of each write to that resource.
std::vector<std::string> writesTo(const FakeApi& api, const kube::Resource& r) {
  std::vector<std::string> out;
  for (const auto& w : api.writes()) {
    if (w.resource == r.plural) out.push_back(w.verb + " " + w.name);
  }
  return out;
}

// The body of the write `verb` to that object.
Json bodyOf(const FakeApi& api, const std::string& verb, const kube::Resource& r, const std::string& name) {
  for (const auto& w : api.writes()) {
    if (w.verb == verb && w.resource == r.plural && w.name == name) return w.body;
  }
  return nullptr;
}

using Strings = std::vector<std::string>;

// An object of the child's name that the informer does not hold (not labelled as Governor's):
// the create-only apply is refused, and the read that follows fails.
TEST(Reconciler, AnUnreadableChildIsNeverWrittenAndTheConditionSaysWhy) {
  for (int code : {500, 429, 403}) {
    SCOPED_TRACE(code);
    auto api = cluster({{"quota", kQuota}});
    const Json theirs = object("ResourceQuota", "team", {.labelled = false, .owned = false});
    api->put(resources::kResourceQuota, theirs);
    api->fail("get", resources::kResourceQuota, "team", {code, "", "said the fake"});
    auto outcome = reconcileOnce(*api, "shop/team");
    EXPECT_EQ(api->find(resources::kResourceQuota, "shop", "team"), theirs) << "a child that could not be read";
    EXPECT_EQ(writesTo(*api, resources::kResourceQuota), Strings{"apply team"}) << "only the refused create";
    EXPECT_EQ(outcome.kind, Outcome::Kind::Retry) << "retried with backoff";
    auto c = condition(*api, "QuotaReady");
    EXPECT_EQ(c.value("status", ""), "False");
    EXPECT_EQ(c.value("reason", ""), "ReadFailed");
    std::string message = c.value("message", "");
    EXPECT_NE(message.find("cannot read ResourceQuota shop/team, so Governor writes nothing to it"), std::string::npos)
        << message;
    EXPECT_NE(message.find(std::to_string(code)), std::string::npos) << message;
  }
}

// Absent from the synced informer: one server-side apply with a resourceVersion no object can
// have, which creates the child with its fields in Governor's Apply entry, and no GET.
TEST(Reconciler, ANewChildIsCreatedWithOneApplyThatOnlyCreates) {
  auto api = cluster({{"quota", kQuota}});
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done);
  EXPECT_EQ(writesTo(*api, resources::kResourceQuota), Strings{"apply team"});
  auto body = bodyOf(*api, "apply", resources::kResourceQuota, "team");
  EXPECT_EQ(body["metadata"]["resourceVersion"], "1") << body;
  EXPECT_FALSE(body["metadata"].contains("uid")) << "an apply naming a uid never creates";
  auto quota = api->find(resources::kResourceQuota, "shop", "team");
  ASSERT_TRUE(quota);
  EXPECT_EQ((*quota)["metadata"]["managedFields"],
            Json::parse(R"([{"manager": "governor-operator", "operation": "Apply"}])"));
  for (const auto& read : api->reads()) EXPECT_EQ(read.find("get resourcequotas"), std::string::npos) << read;
  EXPECT_EQ(condition(*api, "QuotaReady").value("reason", ""), "Reconciled");
  EXPECT_EQ(condition(*api, "Ready").value("status", ""), "True");
}

// What a new ServiceLevel costs: per child one request, then one Event and the status.
TEST(Reconciler, ANewServiceLevelTakesOneRequestPerChildOneEventAndTheStatus) {
  auto api = cluster({{"autoscaling", kAutoscaling}, {"quota", kQuota}});
  ASSERT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done);
  Strings writes;
  Json event;
  for (const auto& w : api->writes()) {
    if (w.resource == "events") {
      writes.push_back("create events");
      event = w.body;
    } else {
      writes.push_back(w.verb + " " + w.resource + " " + w.name);
    }
  }
  EXPECT_EQ(writes, (Strings{"apply horizontalpodautoscalers team", "apply resourcequotas team",
                             "apply configmaps team-dashboard", "create events", "mergePatch servicelevels team"}));
  EXPECT_EQ(event["reason"], "Created");
  EXPECT_EQ(event["message"],
            "HorizontalPodAutoscaler shop/team, ResourceQuota shop/team and ConfigMap shop/team-dashboard created");
  for (const auto& read : api->reads()) EXPECT_EQ(read.rfind("get ", 0), std::string::npos) << read;
}

// The API server refuses every create in a namespace that is being deleted, and that deletion
// deletes the ServiceLevel too: the condition says so, and there is no retry and no Warning.
TEST(Reconciler, ANamespaceBeingDeletedIsNoReasonToRetry) {
  auto api = cluster({{"autoscaling", kAutoscaling}});
  api->fail("apply", resources::kHpa, "team",
            {403, "Forbidden",
             "horizontalpodautoscalers.autoscaling \"team\" is forbidden: unable to create new content in namespace "
             "shop because it is being terminated"});
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done);
  auto autoscaler = condition(*api, "AutoscalerReady");
  EXPECT_EQ(autoscaler.value("reason", ""), "NamespaceTerminating");
  EXPECT_NE(autoscaler.value("message", "").find("being terminated"), std::string::npos) << autoscaler;
  for (const auto& w : api->writes()) {
    if (w.resource == "events") {
      EXPECT_NE(w.body.value("reason", ""), "ApplyFailed") << w.body;
    }
  }

  // Any other refusal of a create is retried.
  auto other = cluster({{"autoscaling", kAutoscaling}});
  other->fail("apply", resources::kHpa, "team", {403, "Forbidden", "horizontalpodautoscalers is forbidden"});
  EXPECT_EQ(reconcileOnce(*other, "shop/team").kind, Outcome::Kind::Retry);
  EXPECT_EQ(condition(*other, "AutoscalerReady").value("reason", ""), "ApplyFailed");
}

// The informer's copy of a child may lag: writes name the uid they were meant for, so that an
// object made since under the same name (another uid) is neither applied to nor deleted.
TEST(Reconciler, WritesToExistingChildrenCarryTheirUid) {
  auto api = cluster({{"quota", kQuota}});
  Json quota = object("ResourceQuota", "team");
  quota["spec"] = {{"hard", {{"pods", "5"}}}};  // the spec asks for 1000
  api->put(resources::kResourceQuota, quota);
  api->put(resources::kConfigMap, object("ConfigMap", "team-cache"));
  reconcileOnce(*api, "shop/team");
  auto apply = bodyOf(*api, "apply", resources::kResourceQuota, "team");
  ASSERT_TRUE(apply.is_object()) << "the quota is applied to";
  EXPECT_EQ(apply["metadata"]["uid"], "team-uid");
  EXPECT_EQ(apply["spec"]["hard"]["pods"], "1k") << "the spec's 1000, as rendered";
  auto remove = bodyOf(*api, "remove", resources::kConfigMap, "team-cache");
  ASSERT_TRUE(remove.is_object()) << "the ConfigMap the spec no longer asks for is deleted";
  EXPECT_EQ(remove["uid"], "team-cache-uid");
}

TEST(Reconciler, ASpecTheParserRejectsIsShownAndNothingIsWrittenOrDeleted) {
  auto api = cluster({{"autoscaling", {{"minReplicas", 5}, {"maxReplicas", 2}}}, {"quota", kQuota}});
  api->put(resources::kConfigMap, object("ConfigMap", "team-cache"));  // owned, and no longer asked for
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done) << "retrying changes nothing";
  auto ready = condition(*api, "Ready");
  EXPECT_EQ(ready.value("status", ""), "False");
  EXPECT_EQ(ready.value("reason", ""), "InvalidSpec");
  EXPECT_NE(ready.value("message", "").find("spec.autoscaling.maxReplicas: must be >= minReplicas (5), not 2"),
            std::string::npos)
      << ready.dump();
  for (const auto& w : api->writes()) {
    EXPECT_TRUE(w.resource == "servicelevels" || w.resource == "events")
        << w.verb << " " << w.resource << " " << w.name;
  }
  EXPECT_TRUE(api->find(resources::kConfigMap, "shop", "team-cache")) << "nothing is pruned on a spec not understood";
}

TEST(Reconciler, AFailedApplyNamesTheChildAndTheOtherPartsAreStillWritten) {
  for (int code : {422, 500}) {
    SCOPED_TRACE(code);
    auto api = cluster({{"autoscaling", kAutoscaling}, {"quota", kQuota}});
    api->put(resources::kResourceQuota, object("ResourceQuota", "team"));  // owned, without the spec's hard
    api->fail("apply", resources::kResourceQuota, "team", {code, "", "spec.hard: bad"});
    EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Retry);
    auto quota = condition(*api, "QuotaReady");
    EXPECT_EQ(quota.value("status", ""), "False");
    EXPECT_EQ(quota.value("reason", ""), "ApplyFailed");
    std::string message = quota.value("message", "");
    EXPECT_NE(message.find("resourcequotas shop/team: " + std::to_string(code) + " spec.hard: bad"), std::string::npos)
        << message;
    EXPECT_EQ(condition(*api, "Ready").value("reason", ""), "ApplyFailed");
    EXPECT_EQ(condition(*api, "AutoscalerReady").value("reason", ""), "Reconciled");
    EXPECT_TRUE(api->find(resources::kHpa, "shop", "team")) << "the HPA is written all the same";
  }
}

// The workload comes from its informer: a GET of it would fail here, and none is made.
TEST(Reconciler, TheWorkloadIsReadFromItsInformerNotWithAGet) {
  auto api = cluster({{"autoscaling", kAutoscaling}});
  api->fail("get", resources::kDeployment, "app", {500, "", "said the fake"});
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done);
  EXPECT_EQ(condition(*api, "AutoscalerReady").value("status", ""), "True") << condition(*api, "AutoscalerReady");
  for (const auto& read : api->reads()) EXPECT_EQ(read.find("deployments"), std::string::npos) << read;
  EXPECT_TRUE(api->find(resources::kHpa, "shop", "team")) << "the HPA is made";
}

TEST(Reconciler, AFailedScaleIsShownAndRetried) {
  auto api = cluster({{"autoscaling", kAutoscaling}});
  Json paused = serviceLevel({{"autoscaling", kAutoscaling}});
  paused["metadata"]["annotations"] = {{kPausedReplicasAnnotation, "0"}};  // the workload has 2
  api->put(resources::kServiceLevel, paused);
  api->fail("mergePatch", resources::kDeployment, "app", {500, "", "said the fake"});
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Retry);
  auto c = condition(*api, "AutoscalerReady");
  EXPECT_EQ(c.value("status", ""), "False");
  EXPECT_EQ(c.value("reason", ""), "ScaleFailed");
  EXPECT_EQ(c.value("message", ""), "cannot scale Deployment app: mergePatch deployments shop/app: 500 said the fake");
  EXPECT_EQ(api->find(resources::kDeployment, "shop", "app")->at("spec")["replicas"], 2);
}

// Its creation is an event of the workloads' informer, which brings the ServiceLevel back.
TEST(Reconciler, AMissingWorkloadIsShownAndWaitedForWithoutPolling) {
  auto api = cluster({{"autoscaling", kAutoscaling}});
  api->put(resources::kDeployment, object("Deployment", "other", {.labelled = false, .owned = false}));
  Json gone = serviceLevel({{"autoscaling", kAutoscaling}});
  gone["spec"]["workload"]["name"] = "absent";
  api->put(resources::kServiceLevel, gone);
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done);
  auto c = condition(*api, "AutoscalerReady");
  EXPECT_EQ(c.value("reason", ""), "WorkloadNotFound");
  EXPECT_EQ(c.value("message", ""), "Deployment shop/absent does not exist");
  EXPECT_EQ(writesTo(*api, resources::kHpa), Strings{});
}

// A workload's events bring back the ServiceLevels that name it, and only those.
TEST(Reconciler, AWorkloadsEventsBringBackTheServiceLevelsThatNameIt) {
  auto api = cluster({{"quota", kQuota}});
  Json other = serviceLevel({{"quota", kQuota}});
  other["metadata"]["name"] = "other";
  other["spec"]["workload"]["name"] = "elsewhere";
  api->put(resources::kServiceLevel, other);
  kube::Config config;
  config.server = api->url();
  auto client = kube::Client::create(config);
  ASSERT_TRUE(client) << client.error().what();
  kube::Informers informers(**client);
  std::mutex mu;
  std::multiset<std::string> keys;
  Metrics metrics;
  Reconciler reconciler(*api, informers, "", metrics);
  reconciler.registerInformers([&](const std::string& key) {
    std::lock_guard lock(mu);
    keys.insert(key);
  });
  // The ServiceLevels first: a workload's event before they are listed finds none to bring
  // back (nor needs to: each ServiceLevel's own add does that).
  auto& serviceLevels = informers.get(resources::kServiceLevel, "");
  serviceLevels.start();
  ASSERT_TRUE(serviceLevels.waitForSync(std::chrono::seconds(10)));
  informers.startAll();
  ASSERT_TRUE(informers.waitForSync(std::chrono::seconds(10)));
  informers.stopAll();
  // Each ServiceLevel's own add, and shop/team once more for the add of Deployment app.
  EXPECT_EQ(keys, (std::multiset<std::string>{"shop/other", "shop/team", "shop/team"}));
}

TEST(Reconciler, AnObjectGovernorDoesNotOwnIsLeftAloneAndTheConditionSaysConflict) {
  for (bool labelled : {false, true}) {
    SCOPED_TRACE(labelled ? "in the informer (labelled)" : "not in the informer");
    auto api = cluster({{"quota", kQuota}});
    const Json theirs = object("ResourceQuota", "team", {.labelled = labelled, .owned = false});
    api->put(resources::kResourceQuota, theirs);
    EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done) << "retrying changes nothing";
    auto c = condition(*api, "QuotaReady");
    EXPECT_EQ(c.value("status", ""), "False");
    EXPECT_EQ(c.value("reason", ""), "Conflict");
    EXPECT_EQ(c.value("message", ""),
              "ResourceQuota shop/team already exists and is not owned by ServiceLevel team; Governor leaves it alone: "
              "delete or rename it");
    EXPECT_EQ(api->find(resources::kResourceQuota, "shop", "team"), theirs);
    // Seen in the cache, nothing is sent; else only the create that the API server refuses.
    EXPECT_EQ(writesTo(*api, resources::kResourceQuota), labelled ? Strings{} : Strings{"apply team"});
  }
}

// A child of this ServiceLevel that its informer does not hold (the label removed, or the
// informer's copy lagging): the refused create is followed by a read, and it is applied to.
TEST(Reconciler, AChildOfOursMissingFromTheInformerIsAppliedToNotAConflict) {
  auto api = cluster({{"quota", kQuota}});
  Json ours = object("ResourceQuota", "team", {.labelled = false, .owned = true});
  ours["spec"] = {{"hard", {{"pods", "5"}}}};
  api->put(resources::kResourceQuota, ours);
  EXPECT_EQ(reconcileOnce(*api, "shop/team").kind, Outcome::Kind::Done);
  EXPECT_EQ(writesTo(*api, resources::kResourceQuota), (Strings{"apply team", "apply team"}))
      << "the refused create, then the apply";
  auto quota = api->find(resources::kResourceQuota, "shop", "team");
  EXPECT_EQ((*quota)["metadata"]["uid"], "team-uid") << "the same object";
  EXPECT_EQ((*quota)["spec"]["hard"]["pods"], "1k");
  EXPECT_EQ((*quota)["metadata"]["labels"]["governor.io/service-level"], "team");
  EXPECT_EQ(condition(*api, "QuotaReady").value("reason", ""), "Reconciled");
}

TEST(Reconciler, PruningDeletesOnlyChildrenThisServiceLevelOwns) {
  auto api = cluster({{"quota", kQuota}});
  api->put(resources::kConfigMap, object("ConfigMap", "team-cache"));
  api->put(resources::kConfigMap, object("ConfigMap", "team-rules", {.labelled = true, .owned = false}));
  api->put(resources::kConfigMap, object("ConfigMap", "team-dashboard", {.labelled = false, .owned = true}));
  reconcileOnce(*api, "shop/team");
  EXPECT_EQ(writesTo(*api, resources::kConfigMap), Strings{"remove team-cache"});
  EXPECT_FALSE(api->find(resources::kConfigMap, "shop", "team-cache"));
  EXPECT_TRUE(api->find(resources::kConfigMap, "shop", "team-rules")) << "labelled, but owned by no ServiceLevel";
  EXPECT_TRUE(api->find(resources::kConfigMap, "shop", "team-dashboard"))
      << "not labelled: not among Governor's children";
}

// With the PrometheusRule CRD installed as the operator starts, rules are watched like the
// other children: a rule the spec dropped is pruned from the informer's index, with no GET.
TEST(Reconciler, WithTheCrdInstalledPrometheusRulesAreWatchedNotRead) {
  auto api = cluster({{"quota", kQuota}});
  api->servePath("/apis/monitoring.coreos.com/v1", Json{{"resources", {{{"name", "prometheusrules"}}}}});
  Json rule = object("PrometheusRule", "team");
  rule["apiVersion"] = "monitoring.coreos.com/v1";
  api->put(resources::kPrometheusRule, rule);
  reconcileOnce(*api, "shop/team");
  EXPECT_EQ(writesTo(*api, resources::kPrometheusRule), Strings{"remove team"});
  for (const auto& read : api->reads()) EXPECT_EQ(read.find("get prometheusrules"), std::string::npos) << read;
}

TEST(Reconciler, ASecondReconcileWithNothingChangedMakesNoWrite) {
  auto api = cluster({{"autoscaling", kAutoscaling}, {"quota", kQuota}});
  reconcileOnce(*api, "shop/team");
  ASSERT_EQ(condition(*api, "Ready").value("status", ""), "True") << condition(*api, "Ready").dump();
  api->clearWrites();
  reconcileOnce(*api, "shop/team");
  for (const auto& w : api->writes()) ADD_FAILURE() << w.verb << " " << w.resource << " " << w.name << ": " << w.body;
}

// A child's event can bring a ServiceLevel back before its informer has seen the status the
// pass before wrote (the fake's informers never do): that pass's status is not written again,
// and its Event not told again.
TEST(Reconciler, APassBeforeTheInformerHasSeenTheStatusWrittenDoesNotWriteItAgain) {
  auto api = cluster({{"quota", kQuota}});
  testing::FakeOperator op(*api);
  ASSERT_EQ(op.reconcile("shop/team").kind, Outcome::Kind::Done);
  ASSERT_EQ(condition(*api, "Ready").value("status", ""), "True") << condition(*api, "Ready").dump();
  const Json written = api->find(resources::kServiceLevel, "shop", "team")->at("status");
  api->clearWrites();
  op.reconcile("shop/team");
  EXPECT_EQ(writesTo(*api, resources::kServiceLevel), Strings{});
  EXPECT_EQ(api->find(resources::kServiceLevel, "shop", "team")->at("status"), written);
}

}  // namespace
}  // namespace governor::op
