// governor-operator as users run it, against the real API server with
// kube-controller-manager: children appear, follow the spec, come back when deleted,
// leave what is not theirs alone, and are garbage-collected with their ServiceLevel.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "adapter_setup.h"
#include "cluster.h"
#include "kube/client.h"
#include "kube/yaml.h"
#include "operator/reconcile/status.h"
#include "operator/shard.h"
#include "support/largest_service_level.h"

#include <filesystem>
#include <fstream>

namespace governor::testing {
namespace {

using kube::Json;

constexpr const char* kMetrics = "http://127.0.0.1:18080/metrics";

Json serviceLevel(const std::string& name, const std::string& workload) {
  auto docs = kube::parseYamlDocuments(R"(
apiVersion: governor.io/v1alpha1
kind: ServiceLevel
spec:
  autoscaling:
    minReplicas: 1
    maxReplicas: 10
    queue:
      redis: {address: "redis.default:6379", key: jobs}
      targetPerReplica: 10
  cache:
    maxMemory: 64Mi
    evictionPolicy: allkeys-lfu
  quota:
    hard: {pods: "20"}
    limitRange: {defaultRequest: {cpu: 100m}}
  objectives:
    availability:
      target: "99.9"
      errorQuery: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
      totalQuery: sum(rate(http_requests_total[{{.window}}]))
)");
  Json sl = (*docs)[0];
  sl["metadata"] = {{"name", name}};
  sl["spec"]["workload"] = {{"name", workload}};
  return sl;
}

// The sum of governor_operator_api_writes_total over all labels.
double writesSoFar() { return metricSum(kMetrics, "governor_operator_api_writes_total"); }

// How many lines of `text` contain every one of `parts`.
int linesWith(const std::string& text, const std::vector<std::string>& parts) {
  int n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    n += std::all_of(parts.begin(), parts.end(), [&](const auto& p) { return line.find(p) != std::string::npos; });
  }
  return n;
}

// This suite runs no metrics adapter, so an HPA on a running workload could never read its
// metric and Ready would rightly stay False (AnHpaThatCannotReadItsMetricKeepsReadyFalse).
// Its workloads have 0 replicas: the HPA then idles (ScalingDisabled), which is no fault.
Json idleDeployment(const std::string& name) {
  Json d = deployment(name);
  d["spec"]["replicas"] = 0;
  return d;
}

class OperatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto crd = applyServiceLevelCrd();
    ASSERT_EQ(crd.status, 0) << crd.output;
    startOperator();
  }
  static void startOperator() {
    operator_ = new BackgroundProcess(
        {GOVERNOR_OPERATOR_BINARY, "--kubeconfig", std::getenv("KUBECONFIG"), "--metrics-bind-address",
         "127.0.0.1:18080", "--health-probe-bind-address", "127.0.0.1:18081", "--resync-period", "10", "--log-format",
         "text", "--log-level", "debug"},
        std::string(GOVERNOR_BINARY_DIR) + "/operator-test.log");
    ASSERT_TRUE(eventually([] { return run("curl -sf http://127.0.0.1:18081/readyz").status == 0; }))
        << "the operator did not become ready; see " << operator_->logFile();
  }
  static void TearDownTestSuite() {
    if (!operator_) return;
    EXPECT_EQ(operator_->stop(), 0) << "the operator must stop cleanly on SIGTERM";
    delete operator_;
  }

  void SetUp() override {
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "operator");
    ASSERT_TRUE(operator_ && operator_->running()) << "the operator is not running; see operator-test.log";
  }

  Json get(const kube::Resource& r, const std::string& name) {
    auto got = client_->get(r, ns_->name(), name);
    return got ? *got : Json();
  }
  bool exists(const kube::Resource& r, const std::string& name) { return !get(r, name).is_null(); }

  Json condition(const std::string& sl, const std::string& type) {
    for (const auto& c : get(kServiceLevels, sl).value("status", Json::object()).value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return nullptr;
  }
  bool conditionIs(const std::string& sl, const std::string& type, const std::string& status,
                   const std::string& reason) {
    auto c = condition(sl, type);
    return !c.is_null() && c["status"] == status && c["reason"] == reason;
  }

  void createReady(const std::string& name) {
    ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment(name + "-app")).ok());
    auto created = client_->create(kServiceLevels, ns_->name(), serviceLevel(name, name + "-app"));
    ASSERT_TRUE(created.ok()) << created.error().what();
    ASSERT_TRUE(eventually([&] { return conditionIs(name, "Ready", "True", "Reconciled"); }))
        << get(kServiceLevels, name).dump(2);
  }

  static BackgroundProcess* operator_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
};

BackgroundProcess* OperatorTest::operator_ = nullptr;

// First in the suite: later tests leave namespaces terminating, whose ServiceLevels
// rightly keep retrying until the namespace controller removes them.
TEST_F(OperatorTest, AResyncWithNothingChangedWritesNothing) {
  createReady("quiet");
  // Let everything settle (the quota controller writes the quota's status.used, the HPA
  // controller the HPA's status), then watch a full resync period (10 s) pass.
  ASSERT_TRUE(eventually([&] { return get(kQuotas, "quiet").value("status", Json::object()).contains("used"); }))
      << get(kQuotas, "quiet").dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto quotaRv = get(kQuotas, "quiet")["metadata"]["resourceVersion"];
  auto before = writesSoFar();
  ASSERT_GT(before, 0) << "the metric must count the writes made so far";
  std::this_thread::sleep_for(std::chrono::seconds(12));
  EXPECT_EQ(writesSoFar(), before) << "a resync with nothing changed must make no write request";
  EXPECT_EQ(get(kQuotas, "quiet")["metadata"]["resourceVersion"], quotaRv);
}

TEST_F(OperatorTest, ValidServiceLevelGetsEveryChildAndIsReady) {
  createReady("shop");
  auto sl = get(kServiceLevels, "shop");
  auto uid = sl["metadata"]["uid"];
  EXPECT_EQ(sl["status"]["observedGeneration"], sl["metadata"]["generation"]);
  for (auto type : {"AutoscalerReady", "CacheReady", "QuotaReady"}) {
    EXPECT_TRUE(conditionIs("shop", type, "True", "Reconciled")) << type << ": " << condition("shop", type).dump();
  }
  // No PrometheusRule CRD in this cluster: the rules go to a ConfigMap and the condition says so.
  EXPECT_TRUE(conditionIs("shop", "RulesReady", "False", "PrometheusRuleCRDMissing"))
      << condition("shop", "RulesReady");

  std::vector<std::pair<kube::Resource, std::string>> children{{kHpas, "shop"},
                                                               {kStatefulSets, "shop-redis"},
                                                               {kServices, "shop-redis"},
                                                               {kConfigMaps, "shop-redis"},
                                                               {kConfigMaps, "shop-cache"},
                                                               {kQuotas, "shop"},
                                                               {kLimitRanges, "shop"},
                                                               {kConfigMaps, "shop-rules"}};
  for (const auto& [r, name] : children) {
    auto obj = get(r, name);
    ASSERT_FALSE(obj.is_null()) << r.plural << "/" << name << " is missing";
    const auto& md = obj["metadata"];
    EXPECT_EQ(md["labels"]["app.kubernetes.io/managed-by"], "governor") << name;
    EXPECT_EQ(md["labels"]["governor.io/service-level"], "shop") << name;
    ASSERT_EQ(md["ownerReferences"].size(), 1u) << name;
    EXPECT_EQ(md["ownerReferences"][0]["uid"], uid) << name;
    EXPECT_EQ(md["ownerReferences"][0]["controller"], true) << name;
  }
  auto hpa = get(kHpas, "shop");
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"]["name"], "shop-app");
  EXPECT_EQ(hpa["spec"]["maxReplicas"], 10);
  EXPECT_EQ(hpa["spec"]["metrics"][0]["external"]["metric"]["name"], "governor_queue_backlog");

  auto events = client_->list(kEvents, ns_->name(), {.fieldSelector = "involvedObject.name=shop"});
  ASSERT_TRUE(events.ok());
  std::set<std::string> reasons;
  for (const auto& e : events->items) reasons.insert(e["reason"]);
  EXPECT_TRUE(reasons.contains("Created")) << "kubectl describe should show what Governor created";
  // The log's fields tell one ServiceLevel's story (the suite's operator logs text at debug).
  const std::string about = "namespace=" + ns_->name() + " servicelevel=shop";
  EXPECT_GT(linesWith(operator_->log(), {": reconciled", about, " duration="}), 0) << tail(operator_->logFile());
  EXPECT_GT(linesWith(operator_->log(), {"Created: HorizontalPodAutoscaler", about, " reason=Created"}), 0);
}

// What `kubectl get sl` says when the HPA cannot read its metric (here: no adapter serves
// external.metrics.k8s.io at all): the HPA's reason in ScalingActive and in Ready, and an
// Event; every part is still written.
TEST_F(OperatorTest, AnHpaThatCannotReadItsMetricKeepsReadyFalse) {
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), deployment("blind-app")).ok());
  auto created = client_->create(kServiceLevels, ns_->name(), serviceLevel("blind", "blind-app"));
  ASSERT_TRUE(created.ok()) << created.error().what();
  ASSERT_TRUE(eventually([&] { return conditionIs("blind", "ScalingActive", "False", "FailedGetExternalMetric"); },
                         std::chrono::seconds(45)))
      << get(kServiceLevels, "blind").dump(2) << "\nHPA: " << get(kHpas, "blind").value("status", Json()).dump();
  EXPECT_NE(condition("blind", "ScalingActive").value("message", "").find("governor_queue_backlog"), std::string::npos)
      << "the HPA's own message: " << condition("blind", "ScalingActive");
  EXPECT_TRUE(conditionIs("blind", "Ready", "False", "FailedGetExternalMetric")) << condition("blind", "Ready");
  EXPECT_TRUE(conditionIs("blind", "AutoscalerReady", "True", "Reconciled")) << "the HPA itself is written";
  auto events = client_->list(kEvents, ns_->name(),
                              {.fieldSelector = "involvedObject.name=blind,reason=FailedGetExternalMetric"});
  ASSERT_TRUE(events.ok());
  EXPECT_FALSE(events->items.empty()) << "a Warning event says scaling broke";
  if (!events->items.empty()) {
    EXPECT_EQ(events->items[0]["type"], "Warning");
  }

  // Scaled to 0 by hand: the HPA idles (ScalingDisabled), which is a choice, not a fault.
  ASSERT_TRUE(client_->mergePatch(kDeployments, ns_->name(), "blind-app", {{"spec", {{"replicas", 0}}}}).ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("blind", "ScalingActive", "False", "ScalingDisabled"); },
                         std::chrono::seconds(45)))
      << condition("blind", "ScalingActive");
  EXPECT_TRUE(eventually([&] { return conditionIs("blind", "Ready", "True", "Reconciled"); }))
      << condition("blind", "Ready");
}

// The pause annotations on the real cluster: the HPA (kube-controller-manager's) holds the
// workload at the paused replicas; at 0 the operator scales it to none; without the
// annotation it comes back to minReplicas. Status and Events say each step. The same HPA
// carries the CPU and memory targets of autoscaling.resources, as the API server accepts them.
TEST_F(OperatorTest, PauseAnnotationsHoldTheWorkloadAndRemovingThemResumes) {
  Json d = deployment("held-app");
  d["spec"]["replicas"] = 3;
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), d).ok());
  Json sl = serviceLevel("held", "held-app");
  sl["metadata"]["annotations"] = {{"governor.io/paused-replicas", "4"}};
  sl["spec"]["autoscaling"]["minReplicas"] = 2;
  sl["spec"]["autoscaling"]["resources"] = {{"cpu", {{"averageUtilization", 70}}},
                                            {"memory", {{"averageValue", "512Mi"}}}};
  ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), sl).ok());
  auto replicas = [&] { return get(kDeployments, "held-app")["spec"].value("replicas", -1); };
  auto status = [&] { return get(kServiceLevels, "held").value("status", Json::object()); };
  auto reasons = [&] {
    std::set<std::string> out;
    auto events = client_->list(kEvents, ns_->name(), {.fieldSelector = "involvedObject.name=held"});
    if (events) {
      for (const auto& e : events->items) out.insert(e.value("reason", ""));
    }
    return out;
  };

  ASSERT_TRUE(eventually([&] { return conditionIs("held", "Paused", "True", "PausedByAnnotation"); }))
      << status().dump(2);
  EXPECT_NE(condition("held", "Paused").value("message", "").find("paused at 4 replicas"), std::string::npos)
      << condition("held", "Paused");
  EXPECT_TRUE(eventually([&] { return status().value("pausedReplicas", -1) == 4; })) << status().dump(2);
  Json hpa = get(kHpas, "held");
  EXPECT_EQ(hpa["spec"]["minReplicas"], 4);
  EXPECT_EQ(hpa["spec"]["maxReplicas"], 4);
  std::set<std::string> metricTypes;
  for (const auto& m : hpa["spec"]["metrics"]) {
    metricTypes.insert(m.value("type", "") + "/" + (m.contains("resource") ? m["resource"].value("name", "") : ""));
  }
  EXPECT_EQ(metricTypes, (std::set<std::string>{"External/", "Resource/cpu", "Resource/memory"})) << hpa["spec"].dump();
  EXPECT_TRUE(eventually([&] { return replicas() == 4; }, std::chrono::seconds(45)))
      << "the HPA takes the workload to the paused 4; replicas " << replicas() << ", HPA " << get(kHpas, "held").dump();
  EXPECT_TRUE(reasons().contains("Paused"));

  // At 0: the operator scales the workload to none; the HPA keeps the spec's bounds and idles.
  ASSERT_TRUE(client_
                  ->mergePatch(kServiceLevels, ns_->name(), "held",
                               {{"metadata", {{"annotations", {{"governor.io/paused-replicas", "0"}}}}}})
                  .ok());
  EXPECT_TRUE(eventually([&] { return replicas() == 0; })) << replicas();
  EXPECT_TRUE(eventually([&] { return status().value("pausedReplicas", -1) == 0; })) << status().dump(2);
  EXPECT_EQ(get(kHpas, "held")["spec"]["minReplicas"], 2);
  EXPECT_TRUE(eventually([&] { return reasons().contains("ScaledToZero"); })) << "an Event says why it went to none";

  // A value that is not a number is refused by name, and nothing moves.
  ASSERT_TRUE(client_
                  ->mergePatch(kServiceLevels, ns_->name(), "held",
                               {{"metadata", {{"annotations", {{"governor.io/paused-replicas", "few"}}}}}})
                  .ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("held", "Ready", "False", "InvalidSpec"); }));
  EXPECT_NE(condition("held", "Ready").value("message", "").find("metadata.annotations[governor.io/paused-replicas]"),
            std::string::npos)
      << condition("held", "Ready");
  EXPECT_EQ(replicas(), 0);

  // Without the annotation: back to minReplicas, no Paused condition, an Event.
  ASSERT_TRUE(client_
                  ->mergePatch(kServiceLevels, ns_->name(), "held",
                               {{"metadata", {{"annotations", {{"governor.io/paused-replicas", nullptr}}}}}})
                  .ok());
  EXPECT_TRUE(eventually([&] { return replicas() == 2; })) << replicas();
  EXPECT_TRUE(eventually([&] { return condition("held", "Paused").is_null() && !status().contains("pausedReplicas"); }))
      << status().dump(2);
  EXPECT_TRUE(eventually([&] { return reasons().contains("Resumed") && reasons().contains("ScaledToMinReplicas"); }));

  // "paused: true" holds it where it is.
  ASSERT_TRUE(client_
                  ->mergePatch(kServiceLevels, ns_->name(), "held",
                               {{"metadata", {{"annotations", {{"governor.io/paused", "true"}}}}}})
                  .ok());
  EXPECT_TRUE(eventually([&] {
    Json spec = get(kHpas, "held")["spec"];
    return spec.value("minReplicas", 0) == 2 && spec.value("maxReplicas", 0) == 2;
  })) << get(kHpas, "held")["spec"].dump();
  EXPECT_TRUE(eventually([&] { return status().value("pausedReplicas", -1) == 2; })) << status().dump(2);
}

// Broken PromQL passes the CRD (it has {{.window}}) but never reaches Prometheus: RulesReady
// says where it breaks and no rule file is written until it is fixed.
TEST_F(OperatorTest, BrokenPromqlIsReportedAndNoRulesAreWritten) {
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("typo-app")).ok());
  Json sl = serviceLevel("typo", "typo-app");
  sl["spec"]["objectives"]["availability"]["errorQuery"] = "sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}])";
  auto created = client_->create(kServiceLevels, ns_->name(), sl);
  ASSERT_TRUE(created.ok()) << created.error().what();
  ASSERT_TRUE(eventually([&] { return conditionIs("typo", "RulesReady", "False", "InvalidQuery"); }))
      << get(kServiceLevels, "typo").dump(2);
  auto message = condition("typo", "RulesReady").value("message", "");
  EXPECT_NE(message.find("spec.objectives.availability.errorQuery: invalid PromQL: 1:"), std::string::npos) << message;
  EXPECT_TRUE(conditionIs("typo", "Ready", "False", "InvalidQuery")) << condition("typo", "Ready");
  EXPECT_TRUE(conditionIs("typo", "QuotaReady", "True", "Reconciled")) << "the other parts are written";
  EXPECT_FALSE(exists(kConfigMaps, "typo-rules")) << "no rule file from broken PromQL";

  ASSERT_TRUE(
      client_
          ->mergePatch(kServiceLevels, ns_->name(), "typo",
                       {{"spec",
                         {{"objectives",
                           {{"availability",
                             {{"errorQuery", "sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))"}}}}}}}})
          .ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("typo", "RulesReady", "False", "PrometheusRuleCRDMissing"); }))
      << condition("typo", "RulesReady");
  EXPECT_TRUE(exists(kConfigMaps, "typo-rules"));
}

TEST_F(OperatorTest, EditingTheSpecUpdatesAndRemovingASectionRemovesItsChildren) {
  createReady("edit");
  ASSERT_TRUE(
      client_->mergePatch(kServiceLevels, ns_->name(), "edit", {{"spec", {{"autoscaling", {{"maxReplicas", 7}}}}}})
          .ok());
  EXPECT_TRUE(eventually([&] { return get(kHpas, "edit")["spec"]["maxReplicas"] == 7; }));

  ASSERT_TRUE(client_->mergePatch(kServiceLevels, ns_->name(), "edit", {{"spec", {{"cache", nullptr}}}}).ok());
  EXPECT_TRUE(eventually([&] {
    return !exists(kStatefulSets, "edit-redis") && !exists(kServices, "edit-redis") &&
           !exists(kConfigMaps, "edit-redis") && !exists(kConfigMaps, "edit-cache");
  })) << "removing cache: must remove the Redis parts";
  EXPECT_TRUE(eventually([&] { return condition("edit", "CacheReady").is_null(); }));
  EXPECT_TRUE(exists(kHpas, "edit")) << "other sections stay";
  EXPECT_TRUE(exists(kQuotas, "edit"));
}

TEST_F(OperatorTest, ChildrenDeletedOrEditedByHandAreRestored) {
  createReady("heal");
  ASSERT_TRUE(client_->remove(kQuotas, ns_->name(), "heal").ok());
  EXPECT_TRUE(eventually([&] { return exists(kQuotas, "heal"); })) << "a deleted child must come back";

  ASSERT_TRUE(client_->mergePatch(kHpas, ns_->name(), "heal", {{"spec", {{"maxReplicas", 99}}}}).ok());
  EXPECT_TRUE(eventually([&] { return get(kHpas, "heal")["spec"]["maxReplicas"] == 10; }))
      << "a field Governor owns, edited by hand, must be restored";

  // Without the label, the child leaves the informer: the create is refused (it exists), the
  // read shows it is this ServiceLevel's, and it is applied to, not reported as a conflict.
  auto limits = get(kLimitRanges, "heal");
  ASSERT_TRUE(client_
                  ->mergePatch(kLimitRanges, ns_->name(), "heal",
                               {{"metadata", {{"labels", {{"app.kubernetes.io/managed-by", nullptr}}}}}})
                  .ok());
  EXPECT_TRUE(eventually([&] {
    return get(kLimitRanges, "heal")["metadata"]["labels"].value("app.kubernetes.io/managed-by", "") == "governor";
  })) << "a label Governor sets, removed by hand, must be restored";
  EXPECT_EQ(get(kLimitRanges, "heal")["metadata"]["uid"], limits["metadata"]["uid"]) << "on the same object";
  EXPECT_TRUE(conditionIs("heal", "QuotaReady", "True", "Reconciled")) << condition("heal", "QuotaReady");
}

TEST_F(OperatorTest, AnObjectGovernorDoesNotOwnIsNeverTouched) {
  Json mine = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", "taken-cache"}}},
               {"data", {{"owner", "a human"}}}};
  ASSERT_TRUE(client_->create(kConfigMaps, ns_->name(), mine).ok());
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("taken-app")).ok());
  ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), serviceLevel("taken", "taken-app")).ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("taken", "CacheReady", "False", "Conflict"); }))
      << condition("taken", "CacheReady");
  EXPECT_NE(condition("taken", "CacheReady")["message"].get<std::string>().find("ConfigMap " + ns_->name() +
                                                                                "/taken-cache already exists"),
            std::string::npos);
  EXPECT_TRUE(conditionIs("taken", "Ready", "False", "Conflict"));
  EXPECT_TRUE(conditionIs("taken", "QuotaReady", "True", "Reconciled")) << "the other parts still reconcile";
  EXPECT_GT(linesWith(operator_->log(), {"CacheReady is False (Conflict)", "servicelevel=taken", " reason=Conflict"}),
            0)
      << tail(operator_->logFile());

  ASSERT_TRUE(client_->remove(kServiceLevels, ns_->name(), "taken").ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto still = get(kConfigMaps, "taken-cache");
  ASSERT_FALSE(still.is_null()) << "deleting the ServiceLevel must not delete what the user owns";
  EXPECT_EQ(still["data"]["owner"], "a human");
}

TEST_F(OperatorTest, AForeignHpaOfTheSameNameIsLeftUntouched) {
  Json theirs = {{"apiVersion", "autoscaling/v2"},
                 {"kind", "HorizontalPodAutoscaler"},
                 {"metadata", {{"name", "foreign"}}},
                 {"spec",
                  {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "foreign-app"}}},
                   {"minReplicas", 3},
                   {"maxReplicas", 4}}}};
  ASSERT_TRUE(client_->create(kHpas, ns_->name(), theirs).ok());
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("foreign-app")).ok());
  ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), serviceLevel("foreign", "foreign-app")).ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("foreign", "AutoscalerReady", "False", "Conflict"); }))
      << condition("foreign", "AutoscalerReady");
  auto hpa = get(kHpas, "foreign");
  EXPECT_EQ(hpa["spec"]["maxReplicas"], 4) << "the user's HPA must not be overwritten";
  EXPECT_FALSE(hpa["metadata"].contains("ownerReferences"));
  EXPECT_TRUE(conditionIs("foreign", "CacheReady", "True", "Reconciled"));
}

// A new child is made with one server-side apply (whose resourceVersion "1" no existing object
// has), so its fields belong to the Apply entry of governor-operator from the start: later
// applies own them and may remove them. The API server gives it a uid of its own.
TEST_F(OperatorTest, ANewChildIsMadeByGovernorsApply) {
  createReady("post");
  auto quota = client_->get(kQuotas, ns_->name(), "post");
  ASSERT_TRUE(quota.ok());
  int applies = 0;
  for (const auto& entry : (*quota)["metadata"]["managedFields"]) {
    if (entry["manager"] != "governor-operator") continue;
    EXPECT_EQ(entry["operation"], "Apply") << entry.dump();
    EXPECT_TRUE(entry["fieldsV1"]["f:spec"]["f:hard"].contains("f:pods")) << entry.dump();
    ++applies;
  }
  EXPECT_EQ(applies, 1) << (*quota)["metadata"]["managedFields"].dump();
  EXPECT_FALSE((*quota)["metadata"].value("uid", "").empty());
  EXPECT_NE((*quota)["metadata"]["resourceVersion"], "1");
}

// The reported take-over: an operator that may not get resourcequotas took a 403 for
// "absent", applied over an admin's quota of the same name with force, owned it, and the
// garbage collector deleted it with the ServiceLevel. Now the 403 is an error: the quota is
// never changed, adopted or deleted, and QuotaReady says why.
TEST_F(OperatorTest, AForeignQuotaTheOperatorMayNotReadIsNeverChangedOrDeleted) {
  const std::string sa = "operator-no-quota-get-" + ns_->name();
  ASSERT_EQ(run("kubectl create namespace governor --dry-run=client -o yaml | kubectl apply -f -").status, 0);
  ASSERT_TRUE(client_
                  ->create({"", "v1", "serviceaccounts", true}, "governor",
                           {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", sa}}}})
                  .ok());
  auto rule = [](const std::string& group, std::vector<std::string> resources, std::vector<std::string> verbs) {
    return Json{{"apiGroups", {group}}, {"resources", resources}, {"verbs", verbs}};
  };
  const std::vector<std::string> all{"get", "list", "watch", "create", "patch", "delete"};
  Json role = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "Role"},
      {"metadata", {{"name", "operator"}}},
      {"rules",
       {rule("governor.io", {"servicelevels"}, {"get", "list", "watch"}),
        rule("governor.io", {"servicelevels/status"}, {"patch"}), rule("", {"events"}, {"create"}),
        rule("autoscaling", {"horizontalpodautoscalers"}, all), rule("apps", {"statefulsets"}, all),
        rule("apps", {"deployments"}, {"list", "watch"}), rule("", {"services", "configmaps", "limitranges"}, all),
        rule("", {"resourcequotas"}, {"list", "watch", "create", "patch", "delete"})}}};
  ASSERT_TRUE(client_->create({"rbac.authorization.k8s.io", "v1", "roles", true}, ns_->name(), role).ok());
  Json binding = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                  {"kind", "RoleBinding"},
                  {"metadata", {{"name", "operator"}}},
                  {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "operator"}}},
                  {"subjects", {{{"kind", "ServiceAccount"}, {"name", sa}, {"namespace", "governor"}}}}};
  ASSERT_TRUE(client_->create({"rbac.authorization.k8s.io", "v1", "rolebindings", true}, ns_->name(), binding).ok());
  TempDir dir("operator-rbac");
  auto kubeconfig = writeServiceAccountKubeconfig(dir.path().string(), sa);
  ASSERT_EQ(kubeconfig.status, 0) << kubeconfig.output;

  Json quota = {{"apiVersion", "v1"},
                {"kind", "ResourceQuota"},
                {"metadata", {{"name", "team"}}},
                {"spec", {{"hard", {{"pods", "10"}}}}}};
  ASSERT_TRUE(client_->create(kQuotas, ns_->name(), quota).ok());
  auto before = get(kQuotas, "team");
  // Only the reduced operator may act on this ServiceLevel.
  operator_->stop();
  delete operator_;
  operator_ = nullptr;
  {
    BackgroundProcess reduced({GOVERNOR_OPERATOR_BINARY, "--kubeconfig", dir.file(sa + ".kubeconfig"), "--namespace",
                               ns_->name(), "--metrics-bind-address", "127.0.0.1:18280", "--health-probe-bind-address",
                               "127.0.0.1:18281", "--log-format", "text"},
                              std::string(GOVERNOR_BINARY_DIR) + "/operator-reduced-rbac.log");
    ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("team-app")).ok());
    ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), serviceLevel("team", "team-app")).ok());
    EXPECT_TRUE(eventually([&] { return conditionIs("team", "QuotaReady", "False", "ReadFailed"); }))
        << condition("team", "QuotaReady") << "\n"
        << tail(reduced.logFile());
    std::string message = condition("team", "QuotaReady").value("message", "");
    EXPECT_NE(message.find("cannot read ResourceQuota " + ns_->name() + "/team, so Governor writes nothing to it"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("403"), std::string::npos) << message;
    EXPECT_TRUE(conditionIs("team", "CacheReady", "True", "Reconciled")) << "the other parts still reconcile";
    std::this_thread::sleep_for(std::chrono::seconds(3));  // retries with backoff meanwhile
    // The quota controller updates its status; its spec and metadata stay the admin's.
    auto untouched = [&] {
      auto now = get(kQuotas, "team");
      EXPECT_EQ(now["metadata"]["uid"], before["metadata"]["uid"]) << now.dump();
      EXPECT_EQ(now["spec"], before["spec"]) << now.dump();
      EXPECT_FALSE(now["metadata"].contains("ownerReferences")) << now.dump();
      EXPECT_FALSE(now["metadata"].contains("labels")) << now.dump();
      for (const auto& entry : now["metadata"]["managedFields"]) EXPECT_NE(entry["manager"], "governor-operator");
    };
    untouched();

    ASSERT_TRUE(client_->remove(kServiceLevels, ns_->name(), "team").ok());
    EXPECT_TRUE(eventually([&] { return !exists(kStatefulSets, "team-redis"); }, std::chrono::seconds(60)))
        << "the ServiceLevel's own children are garbage-collected";
    untouched();  // the admin's quota survives the ServiceLevel
    EXPECT_EQ(reduced.stop(), 0);
  }
  client_->remove({"", "v1", "serviceaccounts", true}, "governor", sa);
  startOperator();
}

TEST_F(OperatorTest, RestartedMidWayItConverges) {
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("later-app")).ok());
  createReady("earlier");
  operator_->signal(SIGKILL);  // mid-way: no chance to finish anything
  operator_->stop();
  delete operator_;
  operator_ = nullptr;
  // While no operator runs: a new ServiceLevel, and a child of an old one deleted.
  ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), serviceLevel("later", "later-app")).ok());
  ASSERT_TRUE(client_->remove(kQuotas, ns_->name(), "earlier").ok());
  startOperator();
  EXPECT_TRUE(eventually([&] { return conditionIs("later", "Ready", "True", "Reconciled"); }))
      << get(kServiceLevels, "later").dump(2);
  EXPECT_TRUE(exists(kHpas, "later"));
  EXPECT_TRUE(exists(kStatefulSets, "later-redis"));
  EXPECT_TRUE(eventually([&] { return exists(kQuotas, "earlier"); })) << "what was deleted meanwhile comes back";
}

// --shard (docs/operations.md, Sharding): two operators, 0/2 and 1/2, each under its own Lease,
// split the ServiceLevels of several namespaces by the namespace's hash. Every ServiceLevel
// ends Ready, and each namespace's objects are written by its shard's operator only.
TEST_F(OperatorTest, TwoShardsSplitTheServiceLevelsAndNeitherWritesTheOthers) {
  operator_->stop();  // the suite's unsharded operator would reconcile everything
  delete operator_;
  operator_ = nullptr;
  // Namespaces until each shard has three.
  std::vector<std::unique_ptr<TestNamespace>> namespaces;
  int perShard[2] = {0, 0};
  while ((perShard[0] < 3 || perShard[1] < 3) && namespaces.size() < 24) {
    namespaces.push_back(std::make_unique<TestNamespace>(*client_, "shard"));
    ++perShard[op::Shard{0, 2}.owns(namespaces.back()->name()) ? 0 : 1];
  }
  ASSERT_GE(std::min(perShard[0], perShard[1]), 3) << "24 namespaces and still a shard with fewer than 3";
  std::vector<std::unique_ptr<BackgroundProcess>> shards;
  for (int i = 0; i < 2; ++i) {
    const std::string port = std::to_string(18090 + 2 * i);
    shards.push_back(std::make_unique<BackgroundProcess>(
        std::vector<std::string>{GOVERNOR_OPERATOR_BINARY, "--kubeconfig", std::getenv("KUBECONFIG"), "--shard",
                                 std::to_string(i) + "/2", "--leader-elect", "--leader-election-namespace", "default",
                                 "--metrics-bind-address", "127.0.0.1:" + port, "--health-probe-bind-address",
                                 "127.0.0.1:" + std::to_string(18091 + 2 * i), "--log-format", "text", "--log-level",
                                 "debug"},
        std::string(GOVERNOR_BINARY_DIR) + "/operator-shard-" + std::to_string(i) + ".log"));
  }
  const auto created = std::chrono::steady_clock::now();
  const int perNamespace = 20;
  for (const auto& ns : namespaces) {
    for (int i = 0; i < perNamespace; ++i) {
      Json sl = {{"apiVersion", "governor.io/v1alpha1"},
                 {"kind", "ServiceLevel"},
                 {"metadata", {{"name", "sl-" + std::to_string(i)}}},
                 {"spec", {{"workload", {{"name", "app"}}}, {"quota", {{"hard", {{"pods", "10"}}}}}}}};
      ASSERT_TRUE(client_->create(kServiceLevels, ns->name(), sl).ok());
    }
  }
  auto readyIn = [&](const std::string& ns) {
    auto list = client_->list(kServiceLevels, ns);
    if (!list.ok() || list->items.size() != perNamespace) return 0;
    int ready = 0;
    for (const auto& sl : list->items) {
      for (const auto& c : sl.value("status", Json::object()).value("conditions", Json::array())) {
        ready += c.value("type", "") == "Ready" && c.value("status", "") == "True";
      }
    }
    return ready;
  };
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& ns : namespaces) {
          if (readyIn(ns->name()) != perNamespace) return false;
        }
        return true;
      },
      std::chrono::seconds(180)))
      << "not every ServiceLevel became Ready; see operator-shard-*.log";
  std::printf("shards: %zu ServiceLevels in %zu namespaces Ready in %.1fs\n", namespaces.size() * perNamespace,
              namespaces.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - created).count());
  for (auto& s : shards) EXPECT_EQ(s->stop(), 0);

  // Which namespaces each operator wrote to ("apply ResourceQuota NS/NAME" at debug level).
  for (int i = 0; i < 2; ++i) {
    std::ifstream log(shards[i]->logFile());
    std::stringstream text;
    text << log.rdbuf();
    for (const auto& ns : namespaces) {
      const bool wrote = text.str().find(" " + ns->name() + "/sl-") != std::string::npos;
      EXPECT_EQ(wrote, (op::Shard{i, 2}.owns(ns->name())))
          << "shard " << i << "/2 and namespace " << ns->name() << ": each namespace is written by its shard only";
    }
  }
  const kube::Resource leases{"coordination.k8s.io", "v1", "leases", true};
  for (const char* lease : {"governor-operator-shard-0-of-2", "governor-operator-shard-1-of-2"}) {
    EXPECT_TRUE(client_->get(leases, "default", lease).ok()) << "each shard has a Lease of its own: " << lease;
  }
  startOperator();
}

TEST_F(OperatorTest, MissingWorkloadIsReportedByName) {
  ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), serviceLevel("lost", "nowhere")).ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("lost", "AutoscalerReady", "False", "WorkloadNotFound"); }));
  EXPECT_EQ(condition("lost", "AutoscalerReady")["message"], "Deployment " + ns_->name() + "/nowhere does not exist");
  EXPECT_TRUE(conditionIs("lost", "CacheReady", "True", "Reconciled"));
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("nowhere")).ok());
  EXPECT_TRUE(eventually([&] { return conditionIs("lost", "Ready", "True", "Reconciled"); }, std::chrono::seconds(45)))
      << "once the workload exists the ServiceLevel becomes ready without a change to it";
}

// `render` is the review copy of what the operator writes: for every sample, each
// rendered object must hold in the live one the operator made.
TEST_F(OperatorTest, EachSampleRendersWhatTheOperatorWrites) {
  const std::map<std::string, kube::Resource> byKind{
      {"HorizontalPodAutoscaler", kHpas}, {"StatefulSet", kStatefulSets}, {"Service", kServices},
      {"ConfigMap", kConfigMaps},         {"ResourceQuota", kQuotas},     {"LimitRange", kLimitRanges}};
  int checked = 0;
  for (const auto& file : std::filesystem::directory_iterator(GOVERNOR_SOURCE_DIR "/manifests/samples")) {
    std::ifstream in(file.path());
    auto docs = kube::parseYamlDocuments(std::string(std::istreambuf_iterator<char>(in), {}));
    ASSERT_TRUE(docs.ok()) << file.path();
    Json sl = (*docs)[0];
    const std::string name = sl["metadata"]["name"];
    sl["metadata"]["namespace"] = ns_->name();
    auto workload = idleDeployment(sl["spec"]["workload"]["name"]);
    bool statefulSet = sl["spec"]["workload"].value("kind", "") == "StatefulSet";
    if (statefulSet) workload["kind"] = "StatefulSet";
    ASSERT_TRUE(client_->create(statefulSet ? kStatefulSets : kDeployments, ns_->name(), workload).ok()) << name;
    auto created = client_->create(kServiceLevels, ns_->name(), sl);
    ASSERT_TRUE(created.ok()) << file.path() << ": " << created.error().what();
    ASSERT_TRUE(eventually([&] { return conditionIs(name, "Ready", "True", "Reconciled"); }))
        << file.path() << ": " << get(kServiceLevels, name).dump(2);

    auto copy = std::string(GOVERNOR_BINARY_DIR) + "/sample-" + name + ".yaml";
    std::ofstream(copy) << kube::toYaml(sl);
    auto rendered = run(std::string(GOVERNOR_OPERATOR_BINARY) + " render --no-prometheus-rule-crd -f " + copy);
    ASSERT_EQ(rendered.status, 0) << rendered.output;
    auto objects = kube::parseYamlDocuments(rendered.output);
    ASSERT_TRUE(objects.ok()) << rendered.output;
    for (const auto& want : *objects) {
      const auto& r = byKind.at(want["kind"]);
      auto live = get(r, want["metadata"]["name"]);
      ASSERT_FALSE(live.is_null()) << want["kind"] << " " << want["metadata"]["name"] << " is missing";
      EXPECT_TRUE(op::holds(live, want)) << "rendered:\n" << kube::toYaml(want) << "live:\n" << kube::toYaml(live);
      ++checked;
    }
  }
  EXPECT_GE(checked, 15) << "the samples imply at least 15 objects";
}

TEST_F(OperatorTest, DeletingTheServiceLevelGarbageCollectsItsChildren) {
  createReady("gone");
  ASSERT_TRUE(client_->remove(kServiceLevels, ns_->name(), "gone").ok());
  EXPECT_TRUE(eventually(
      [&] {
        return !exists(kHpas, "gone") && !exists(kStatefulSets, "gone-redis") && !exists(kQuotas, "gone") &&
               !exists(kConfigMaps, "gone-rules");
      },
      std::chrono::seconds(60)))
      << "kube-controller-manager's garbage collector removes children of a deleted owner";
  EXPECT_TRUE(exists(kDeployments, "gone-app")) << "the workload belongs to the user";
}

// Two replicas with --leader-elect, as the chart runs them: the standby is ready (else a
// rolling update would wait for it forever) but does not lead, and takes over as soon as the
// leader stops.
TEST_F(OperatorTest, AStandbyReplicaIsReadyAndTakesOverWhenTheLeaderStops) {
  auto replica = [&](const std::string& port) {
    return std::make_unique<BackgroundProcess>(
        std::vector<std::string>{GOVERNOR_OPERATOR_BINARY, "--kubeconfig", std::getenv("KUBECONFIG"), "--leader-elect",
                                 "--leader-election-namespace", ns_->name(), "--metrics-bind-address",
                                 "127.0.0.1:" + port + "0", "--health-probe-bind-address", "127.0.0.1:" + port + "1",
                                 "--log-format", "text"},
        std::string(GOVERNOR_BINARY_DIR) + "/operator-replica-" + port + ".log");
  };
  auto ready = [](const std::string& port) {
    return run("curl -sf http://127.0.0.1:" + port + "1/readyz").status == 0;
  };
  auto leads = [](const std::string& port) {
    return run("curl -sf http://127.0.0.1:" + port + "0/metrics").output.find("\ngovernor_operator_leader 1") !=
           std::string::npos;
  };
  auto first = replica("1828");
  ASSERT_TRUE(eventually([&] { return leads("1828") && ready("1828"); })) << first->logFile();
  auto second = replica("1838");
  ASSERT_TRUE(eventually([&] { return ready("1838"); })) << "a standby must be ready: " << second->logFile();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE(leads("1838")) << "one leader at a time";

  auto stopped = std::chrono::steady_clock::now();
  EXPECT_EQ(first->stop(), 0);
  ASSERT_TRUE(eventually([&] { return leads("1838") && ready("1838"); })) << second->logFile();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, std::chrono::seconds(10))
      << "the stopped leader released the lease: no waiting for it to expire (15 s)";
  EXPECT_EQ(second->stop(), 0);
}

// A leader whose Lease another holder takes (a partition healed, an admin's edit) stops
// writing and exits 1 within its renew deadline, so that its restart competes again; it
// never writes the Lease again.
TEST_F(OperatorTest, ALeaderWhoseLeaseIsTakenStopsWritingAndExitsNonZero) {
  BackgroundProcess leader({GOVERNOR_OPERATOR_BINARY,
                            "--kubeconfig",
                            std::getenv("KUBECONFIG"),
                            "--leader-elect",
                            "--leader-election-namespace",
                            ns_->name(),
                            "--namespace",
                            ns_->name(),
                            "--leader-elect-lease-duration",
                            "6",
                            "--leader-elect-renew-deadline",
                            "4",
                            "--leader-elect-retry-period",
                            "1",
                            "--metrics-bind-address",
                            "127.0.0.1:18480",
                            "--health-probe-bind-address",
                            "127.0.0.1:18481",
                            "--log-format",
                            "text"},
                           std::string(GOVERNOR_BINARY_DIR) + "/operator-lease-taken.log");
  const kube::Resource leases{"coordination.k8s.io", "v1", "leases", true};
  ASSERT_TRUE(eventually([&] { return run("curl -sf http://127.0.0.1:18481/readyz").status == 0; }))
      << tail(leader.logFile());
  // A standby is ready before it holds anything: wait until it has taken the Lease.
  kube::Result<Json> lease = Json();
  ASSERT_TRUE(eventually([&] {
    lease = client_->get(leases, ns_->name(), "governor-operator");
    return lease.ok() && !(*lease)["spec"].value("holderIdentity", "").empty();
  })) << (lease.ok() ? lease->dump() : lease.error().what())
      << tail(leader.logFile());
  (*lease)["spec"]["holderIdentity"] = "intruder";
  (*lease)["spec"]["leaseDurationSeconds"] = 3600;
  auto taken = client_->update(leases, *lease);
  ASSERT_TRUE(taken.ok()) << taken.error().what();
  auto takenAt = std::chrono::steady_clock::now();

  ASSERT_TRUE(eventually([&] { return !leader.running(); }, std::chrono::seconds(8))) << tail(leader.logFile());
  EXPECT_LT(std::chrono::steady_clock::now() - takenAt, std::chrono::seconds(5)) << "within the 4 s renew deadline";
  EXPECT_EQ(leader.stop(), 1);
  EXPECT_NE(leader.log().find("lost the leader lease"), std::string::npos) << tail(leader.logFile());
  auto after = client_->get(leases, ns_->name(), "governor-operator");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["metadata"]["resourceVersion"], (*taken)["metadata"]["resourceVersion"])
      << "the old leader wrote the Lease after losing it: " << after->dump();
}

// An operator whose informers cannot list (here: a ServiceAccount without any RBAC) is not
// ready and says why, exits 1 after --cache-sync-timeout, and stops at once on SIGTERM
// while it waits.
TEST_F(OperatorTest, InformersThatNeverSyncAreReportedAndEndTheProcess) {
  const std::string sa = "operator-no-rbac-" + ns_->name();
  ASSERT_EQ(run("kubectl create namespace governor --dry-run=client -o yaml | kubectl apply -f -").status, 0);
  ASSERT_TRUE(client_
                  ->create({"", "v1", "serviceaccounts", true}, "governor",
                           {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", sa}}}})
                  .ok());
  TempDir dir("operator-no-rbac");
  auto kubeconfig = writeServiceAccountKubeconfig(dir.path().string(), sa);
  ASSERT_EQ(kubeconfig.status, 0) << kubeconfig.output;
  auto start = [&](const std::string& syncTimeout) {
    return std::make_unique<BackgroundProcess>(
        std::vector<std::string>{GOVERNOR_OPERATOR_BINARY, "--kubeconfig", dir.file(sa + ".kubeconfig"), "--namespace",
                                 ns_->name(), "--cache-sync-timeout", syncTimeout, "--metrics-bind-address", "0",
                                 "--health-probe-bind-address", "127.0.0.1:18581", "--log-format", "text"},
        std::string(GOVERNOR_BINARY_DIR) + "/operator-no-rbac.log");
  };

  auto waiting = start("6");
  CommandResult readyz;
  // Each informer's 403 shows once its first list has failed, the ServiceLevels' among them.
  const std::string serviceLevels =
      "servicelevels.governor.io (GET /apis/governor.io/v1alpha1/namespaces/" + ns_->name();
  ASSERT_TRUE(eventually(
      [&] {
        readyz = run("curl -s -w ' %{http_code}' http://127.0.0.1:18581/readyz");
        return readyz.output.find(serviceLevels) != std::string::npos;
      },
      std::chrono::seconds(5)))
      << readyz.output << tail(waiting->logFile());
  EXPECT_NE(readyz.output.find("informers not synced: "), std::string::npos) << readyz.output;
  EXPECT_NE(readyz.output.find("403 Forbidden"), std::string::npos) << readyz.output;
  EXPECT_TRUE(readyz.output.ends_with(" 503")) << readyz.output;
  ASSERT_TRUE(eventually([&] { return !waiting->running(); }, std::chrono::seconds(10))) << tail(waiting->logFile());
  EXPECT_EQ(waiting->stop(), 1);
  EXPECT_NE(waiting->log().find("informers did not sync within 6s (--cache-sync-timeout): "), std::string::npos)
      << tail(waiting->logFile());

  auto stopped = start("600");
  ASSERT_TRUE(
      eventually([&] { return run("curl -s http://127.0.0.1:18581/readyz").output.find("403") != std::string::npos; },
                 std::chrono::seconds(5)));
  auto sigterm = std::chrono::steady_clock::now();
  EXPECT_EQ(stopped->stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - sigterm, std::chrono::seconds(2)) << "SIGTERM while waiting for sync";
  client_->remove({"", "v1", "serviceaccounts", true}, "governor", sa);
}

// The scale-down guard without --prometheus-url (this suite's operator): said, never ignored.
TEST_F(OperatorTest, AScaleDownGuardWithoutPrometheusSaysItCannotBeEvaluated) {
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("unguarded-app")).ok());
  Json sl = serviceLevel("unguarded", "unguarded-app");
  sl["spec"]["autoscaling"]["scaleDownGuard"] = {{"whileBurning", "page"}};
  ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), sl).ok());
  EXPECT_TRUE(eventually([&] {
    return conditionIs("unguarded", "ScaleDownGuard", "False", "PrometheusNotConfigured");
  })) << get(kServiceLevels, "unguarded").dump(2);
  EXPECT_NE(condition("unguarded", "ScaleDownGuard").value("message", "").find("without --prometheus-url"),
            std::string::npos)
      << condition("unguarded", "ScaleDownGuard");
  EXPECT_EQ(get(kHpas, "unguarded")["spec"]["minReplicas"], 1);
}

// A service's request counters as its /metrics serves them: every scrape adds 100 failed and
// 100 good requests (a 50% error ratio, far above the page tier's 14.4 x 0.1%) until
// stopErrors(); then only good ones, ten million a scrape, so that the error ratio over every
// window, the short ones included, falls below the page tier's at once.
class RequestsExporter {
 public:
  RequestsExporter() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      if (failing_) {
        errors_ += 100;
        good_ += 100;
      } else {
        good_ += 10'000'000;
      }
      res.set_content(
          "# TYPE http_requests_total counter\n"
          "http_requests_total{code=\"500\"} " +
              std::to_string(errors_) +
              "\n"
              "http_requests_total{code=\"200\"} " +
              std::to_string(good_) + "\n",
          "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RequestsExporter() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  void stopErrors() {
    std::lock_guard lock(mutex_);
    failing_ = false;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  bool failing_ = true;   // guarded by mutex_
  long long errors_ = 0;  // guarded by mutex_
  long long good_ = 0;    // guarded by mutex_
};

// A real Prometheus evaluates the rules the operator wrote for the ServiceLevel (its ConfigMap
// NAME-rules: this cluster has no PrometheusRule CRD) on the exporter's counters; an operator
// run with --prometheus-url holds the HPA's floor at the workload's replicas while the page
// tier's condition holds, and releases it when the burn stops.
TEST_F(OperatorTest, ScaleDownGuardHoldsTheFloorWhileThePageTierBurns) {
  const std::string prometheusBinary = findProgram("PROMETHEUS", {"/usr/bin/prometheus", "prometheus"});
  ASSERT_FALSE(prometheusBinary.empty()) << "prometheus not found: run scripts/install-deps (or set PROMETHEUS)";
  RequestsExporter exporter;
  ASSERT_GT(exporter.port(), 0);
  TempDir dir("guard");
  ASSERT_TRUE(dir.ok());
  const int prometheusPort = freePort();
  auto reasons = [&] {
    std::set<std::string> out;
    auto events = client_->list(kEvents, ns_->name(), {.fieldSelector = "involvedObject.name=burning"});
    if (events) {
      for (const auto& e : events->items) out.insert(e.value("reason", ""));
    }
    return out;
  };
  auto hpaMin = [&] { return get(kHpas, "burning")["spec"].value("minReplicas", -1); };

  // Only an operator that reads Prometheus acts in this test.
  operator_->stop();
  delete operator_;
  operator_ = nullptr;
  {
    BackgroundProcess guarded(
        {GOVERNOR_OPERATOR_BINARY, "--kubeconfig", std::getenv("KUBECONFIG"), "--namespace", ns_->name(),
         "--metrics-bind-address", "127.0.0.1:18380", "--health-probe-bind-address", "127.0.0.1:18381",
         "--status-refresh-period", "1", "--prometheus-url", "http://127.0.0.1:" + std::to_string(prometheusPort),
         "--log-format", "text", "--log-level", "debug"},
        std::string(GOVERNOR_BINARY_DIR) + "/operator-guard.log");
    Json d = deployment("burning-app");
    d["spec"]["replicas"] = 3;
    ASSERT_TRUE(client_->create(kDeployments, ns_->name(), d).ok());
    Json sl = serviceLevel("burning", "burning-app");
    sl["spec"].erase("cache");
    sl["spec"].erase("quota");
    sl["spec"]["autoscaling"] = {{"minReplicas", 1},
                                 {"maxReplicas", 10},
                                 {"resources", {{"cpu", {{"averageUtilization", 70}}}}},
                                 {"scaleDownGuard", {{"whileBurning", "page"}}}};
    ASSERT_TRUE(client_->create(kServiceLevels, ns_->name(), sl).ok());

    // Prometheus not up yet: the guard says it cannot read the burn, and holds nothing.
    EXPECT_TRUE(eventually([&] { return conditionIs("burning", "ScaleDownGuard", "False", "ErrorBudgetBurnUnknown"); }))
        << get(kServiceLevels, "burning").dump(2) << "\n"
        << tail(guarded.logFile());
    EXPECT_EQ(hpaMin(), 1);

    ASSERT_TRUE(eventually([&] { return exists(kConfigMaps, "burning-rules"); }));
    const Json data = get(kConfigMaps, "burning-rules")["data"];
    ASSERT_EQ(data.size(), 1u) << data.dump();
    dir.write("rules.yaml", data.begin()->get<std::string>());
    dir.write("prometheus.yml",
              "global:\n"
              "  scrape_interval: 1s\n"
              "  evaluation_interval: 1s\n"
              "rule_files: [rules.yaml]\n"
              "scrape_configs:\n"
              "  - job_name: app\n"
              "    static_configs:\n"
              "      - targets: ['127.0.0.1:" +
                  std::to_string(exporter.port()) + "']\n");
    BackgroundProcess prometheus(
        {prometheusBinary, "--config.file=" + dir.file("prometheus.yml"), "--storage.tsdb.path=" + dir.file("data"),
         "--web.listen-address=127.0.0.1:" + std::to_string(prometheusPort)},
        dir.file("prometheus.log"), dir.path().string());

    // Burning: the floor is held at the 3 replicas the workload has.
    EXPECT_TRUE(eventually([&] { return conditionIs("burning", "ScaleDownGuard", "True", "ErrorBudgetBurning"); },
                           std::chrono::seconds(60)))
        << condition("burning", "ScaleDownGuard") << "\n"
        << tail(dir.file("prometheus.log")) << "\n"
        << tail(guarded.logFile());
    const std::string message = condition("burning", "ScaleDownGuard").value("message", "");
    EXPECT_NE(message.find("availability error budget is burning"), std::string::npos) << message;
    EXPECT_NE(message.find("14.4x over 1h and 5m"), std::string::npos) << message;
    EXPECT_NE(message.find("held at 3 replicas"), std::string::npos) << message;
    EXPECT_TRUE(eventually([&] { return hpaMin() == 3; })) << get(kHpas, "burning").dump();
    EXPECT_EQ(get(kHpas, "burning")["spec"]["maxReplicas"], 10);
    EXPECT_TRUE(eventually([&] { return reasons().contains("ScaleDownGuardEngaged"); }));

    // The errors stop and the short window is clean: the HPA's own floor is back.
    exporter.stopErrors();
    EXPECT_TRUE(eventually([&] { return conditionIs("burning", "ScaleDownGuard", "False", "ErrorBudgetNotBurning"); },
                           std::chrono::seconds(60)))
        << condition("burning", "ScaleDownGuard") << "\n"
        << tail(guarded.logFile());
    EXPECT_TRUE(eventually([&] { return hpaMin() == 1; })) << get(kHpas, "burning").dump();
    EXPECT_TRUE(eventually([&] { return reasons().contains("ScaleDownGuardReleased"); }));

    EXPECT_EQ(guarded.stop(), 0);
    prometheus.stop();
  }
  startOperator();
}

// The largest ServiceLevel the CRD accepts (every text and map at its bound; built from the
// CRD file) is accepted by the API server and gets every child, its rules included: no
// object Governor writes for a valid ServiceLevel is too large to store.
TEST_F(OperatorTest, TheLargestServiceLevelTheCrdAcceptsGetsEveryChild) {
  const Json spec = crdSpecSchema(std::string(GOVERNOR_SOURCE_DIR) + "/crds/governor.io_servicelevels.yaml");
  Json sl = largest(spec, "largest", ns_->name());
  sl["spec"]["workload"]["name"] = "largest-app";
  ASSERT_TRUE(client_->create(kDeployments, ns_->name(), idleDeployment("largest-app")).ok());
  auto created = client_->create(kServiceLevels, ns_->name(), sl);
  ASSERT_TRUE(created.ok()) << created.error().what();
  EXPECT_TRUE(eventually([&] { return conditionIs("largest", "Ready", "True", "Reconciled"); }))
      << get(kServiceLevels, "largest")["status"].dump(2);
  const kube::Resource rules{"monitoring.coreos.com", "v1", "prometheusrules", true};
  Json written = get(rules, "largest");
  if (written.is_null()) written = get(kConfigMaps, "largest-rules");
  ASSERT_FALSE(written.is_null()) << "no rules were written";
  std::cout << "the largest ServiceLevel's rules as stored: " << written.dump().size() / 1024 << " KiB\n";
}

// A namespace deleted while its ServiceLevels reconcile: nothing Governor adds holds the
// namespace, it goes away, the operator keeps running and reconciling elsewhere, and stops
// retrying what went with it.
TEST_F(OperatorTest, ANamespaceDeletedWhileItsServiceLevelsReconcileGoesAwayAndTheOperatorCarriesOn) {
  auto doomed = std::make_unique<TestNamespace>(*client_, "doomed");
  const std::string name = doomed->name();
  for (int i = 0; i < 20; ++i) {
    const std::string sl = "s" + std::to_string(i);
    ASSERT_TRUE(client_->create(kDeployments, name, idleDeployment(sl + "-app")).ok());
    ASSERT_TRUE(client_->create(kServiceLevels, name, serviceLevel(sl, sl + "-app")).ok());
  }
  doomed.reset();  // deletes the namespace, while the operator works on its 20 ServiceLevels
  auto deleted = std::chrono::steady_clock::now();
  auto gone = [&] {
    auto ns = client_->get(kNamespaces, "", name);
    return !ns && ns.error().isNotFound();
  };
  ASSERT_TRUE(eventually(gone, std::chrono::seconds(120)))
      << "namespace " << name << " never went away: " << get(kNamespaces, name).dump();
  std::cout << "namespace deleted mid-reconcile: gone after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - deleted).count() << " s\n";
  ASSERT_TRUE(operator_->running()) << tail(operator_->logFile());
  createReady("elsewhere");
  // What was queued before the delete is worked off (its writes refused: the namespace is
  // terminating, then gone); then 3 s pass without a word about the namespace.
  std::string since;
  ASSERT_TRUE(eventually(
      [&] {
        const size_t mark = operator_->log().size();
        std::this_thread::sleep_for(std::chrono::seconds(3));
        since = operator_->log().substr(mark);
        return since.find(name + "/") == std::string::npos;
      },
      std::chrono::seconds(60)))
      << "still working on the deleted namespace:\n"
      << since;
  const std::string log = operator_->log();
  // Each failed reconcile logs one warning ("servicelevel NS/NAME: …; retrying in …"): no retry storm.
  const int warnings = linesWith(log, {"namespace=" + name + " ", "; retrying in"});
  std::cout << "namespace deleted mid-reconcile: " << warnings << " warnings about its 20 ServiceLevels\n";
  EXPECT_LE(warnings, 60) << "more than three failed reconciles a ServiceLevel";
}

// The CRD deleted (which deletes every ServiceLevel, and the garbage collector their
// children) and applied again: the operator stays up, says it cannot list ServiceLevels
// meanwhile, and reconciles ServiceLevels made after, without a restart.
//
// Kubernetes' garbage collector cannot resolve an owner whose kind is gone, so the deleted
// ServiceLevels' children stay until the CRD is back; then it removes them, and a
// ServiceLevel applied again under the same name gets new children of its own.
TEST_F(OperatorTest, TheCrdDeletedAndAppliedAgainLeavesTheOperatorRunningAndReconciling) {
  createReady("before");
  const std::string oldHpa = get(kHpas, "before")["metadata"].value("uid", "");
  auto deleted = run("kubectl delete crd servicelevels.governor.io --wait=true 2>&1");
  ASSERT_EQ(deleted.status, 0) << deleted.output;
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(operator_->running()) << tail(operator_->logFile());

  auto applied = applyServiceLevelCrd();
  ASSERT_EQ(applied.status, 0) << applied.output;
  auto reapplied = std::chrono::steady_clock::now();
  auto again = client_->create(kServiceLevels, ns_->name(), serviceLevel("before", "before-app"));
  ASSERT_TRUE(again.ok()) << again.error().what();
  createReady("after");
  std::cout << "CRD deleted and applied again: a new ServiceLevel Ready after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - reapplied).count() << " s\n";
  EXPECT_TRUE(
      eventually([&] { return conditionIs("before", "Ready", "True", "Reconciled"); }, std::chrono::seconds(90)))
      << get(kServiceLevels, "before")["status"].dump(2);
  std::cout << "CRD deleted and applied again: the same ServiceLevel applied again Ready after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - reapplied).count() << " s\n";
  const Json hpa = get(kHpas, "before");
  EXPECT_NE(hpa["metadata"].value("uid", ""), oldHpa) << "the old ServiceLevel's HPA was never collected";
  EXPECT_EQ(hpa["metadata"]["ownerReferences"][0].value("uid", ""),
            get(kServiceLevels, "before")["metadata"].value("uid", ""));
  EXPECT_TRUE(eventually([] { return run("curl -sf http://127.0.0.1:18081/readyz").status == 0; }))
      << tail(operator_->logFile());
}

}  // namespace
}  // namespace governor::testing
