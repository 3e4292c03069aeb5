// The reconciler against a small in-process API server that fails the read of one child in
// one way (500, 429, 403): unknown is not absent, so nothing is written to that child, the
// condition says why, and the reconcile is retried. A 404 shows the same fake leads to a
// create; children it lists show that applies and deletes name the uid they were meant for.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "kube/client.h"
#include "kube/informer.h"
#include "unit/support/local_server.h"
#include "operator/metrics.h"
#include "operator/reconcile/reconciler.h"

namespace governor::op {
namespace {

using kube::Json;

const char* kQuotaPath = "/api/v1/namespaces/shop/resourcequotas/team";

// Lists one ServiceLevel shop/team (a quota section only) and no children; answers the
// GET of its ResourceQuota with `quotaStatus`; records every other request.
class FakeApi {
 public:
  // `children`: what lists of a child kind (by collection path) return.
  explicit FakeApi(int quotaStatus, std::map<std::string, Json> children = {})
      : quotaStatus_(quotaStatus), children_(std::move(children)) {
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { get(req, res); });
    for (auto* method : {"POST", "PATCH", "PUT", "DELETE"}) {
      auto record = [this, method](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mu_);
        writes_.push_back(std::string(method) + " " + req.path);
        bodies_.push_back(req.body);
        Json created = Json::parse(req.body, nullptr, false);
        if (!created.is_object()) created = Json::object();
        created["metadata"]["uid"] = "created-uid";
        res.status = std::string(method) == "POST" ? 201 : 200;
        res.set_content(created.dump(), "application/json");
      };
      if (std::string(method) == "POST") server_.Post(".*", record);
      if (std::string(method) == "PATCH") server_.Patch(".*", record);
      if (std::string(method) == "PUT") server_.Put(".*", record);
      if (std::string(method) == "DELETE") server_.Delete(".*", record);
    }
    local_.start();
  }
  std::string url() const { return local_.url(); }
  std::vector<std::string> writes() {
    std::lock_guard lock(mu_);
    return writes_;
  }
  // The body of the first write whose line starts with `prefix`.
  Json body(const std::string& prefix) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < writes_.size(); ++i) {
      if (writes_[i].rfind(prefix, 0) == 0) return Json::parse(bodies_[i], nullptr, false);
    }
    return nullptr;
  }

 private:
  void get(const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("watch")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // an empty stream, then a new watch
      res.set_content("", "application/json");
      return;
    }
    if (req.path == kQuotaPath) {
      res.status = quotaStatus_;
      res.set_content(Json{{"kind", "Status"}, {"code", quotaStatus_}, {"message", "said the fake"}}.dump(),
                      "application/json");
      return;
    }
    Json items = children_.contains(req.path) ? children_.at(req.path) : Json::array();
    if (req.path == "/apis/governor.io/v1alpha1/servicelevels") {
      items.push_back({{"apiVersion", "governor.io/v1alpha1"},
                       {"kind", "ServiceLevel"},
                       {"metadata", {{"name", "team"}, {"namespace", "shop"}, {"uid", "sl-uid"}, {"generation", 1}}},
                       {"spec", {{"workload", {{"kind", "Deployment"}, {"name", "app"}}},
                                 {"quota", {{"hard", {{"pods", "1000"}}}}}}}});
    } else if (req.path.find("/namespaces/") != std::string::npos || req.path.rfind("/apis/monitoring", 0) == 0) {
      res.status = 404;
      res.set_content(Json{{"kind", "Status"}, {"code", 404}, {"reason", "NotFound"}}.dump(), "application/json");
      return;
    }
    res.set_content(Json{{"kind", "List"}, {"metadata", {{"resourceVersion", "1"}}}, {"items", items}}.dump(),
                    "application/json");
  }

  int quotaStatus_;
  std::map<std::string, Json> children_;
  std::mutex mu_;
  std::vector<std::string> writes_;
  std::vector<std::string> bodies_;
  // Last: destroyed first, so no handler runs while the members above go away.
  testing::LocalServer local_;
  httplib::Server& server_ = local_.server();
};

struct Run {
  Outcome outcome;
  std::vector<std::string> writes;
  Json status;  // the status patch's body
  Json apply;   // the body of the apply to the quota
  Json remove;  // the DeleteOptions of a pruned ConfigMap
};

Run reconcileWithQuotaRead(int quotaStatus, std::map<std::string, Json> children = {}) {
  FakeApi api(quotaStatus, std::move(children));
  kube::Config config;
  config.server = api.url();
  config.timeout = std::chrono::seconds(5);
  auto client = kube::Client::create(config);
  EXPECT_TRUE(client) << client.error().what();
  kube::Informers informers(**client);
  Reconciler::registerInformers(informers, "", [](const std::string&) {});
  informers.startAll();
  EXPECT_TRUE(informers.waitForSync(std::chrono::seconds(10)));
  Metrics metrics;
  Reconciler reconciler(**client, informers, "", metrics);
  Run run{reconciler.reconcile("shop/team"), {}, nullptr};
  informers.stopAll();
  run.writes = api.writes();
  run.status = api.body("PATCH /apis/governor.io/v1alpha1/namespaces/shop/servicelevels/team/status");
  run.apply = api.body("PATCH /api/v1/namespaces/shop/resourcequotas/team");
  run.remove = api.body("DELETE /api/v1/namespaces/shop/configmaps/team-cache");
  return run;
}

Json quotaCondition(const Json& status) {
  for (const auto& c : status["status"]["conditions"]) {
    if (c["type"] == "QuotaReady") return c;
  }
  return nullptr;
}

TEST(Reconciler, AnUnreadableChildIsNeverWrittenAndTheConditionSaysWhy) {
  for (int code : {500, 429, 403}) {
    SCOPED_TRACE(code);
    auto run = reconcileWithQuotaRead(code);
    for (const auto& w : run.writes) {
      EXPECT_EQ(w.find("resourcequotas"), std::string::npos) << "a write to a child that could not be read: " << w;
    }
    EXPECT_EQ(run.outcome.kind, Outcome::Kind::Retry) << "retried with backoff";
    auto c = quotaCondition(run.status);
    ASSERT_FALSE(c.is_null()) << run.status.dump();
    EXPECT_EQ(c["status"], "False");
    EXPECT_EQ(c["reason"], "ReadFailed");
    std::string message = c["message"];
    EXPECT_NE(message.find("cannot read ResourceQuota shop/team, so Governor writes nothing to it"), std::string::npos)
        << message;
    EXPECT_NE(message.find(std::to_string(code)), std::string::npos) << message;
  }
}

TEST(Reconciler, OnlyNotFoundMeansAbsentAndTheChildIsCreatedWithPost) {
  auto run = reconcileWithQuotaRead(404);
  EXPECT_EQ(run.outcome.kind, Outcome::Kind::Done);
  ASSERT_FALSE(run.writes.empty());
  EXPECT_EQ(run.writes[0], "POST /api/v1/namespaces/shop/resourcequotas") << "created, never applied over";
  EXPECT_EQ(quotaCondition(run.status)["reason"], "Reconciled") << run.status.dump();
}

// The informer's copy of a child may lag: writes name the uid they were meant for, so that an
// object made since under the same name (another uid) is neither applied to nor deleted.
TEST(Reconciler, WritesToExistingChildrenCarryTheirUid) {
  Json owner = Json::array({{{"apiVersion", "governor.io/v1alpha1"}, {"kind", "ServiceLevel"}, {"name", "team"},
                             {"uid", "sl-uid"}, {"controller", true}}});
  Json labels = {{"app.kubernetes.io/managed-by", "governor"}, {"governor.io/service-level", "team"}};
  auto child = [&](const std::string& kind, const std::string& name, const std::string& uid) {
    return Json{{"apiVersion", "v1"},
                {"kind", kind},
                {"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", uid}, {"labels", labels},
                              {"ownerReferences", owner}}}};
  };
  Json quota = child("ResourceQuota", "team", "quota-uid");
  quota["spec"] = {{"hard", {{"pods", "5"}}}};  // the spec asks for 1000
  auto run = reconcileWithQuotaRead(200, {{"/api/v1/resourcequotas", Json::array({quota})},
                                          {"/api/v1/configmaps", Json::array({child("ConfigMap", "team-cache", "cm-uid")})}});
  ASSERT_TRUE(run.apply.is_object()) << "the quota is applied to";
  EXPECT_EQ(run.apply["metadata"]["uid"], "quota-uid");
  EXPECT_EQ(run.apply["spec"]["hard"]["pods"], "1k") << "the spec's 1000, as rendered";
  ASSERT_TRUE(run.remove.is_object()) << "the ConfigMap the spec no longer asks for is deleted";
  EXPECT_EQ(run.remove["preconditions"]["uid"], "cm-uid");
}

}  // namespace
}  // namespace governor::op
