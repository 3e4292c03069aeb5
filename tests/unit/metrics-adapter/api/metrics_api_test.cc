// MetricsApi as the aggregator and the HPA see it: discovery bodies, external and custom
// metric values, and the errors served instead of stale or missing values. Targets and the
// MetricCache are built directly, with fake measure functions and a fake clock.
#include "metrics-adapter/api/metrics_api.h"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include "api/servicelevel.h"
#include "kube/prometheus.h"
#include "metrics-adapter/cache.h"
#include "metrics-adapter/cache_stats.h"
#include "metrics-adapter/targets.h"

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
using kube::Error;
using kube::Result;
using kube::Status;
using TimePoint = std::chrono::system_clock::time_point;

constexpr const char* kExternalBase = "/apis/external.metrics.k8s.io/v1beta1";
constexpr const char* kCustomBase = "/apis/custom.metrics.k8s.io/v1beta2";
constexpr const char* kP95 = "governor_latency_p95_seconds";
// 1'700'000'000 s after the epoch.
constexpr const char* kStartTimestamp = "2023-11-14T22:13:20Z";

// What each fake measure function returns next, by cache key.
using Measurements = std::map<std::string, Result<double>>;

Error sourceError(const std::string& message) {
  return Error{Status{0, "Unavailable", message}, "redis redis.shop:6379 key jobs"};
}

class MetricsApiTest : public ::testing::Test {
 protected:
  MetricTarget externalTarget(const std::string& ns, const std::string& sl) {
    MetricTarget t;
    t.api = MetricTarget::Api::External;
    t.namespaceName = ns;
    t.metric = kBacklogMetric;
    t.serviceLevel = sl;
    t.key = "external/" + ns + "/" + kBacklogMetric + "/" + sl;
    t.labels = {{api::kServiceLevelLabel, sl}};
    t.measure = measureFor(t.key);
    return t;
  }

  MetricTarget customTarget(const std::string& ns, const std::string& sl, const std::string& kind,
                            const std::string& name, int percentile, api::Labels labels) {
    MetricTarget t;
    t.api = MetricTarget::Api::Custom;
    t.namespaceName = ns;
    t.metric = latencyMetric(percentile);
    t.serviceLevel = sl;
    t.resource = kind == "StatefulSet" ? "statefulsets.apps" : "deployments.apps";
    t.objectKind = kind;
    t.objectName = name;
    t.key = "custom/" + ns + "/" + t.resource + "/" + name + "/" + t.metric;
    t.labels = std::move(labels);
    t.measure = measureFor(t.key);
    return t;
  }

  std::function<Result<double>()> measureFor(const std::string& key) {
    return [this, key]() -> Result<double> {
      auto it = next.find(key);
      if (it == next.end()) return sourceError("no measurement scripted for " + key);
      return it->second;
    };
  }

  void script(const std::string& key, Result<double> measurement) {
    next.insert_or_assign(key, std::move(measurement));
  }

  // One poll of every target, as the Poller does it.
  void poll() {
    for (const auto& t : targets.snapshot()->all()) cache.update(t.key, t.measure());
  }

  // The usual set: two queues in "shop", one in "other", latency of deployment web and
  // statefulset db in "shop".
  void standardTargets() {
    std::vector<MetricTarget> all;
    all.push_back(externalTarget("shop", "checkout"));
    all.push_back(externalTarget("shop", "billing"));
    all.push_back(externalTarget("other", "mail"));
    all.push_back(customTarget("shop", "web-latency", "Deployment", "web", 95, {{"app", "web"}, {"tier", "front"}}));
    all.push_back(customTarget("shop", "web-latency", "Deployment", "web", 50, {{"app", "web"}, {"tier", "front"}}));
    all.push_back(customTarget("shop", "api-latency", "Deployment", "api", 95, {{"app", "api"}, {"tier", "front"}}));
    all.push_back(customTarget("shop", "db-latency", "StatefulSet", "db", 95, {{"app", "db"}, {"tier", "back"}}));
    targets.set(std::move(all));
  }

  ApiResponse get(const std::string& path, std::map<std::string, std::string> query = {}) {
    return api.get(path, query);
  }

  static std::string externalPath(const std::string& ns, const std::string& metric = kBacklogMetric) {
    return std::string(kExternalBase) + "/namespaces/" + ns + "/" + metric;
  }
  static std::string customPath(const std::string& ns, const std::string& resource, const std::string& name,
                                const std::string& metric = kP95) {
    return std::string(kCustomBase) + "/namespaces/" + ns + "/" + resource + "/" + name + "/" + metric;
  }

  TimePoint now = TimePoint(std::chrono::seconds(1'700'000'000));
  Measurements next;
  MetricCache cache{[this] { return now; }};
  Targets targets;
  MetricsApi api{cache, targets};

  // The targets targetsFor makes for these ServiceLevels, their values scripted (no Redis here).
  std::vector<MetricTarget> scriptedTargetsFor(const std::vector<api::ServiceLevel>& serviceLevels) {
    SecretReader secrets = [](const std::string&, const api::SecretKeyRef&) -> Result<std::string> {
      return std::string();
    };
    std::vector<MetricTarget> out;
    for (const auto& sl : serviceLevels) {
      for (auto& t : targetsFor(sl, Sources{redis, prometheus, caches, drains, secrets, {}}, {})) {
        t.measure = measureFor(t.key);
        out.push_back(std::move(t));
      }
    }
    return out;
  }

  prometheus::Registry registry;
  CacheStats caches{registry};
  DrainEstimator drains;
  RedisSource redis;
  kube::PrometheusClient prometheus{"http://127.0.0.1:1", std::chrono::milliseconds(100)};
};

void expectStatus(const ApiResponse& r, int code, const std::string& reason) {
  EXPECT_EQ(r.status, code) << r.body.dump();
  EXPECT_EQ(r.body.value("kind", ""), "Status") << r.body.dump();
  EXPECT_EQ(r.body.value("apiVersion", ""), "v1") << r.body.dump();
  EXPECT_EQ(r.body.value("status", ""), "Failure") << r.body.dump();
  EXPECT_EQ(r.body.value("code", 0), code) << r.body.dump();
  EXPECT_EQ(r.body.value("reason", ""), reason) << r.body.dump();
  EXPECT_TRUE(r.body.contains("message") && r.body["message"].is_string()) << r.body.dump();
  EXPECT_FALSE(r.body.contains("items")) << r.body.dump();
}

// ---------------------------------------------------------------------------------------
// Discovery

TEST(PrometheusAnswers, AreReadWithoutExceptions) {
  auto data = kube::prometheusData(200, R"({"status":"success","data":{"resultType":"vector",
      "result":[{"metric":{},"value":[1,"0.25"]}]}})");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(kube::prometheusValue(*data).value(), 0.25);
  EXPECT_EQ(kube::prometheusSeries(*data)->size(), 1u);
  // Fields of another type than expected threw out of json::value() before.
  auto status = kube::prometheusData(422, R"({"status":1,"errorType":["x"],"error":2})");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().status.code, 422);
  EXPECT_EQ(status.error().status.message, "status missing");
  auto type = kube::prometheusValue(nlohmann::json::parse(R"({"resultType":7,"result":[1,"2"]})"));
  EXPECT_EQ(type.error().status.reason, "Invalid");
  auto latin1 = kube::prometheusData(502, "caf\xE9");
  EXPECT_NO_THROW((void)nlohmann::json(latin1.error().status.message).dump());
}

TEST(SplitNonEmptyTest, DropsEmptyPieces) {
  EXPECT_EQ(splitNonEmpty("/apis/g//v/", '/'), (std::vector<std::string>{"apis", "g", "v"}));
  EXPECT_EQ(splitNonEmpty("a,,b,", ','), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(splitNonEmpty("a", ','), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(splitNonEmpty("", ',').empty());
  EXPECT_TRUE(splitNonEmpty("/", '/').empty());
}

TEST_F(MetricsApiTest, ApisListsBothGroups) {
  auto r = get("/apis");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["kind"], "APIGroupList");
  EXPECT_EQ(r.body["apiVersion"], "v1");
  ASSERT_TRUE(r.body["groups"].is_array());
  ASSERT_EQ(r.body["groups"].size(), 2u);
  std::map<std::string, std::string> versions;
  for (const auto& g : r.body["groups"]) {
    std::string name = g["name"];
    ASSERT_EQ(g["versions"].size(), 1u) << g.dump();
    EXPECT_EQ(g["versions"][0]["groupVersion"], name + "/" + g["versions"][0]["version"].get<std::string>());
    EXPECT_EQ(g["preferredVersion"], g["versions"][0]);
    versions[name] = g["versions"][0]["version"];
  }
  EXPECT_EQ(versions, (std::map<std::string, std::string>{{"custom.metrics.k8s.io", "v1beta2"},
                                                          {"external.metrics.k8s.io", "v1beta1"}}));
}

TEST_F(MetricsApiTest, APathOrSelectorThatIsNotUtf8IsABadRequest) {
  // The server decodes %XX: any bytes arrive. Echoed into the 404, they made dump() throw.
  auto r = get(std::string(kExternalBase) + "/namespaces/caf\xE9/governor_queue_backlog");
  EXPECT_EQ(r.status, 400);
  EXPECT_NO_THROW((void)r.body.dump());
  EXPECT_EQ(malformedRequest("/apis", "a=caf\xE9")->status, 400);
  EXPECT_FALSE(malformedRequest("/apis/caf\xC3\xA9", "a=b").has_value());
}

TEST_F(MetricsApiTest, ApiGroupBodies) {
  for (auto [group, version] :
       {std::pair{"external.metrics.k8s.io", "v1beta1"}, std::pair{"custom.metrics.k8s.io", "v1beta2"}}) {
    SCOPED_TRACE(group);
    auto r = get(std::string("/apis/") + group);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body["kind"], "APIGroup");
    EXPECT_EQ(r.body["apiVersion"], "v1");
    EXPECT_EQ(r.body["name"], group);
    Json gv = {{"groupVersion", std::string(group) + "/" + version}, {"version", version}};
    EXPECT_EQ(r.body["versions"], Json::array({gv}));
    EXPECT_EQ(r.body["preferredVersion"], gv);
    // A trailing slash is the same path.
    EXPECT_EQ(get(std::string("/apis/") + group + "/").body, r.body);
  }
}

TEST_F(MetricsApiTest, ExternalResourceListIsNeverEmpty) {
  // No targets at all: the list must still name the metric (kubectl's discovery cache).
  auto r = get(kExternalBase);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["kind"], "APIResourceList");
  EXPECT_EQ(r.body["apiVersion"], "v1");
  EXPECT_EQ(r.body["groupVersion"], "external.metrics.k8s.io/v1beta1");
  ASSERT_EQ(r.body["resources"].size(), 1u) << r.body.dump();
  const auto& res = r.body["resources"][0];
  EXPECT_EQ(res["name"], "governor_queue_backlog");
  EXPECT_EQ(res["kind"], "ExternalMetricValueList");
  EXPECT_EQ(res["namespaced"], true);
  EXPECT_EQ(res["verbs"], Json::array({"get"}));

  standardTargets();
  EXPECT_EQ(get(kExternalBase).body, r.body);
}

TEST_F(MetricsApiTest, CustomResourceListNamesEveryWorkloadKindAndPercentileAndTheHitRatio) {
  auto r = get(kCustomBase);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["kind"], "APIResourceList");
  EXPECT_EQ(r.body["apiVersion"], "v1");
  EXPECT_EQ(r.body["groupVersion"], "custom.metrics.k8s.io/v1beta2");
  ASSERT_FALSE(r.body["resources"].empty());
  std::set<std::string> names;
  for (const auto& res : r.body["resources"]) {
    names.insert(res["name"].get<std::string>());
    EXPECT_EQ(res["kind"], "MetricValueList") << res.dump();
    EXPECT_EQ(res["namespaced"], true) << res.dump();
    EXPECT_EQ(res["verbs"], Json::array({"get"})) << res.dump();
  }
  EXPECT_EQ(names.size(), r.body["resources"].size()) << "duplicate names";
  std::set<std::string> expected;
  for (const char* resource : {"deployments.apps", "statefulsets.apps"}) {
    for (int p : {50, 90, 95, 99})
      expected.insert(std::string(resource) + "/governor_latency_p" + std::to_string(p) + "_seconds");
  }
  expected.insert("servicelevels.governor.io/governor_cache_hit_ratio");
  expected.insert("servicelevels.governor.io/governor_queue_backlog");
  EXPECT_EQ(names, expected);
  EXPECT_TRUE(names.count("deployments.apps/governor_latency_p95_seconds"));
}

TEST_F(MetricsApiTest, UnknownPathsAreNotFoundStatuses) {
  for (const char* path :
       {"/apis/external.metrics.k8s.io/v1beta2", "/apis/custom.metrics.k8s.io/v1beta1", "/apis/metrics.k8s.io",
        "/apis/metrics.k8s.io/v1beta1", "/api", "/", "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop",
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/web"}) {
    SCOPED_TRACE(path);
    expectStatus(get(path), 404, "NotFound");
  }
}

// ---------------------------------------------------------------------------------------
// External metrics

TEST_F(MetricsApiTest, ExternalValueForMatchingSelector) {
  standardTargets();
  script("external/shop/governor_queue_backlog/checkout", 50.0);
  script("external/shop/governor_queue_backlog/billing", 1.5);
  script("external/other/governor_queue_backlog/mail", 7.0);
  poll();

  auto r = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["kind"], "ExternalMetricValueList");
  EXPECT_EQ(r.body["apiVersion"], "external.metrics.k8s.io/v1beta1");
  EXPECT_TRUE(r.body["metadata"].is_object());
  ASSERT_EQ(r.body["items"].size(), 1u) << r.body.dump();
  const auto& item = r.body["items"][0];
  EXPECT_EQ(item["metricName"], "governor_queue_backlog");
  EXPECT_EQ(item["metricLabels"], (Json{{"governor.io/service-level", "checkout"}}));
  EXPECT_EQ(item["timestamp"], kStartTimestamp);
  ASSERT_TRUE(item["value"].is_string()) << item.dump();
  EXPECT_EQ(item["value"], "50");

  auto billing = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level in (billing)"}});
  ASSERT_EQ(billing.status, 200) << billing.body.dump();
  ASSERT_EQ(billing.body["items"].size(), 1u);
  EXPECT_EQ(billing.body["items"][0]["value"], "1500m");
}

TEST_F(MetricsApiTest, ExternalWithoutSelectorServesEveryQueueOfTheNamespace) {
  standardTargets();
  script("external/shop/governor_queue_backlog/checkout", 50.0);
  script("external/shop/governor_queue_backlog/billing", 3.0);
  script("external/other/governor_queue_backlog/mail", 7.0);
  poll();
  auto r = get(externalPath("shop"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  std::map<std::string, std::string> byServiceLevel;
  for (const auto& item : r.body["items"]) {
    byServiceLevel[item["metricLabels"]["governor.io/service-level"]] = item["value"];
  }
  EXPECT_EQ(byServiceLevel, (std::map<std::string, std::string>{{"checkout", "50"}, {"billing", "3"}}));
}

TEST_F(MetricsApiTest, ExternalMetricLabelsAreAnEmptyObjectWhenNone) {
  auto t = externalTarget("shop", "bare");
  t.labels.clear();
  targets.set({t});
  script(t.key, 4.0);
  poll();
  auto r = get(externalPath("shop"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_TRUE(r.body["items"][0]["metricLabels"].is_object()) << r.body.dump();
  EXPECT_TRUE(r.body["items"][0]["metricLabels"].empty());
}

TEST_F(MetricsApiTest, ExternalSelectorMatchingNothingIsNotFound) {
  standardTargets();
  script("external/shop/governor_queue_backlog/checkout", 50.0);
  script("external/shop/governor_queue_backlog/billing", 3.0);
  poll();
  auto r = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=nope"}});
  expectStatus(r, 404, "NotFound");
  EXPECT_NE(r.body["message"].get<std::string>().find("governor_queue_backlog"), std::string::npos) << r.body.dump();
}

TEST_F(MetricsApiTest, ExternalBadSelectorIsBadRequest) {
  standardTargets();
  poll();
  for (const char* bad : {"app in (a,b", "!!x", "a=b=c", "-bad-key=x"}) {
    SCOPED_TRACE(bad);
    auto r = get(externalPath("shop"), {{"labelSelector", bad}});
    expectStatus(r, 400, "BadRequest");
    EXPECT_NE(r.body["message"].get<std::string>().find("labelSelector"), std::string::npos) << r.body.dump();
  }
}

TEST_F(MetricsApiTest, ExternalWrongNamespaceOrMetricIsNotFound) {
  standardTargets();
  script("external/shop/governor_queue_backlog/checkout", 50.0);
  poll();
  expectStatus(get(externalPath("elsewhere")), 404, "NotFound");
  expectStatus(get(externalPath("elsewhere"), {{"labelSelector", "governor.io/service-level=checkout"}}), 404,
               "NotFound");
  expectStatus(get(externalPath("shop", "some_other_metric")), 404, "NotFound");
}

TEST_F(MetricsApiTest, ExternalFailedPollIsUnavailableNeverAValue) {
  standardTargets();
  const std::string key = "external/shop/governor_queue_backlog/checkout";
  script(key, 50.0);
  poll();
  ASSERT_EQ(get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}}).status, 200);

  now += 15s;
  script(key, sourceError("connection refused"));
  poll();
  auto r = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}});
  expectStatus(r, 503, "ServiceUnavailable");
  auto message = r.body["message"].get<std::string>();
  EXPECT_NE(message.find("connection refused"), std::string::npos) << message;
  EXPECT_NE(message.find("checkout"), std::string::npos) << message;
  EXPECT_EQ(r.body.dump().find("\"50\""), std::string::npos) << "a stale value leaked: " << r.body.dump();

  // One failing queue among the selected ones fails the whole answer (the HPA sums items).
  script("external/shop/governor_queue_backlog/billing", 2.0);
  poll();
  expectStatus(get(externalPath("shop")), 503, "ServiceUnavailable");
}

TEST_F(MetricsApiTest, ExternalNeverMeasuredIsUnavailable) {
  standardTargets();  // no poll yet
  auto r = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}});
  expectStatus(r, 503, "ServiceUnavailable");

  // Measured, but only ever failing: still no value, and the cause is named.
  script("external/shop/governor_queue_backlog/checkout", sourceError("NOAUTH Authentication required"));
  poll();
  auto failing = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}});
  expectStatus(failing, 503, "ServiceUnavailable");
  EXPECT_NE(failing.body["message"].get<std::string>().find("NOAUTH Authentication required"), std::string::npos)
      << failing.body.dump();
}

TEST_F(MetricsApiTest, ExternalRecoversAfterFailure) {
  standardTargets();
  const std::string key = "external/shop/governor_queue_backlog/checkout";
  script(key, 50.0);
  poll();
  now += 15s;
  script(key, sourceError("timeout"));
  poll();
  ASSERT_EQ(get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}}).status, 503);

  now += 15s;
  script(key, 60.0);
  poll();
  auto r = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["value"], "60");
  EXPECT_EQ(r.body["items"][0]["timestamp"], "2023-11-14T22:13:50Z");
}

// ---------------------------------------------------------------------------------------
// Custom metrics

TEST_F(MetricsApiTest, CustomValueForNamedDeployment) {
  standardTargets();
  script("custom/shop/deployments.apps/web/governor_latency_p95_seconds", 0.25);
  script("custom/shop/deployments.apps/web/governor_latency_p50_seconds", 0.05);
  script("custom/shop/deployments.apps/api/governor_latency_p95_seconds", 0.4);
  script("custom/shop/statefulsets.apps/db/governor_latency_p95_seconds", 0.8125);
  poll();

  auto r = get(customPath("shop", "deployments.apps", "web"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["kind"], "MetricValueList");
  EXPECT_EQ(r.body["apiVersion"], "custom.metrics.k8s.io/v1beta2");
  EXPECT_TRUE(r.body["metadata"].is_object());
  ASSERT_EQ(r.body["items"].size(), 1u) << r.body.dump();
  const auto& item = r.body["items"][0];
  EXPECT_EQ(item["describedObject"],
            (Json{{"kind", "Deployment"}, {"namespace", "shop"}, {"name", "web"}, {"apiVersion", "apps/v1"}}));
  ASSERT_TRUE(item["metric"].contains("selector")) << "selector has no omitempty";
  EXPECT_TRUE(item["metric"]["selector"].is_null());
  EXPECT_EQ(item["metric"]["name"], kP95);
  EXPECT_EQ(item["timestamp"], kStartTimestamp);
  EXPECT_EQ(item["windowSeconds"], 120);
  EXPECT_EQ(item["value"], "250m");

  auto p50 = get(customPath("shop", "deployments.apps", "web", "governor_latency_p50_seconds"));
  ASSERT_EQ(p50.status, 200) << p50.body.dump();
  EXPECT_EQ(p50.body["items"][0]["value"], "50m");
}

TEST_F(MetricsApiTest, CustomValueForStatefulSet) {
  standardTargets();
  script("custom/shop/statefulsets.apps/db/governor_latency_p95_seconds", 0.8125);
  poll();
  auto r = get(customPath("shop", "statefulsets.apps", "db"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(r.body["items"][0]["describedObject"]["kind"], "StatefulSet");
  EXPECT_EQ(r.body["items"][0]["describedObject"]["name"], "db");
  EXPECT_EQ(r.body["items"][0]["describedObject"]["apiVersion"], "apps/v1");
  EXPECT_EQ(r.body["items"][0]["value"], "812500u");

  // The same name under the other resource is another object.
  expectStatus(get(customPath("shop", "deployments.apps", "db")), 404, "NotFound");
}

TEST_F(MetricsApiTest, CustomStarWithSelectorMatchesWorkloadLabels) {
  standardTargets();
  script("custom/shop/deployments.apps/web/governor_latency_p95_seconds", 0.25);
  script("custom/shop/deployments.apps/api/governor_latency_p95_seconds", 0.4);
  script("custom/shop/statefulsets.apps/db/governor_latency_p95_seconds", 0.8125);
  poll();

  auto web = get(customPath("shop", "deployments.apps", "*"), {{"labelSelector", "app=web"}});
  ASSERT_EQ(web.status, 200) << web.body.dump();
  ASSERT_EQ(web.body["items"].size(), 1u) << web.body.dump();
  EXPECT_EQ(web.body["items"][0]["describedObject"]["name"], "web");
  EXPECT_EQ(web.body["items"][0]["value"], "250m");

  auto front = get(customPath("shop", "deployments.apps", "*"), {{"labelSelector", "tier=front"}});
  ASSERT_EQ(front.status, 200) << front.body.dump();
  std::set<std::string> names;
  for (const auto& item : front.body["items"]) names.insert(item["describedObject"]["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"web", "api"}));

  // Statefulsets are not deployments, even when the labels match.
  auto back = get(customPath("shop", "deployments.apps", "*"), {{"labelSelector", "tier=back"}});
  expectStatus(back, 404, "NotFound");
  auto db = get(customPath("shop", "statefulsets.apps", "*"), {{"labelSelector", "tier=back"}});
  ASSERT_EQ(db.status, 200) << db.body.dump();
  ASSERT_EQ(db.body["items"].size(), 1u);
  EXPECT_EQ(db.body["items"][0]["describedObject"]["name"], "db");

  expectStatus(get(customPath("shop", "deployments.apps", "*"), {{"labelSelector", "app=nothing"}}), 404, "NotFound");
  expectStatus(get(customPath("shop", "deployments.apps", "*"), {{"labelSelector", "app in (web"}}), 400, "BadRequest");
}

TEST_F(MetricsApiTest, CustomUnknownMetricNameOrNamespaceIsNotFound) {
  standardTargets();
  script("custom/shop/deployments.apps/web/governor_latency_p95_seconds", 0.25);
  poll();
  expectStatus(get(customPath("shop", "deployments.apps", "web", "governor_latency_p42_seconds")), 404, "NotFound");
  expectStatus(get(customPath("shop", "deployments.apps", "web", "http_requests")), 404, "NotFound");
  expectStatus(get(customPath("shop", "deployments.apps", "nosuch")), 404, "NotFound");
  expectStatus(get(customPath("elsewhere", "deployments.apps", "web")), 404, "NotFound");
  expectStatus(get(customPath("shop", "pods", "web")), 404, "NotFound");
}

TEST_F(MetricsApiTest, CustomFailedPollIsUnavailableThenRecovers) {
  standardTargets();
  const std::string key = "custom/shop/deployments.apps/web/governor_latency_p95_seconds";
  expectStatus(get(customPath("shop", "deployments.apps", "web")), 503, "ServiceUnavailable");

  script(key, 0.25);
  poll();
  ASSERT_EQ(get(customPath("shop", "deployments.apps", "web")).status, 200);

  now += 15s;
  script(key, Error{Status{0, "Unavailable", "prometheus: context deadline exceeded"}, "GET /api/v1/query"});
  poll();
  auto r = get(customPath("shop", "deployments.apps", "web"));
  expectStatus(r, 503, "ServiceUnavailable");
  EXPECT_NE(r.body["message"].get<std::string>().find("context deadline exceeded"), std::string::npos) << r.body.dump();
  EXPECT_EQ(r.body.dump().find("250m"), std::string::npos) << r.body.dump();
  expectStatus(get(customPath("shop", "deployments.apps", "*"), {{"labelSelector", "app=web"}}), 503,
               "ServiceUnavailable");

  now += 15s;
  script(key, 0.3);
  poll();
  auto ok = get(customPath("shop", "deployments.apps", "web"));
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["items"][0]["value"], "300m");
  EXPECT_EQ(ok.body["items"][0]["timestamp"], "2023-11-14T22:13:50Z");
}

// Two ServiceLevels may describe the same Deployment (each has its own latency objective):
// both produce a target for the same object and metric. A concrete name must still give
// exactly one item: the HPA's custom metrics client errors on any other count.
TEST_F(MetricsApiTest, CustomNamedObjectIsExactlyOneItemWithTwoServiceLevelsOnIt) {
  auto first = customTarget("shop", "web-latency", "Deployment", "web", 95, {{"app", "web"}});
  auto second = customTarget("shop", "web-slo", "Deployment", "web", 95, {{"app", "web"}});
  targets.set({first, second});
  script(first.key, 0.25);
  poll();
  auto r = get(customPath("shop", "deployments.apps", "web"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["items"].size(), 1u) << r.body.dump();
}

TEST_F(MetricsApiTest, CustomWindowSecondsFollowsTheLatencyWindow) {
  standardTargets();
  script("custom/shop/deployments.apps/web/governor_latency_p95_seconds", 0.25);
  poll();
  MetricsApi fiveMinutes(cache, targets, "5m");
  auto r = fiveMinutes.get(customPath("shop", "deployments.apps", "web"), {});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["items"][0]["windowSeconds"], 300);
}

// ---------------------------------------------------------------------------------------
// Values and Status bodies

// ---------------------------------------------------------------------------------------
// governor_cache_hit_ratio on a ServiceLevel

class CacheHitRatioApiTest : public MetricsApiTest {
 protected:
  // The target targetsFor makes for ServiceLevel shop/NAME with a cache, measuring scripted
  // INFO stats readings instead of a server.
  MetricTarget cacheTarget(const std::string& name) {
    api::ServiceLevel sl;
    sl.name = name;
    sl.namespaceName = "shop";
    sl.cache = api::Cache{};
    SecretReader secrets = [](const std::string&, const api::SecretKeyRef&) -> Result<std::string> {
      return std::string();
    };
    auto made = targetsFor(sl, Sources{redis, prometheus, caches, drains, secrets, {}}, {});
    EXPECT_EQ(made.size(), 1u);
    MetricTarget t = made.at(0);
    const CacheStats::Key key{"shop", name};
    t.measure = [this, key]() -> Result<double> {
      auto it = readings.find(key.second);
      if (it == readings.end()) return sourceError("connection refused");
      caches.observe(key, it->second);
      return static_cast<double>(it->second.hits + it->second.misses);
    };
    return t;
  }
  static std::string ratioPath(const std::string& name) {
    return customPath("shop", "servicelevels.governor.io", name, "governor_cache_hit_ratio");
  }

  std::map<std::string, KeyspaceStats> readings;  // by ServiceLevel name; none: the read fails
};

TEST_F(CacheHitRatioApiTest, ServedOnTheServiceLevelAfterAWindowWithLookups) {
  targets.set({cacheTarget("checkout")});
  readings["checkout"] = {100, 50};
  poll();
  auto first = get(ratioPath("checkout"));
  expectStatus(first, 503, "ServiceUnavailable");
  EXPECT_NE(first.body["message"].get<std::string>().find("no lookups measured yet"), std::string::npos);

  readings["checkout"] = {108, 52};
  poll();
  auto r = get(ratioPath("checkout"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["kind"], "MetricValueList");
  ASSERT_EQ(r.body["items"].size(), 1u);
  const auto& item = r.body["items"][0];
  EXPECT_EQ(item["describedObject"], (Json{{"kind", "ServiceLevel"},
                                           {"namespace", "shop"},
                                           {"name", "checkout"},
                                           {"apiVersion", "governor.io/v1alpha1"}}));
  EXPECT_EQ(item["metric"]["name"], "governor_cache_hit_ratio");
  EXPECT_EQ(item["value"], "800m") << "8 hits of 10 lookups since the last poll";
  EXPECT_FALSE(item.contains("windowSeconds")) << "the latency window says nothing of this";

  // Idle: the last value stays.
  now += 5s;
  poll();
  auto idle = get(ratioPath("checkout"));
  ASSERT_EQ(idle.status, 200) << idle.body.dump();
  EXPECT_EQ(idle.body["items"][0]["value"], "800m");
}

TEST_F(CacheHitRatioApiTest, AnUnreadableCacheIsUnavailableNeverAValue) {
  targets.set({cacheTarget("checkout")});
  readings["checkout"] = {1, 0};
  poll();
  readings["checkout"] = {3, 2};
  poll();
  ASSERT_EQ(get(ratioPath("checkout")).status, 200);
  readings.erase("checkout");
  poll();
  auto r = get(ratioPath("checkout"));
  expectStatus(r, 503, "ServiceUnavailable");
  EXPECT_NE(r.body["message"].get<std::string>().find("connection refused"), std::string::npos) << r.body.dump();
}

TEST_F(CacheHitRatioApiTest, StarListsOnlyCachesWithARatioAndOtherObjectsAreNotFound) {
  targets.set({cacheTarget("checkout"), cacheTarget("cart")});
  readings["checkout"] = {0, 0};
  readings["cart"] = {0, 0};
  poll();
  readings["checkout"] = {1, 3};
  poll();
  auto all = get(customPath("shop", "servicelevels.governor.io", "*", "governor_cache_hit_ratio"));
  ASSERT_EQ(all.status, 200) << all.body.dump();
  ASSERT_EQ(all.body["items"].size(), 1u) << "cart has seen no lookup: left out, not failing the list";
  EXPECT_EQ(all.body["items"][0]["describedObject"]["name"], "checkout");
  EXPECT_EQ(all.body["items"][0]["value"], "250m");

  expectStatus(get(ratioPath("billing")), 404, "NotFound");
  expectStatus(get(customPath("other", "servicelevels.governor.io", "checkout", "governor_cache_hit_ratio")), 404,
               "NotFound");
  expectStatus(get(customPath("shop", "deployments.apps", "checkout", "governor_cache_hit_ratio")), 404, "NotFound");
}

// governor_queue_backlog on a ServiceLevel (custom API): the same measurement as the external
// metric, for HPAs where another provider owns external.metrics.k8s.io.
TEST_F(MetricsApiTest, TheBacklogIsAlsoServedOnItsServiceLevelByTheCustomApi) {
  api::ServiceLevel sl{.name = "checkout", .namespaceName = "shop"};
  sl.autoscaling =
      api::Autoscaling{.maxReplicas = 3, .queue = api::QueueScaling{.redis = {.address = "r:6379", .key = "jobs"}}};
  auto made = scriptedTargetsFor({sl});
  ASSERT_EQ(made.size(), 1u);
  targets.set(made);
  script(made[0].key, 42.0);
  poll();

  auto r = get(customPath("shop", "servicelevels.governor.io", "checkout", "governor_queue_backlog"));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["items"].size(), 1u);
  EXPECT_EQ(
      r.body["items"][0]["describedObject"],
      Json::parse(
          R"({"kind": "ServiceLevel", "namespace": "shop", "name": "checkout", "apiVersion": "governor.io/v1alpha1"})"));
  EXPECT_EQ(r.body["items"][0]["value"], "42");
  EXPECT_FALSE(r.body["items"][0].contains("windowSeconds"));
  auto external = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=checkout"}});
  ASSERT_EQ(external.status, 200) << external.body.dump();
  EXPECT_EQ(external.body["items"][0]["value"], "42");
  expectStatus(get(customPath("shop", "servicelevels.governor.io", "billing", "governor_queue_backlog")), 404,
               "NotFound");
  expectStatus(get(customPath("shop", "deployments.apps", "checkout", "governor_queue_backlog")), 404, "NotFound");

  script(made[0].key, sourceError("connection refused"));
  poll();
  expectStatus(get(customPath("shop", "servicelevels.governor.io", "checkout", "governor_queue_backlog")), 503,
               "ServiceUnavailable");
}

// spec.autoscaling.queue.fallback: after afterFailures failed polls in a row the backlog served
// is replicas x targetPerReplica (what makes the HPA's AverageValue ask for exactly that many),
// marked governor.io/fallback; before that, and without a fallback, the error.
TEST_F(MetricsApiTest, AFailingBacklogServesItsFallbackAfterSoManyFailuresInARow) {
  api::ServiceLevel sl{.name = "checkout", .namespaceName = "shop"};
  sl.autoscaling =
      api::Autoscaling{.maxReplicas = 10,
                       .queue = api::QueueScaling{.redis = {.address = "r:6379", .key = "jobs"},
                                                  .targetPerReplica = 20,
                                                  .fallback = api::QueueFallback{.replicas = 4, .afterFailures = 2}}};
  api::ServiceLevel plain{.name = "billing", .namespaceName = "shop"};
  plain.autoscaling = api::Autoscaling{
      .maxReplicas = 10,
      .queue = api::QueueScaling{.redis = {.address = "r:6379", .key = "bills"}, .targetPerReplica = 20}};
  targets.set(scriptedTargetsFor({sl, plain}));
  const std::string key = "external/shop/governor_queue_backlog/checkout";
  const std::string plainKey = "external/shop/governor_queue_backlog/billing";
  const std::map<std::string, std::string> checkout = {{"labelSelector", "governor.io/service-level=checkout"}};
  script(key, 30.0);
  script(plainKey, 30.0);
  poll();
  auto measured = get(externalPath("shop"), checkout);
  ASSERT_EQ(measured.status, 200) << measured.body.dump();
  EXPECT_EQ(measured.body["items"][0]["metricLabels"], Json({{"governor.io/service-level", "checkout"}}));

  now += 5s;
  script(key, sourceError("connection refused"));
  script(plainKey, sourceError("connection refused"));
  poll();
  expectStatus(get(externalPath("shop"), checkout), 503, "ServiceUnavailable");  // one failure: not yet

  now += 5s;
  poll();
  auto fallback = get(externalPath("shop"), checkout);
  ASSERT_EQ(fallback.status, 200) << fallback.body.dump();
  ASSERT_EQ(fallback.body["items"].size(), 1u);
  EXPECT_EQ(fallback.body["items"][0]["value"], "80");
  EXPECT_EQ(fallback.body["items"][0]["metricLabels"],
            Json({{"governor.io/service-level", "checkout"}, {"governor.io/fallback", "true"}}));
  EXPECT_EQ(fallback.body["items"][0]["timestamp"], "2023-11-14T22:13:30Z");  // of the latest failed poll
  auto onServiceLevel = get(customPath("shop", "servicelevels.governor.io", "checkout", "governor_queue_backlog"));
  ASSERT_EQ(onServiceLevel.status, 200) << onServiceLevel.body.dump();
  EXPECT_EQ(onServiceLevel.body["items"][0]["value"], "80");
  EXPECT_EQ(onServiceLevel.body["items"][0]["metric"]["selector"],
            Json::parse(R"({"matchLabels": {"governor.io/fallback": "true"}})"));
  // Without a fallback, errors stay errors however long they last.
  auto plainFailing = get(externalPath("shop"), {{"labelSelector", "governor.io/service-level=billing"}});
  expectStatus(plainFailing, 503, "ServiceUnavailable");
  EXPECT_NE(plainFailing.body["message"].get<std::string>().find("connection refused"), std::string::npos);

  now += 5s;
  script(key, 7.0);
  poll();
  auto recovered = get(externalPath("shop"), checkout);
  ASSERT_EQ(recovered.status, 200) << recovered.body.dump();
  EXPECT_EQ(recovered.body["items"][0]["value"], "7");
  EXPECT_EQ(recovered.body["items"][0]["metricLabels"], Json({{"governor.io/service-level", "checkout"}}));
  EXPECT_TRUE(get(customPath("shop", "servicelevels.governor.io", "checkout", "governor_queue_backlog"))
                  .body["items"][0]["metric"]["selector"]
                  .is_null());

  // The count starts again after a success.
  now += 5s;
  script(key, sourceError("connection refused"));
  poll();
  expectStatus(get(externalPath("shop"), checkout), 503, "ServiceUnavailable");
}

TEST(QuantityStringTest, Table) {
  struct Case {
    double value;
    const char* expected;
  };
  for (const auto& c : std::vector<Case>{{50, "50"},
                                         {0, "0"},
                                         {1, "1"},
                                         {1234567, "1234567"},
                                         {1.5, "1500m"},
                                         {0.25, "250m"},
                                         {0.001, "1m"},
                                         {0.8125, "812500u"},
                                         {0.000001, "1u"},
                                         {0.0000015, "1500n"},
                                         {0.000000001, "1n"},
                                         {1.2e-9, "1n"},
                                         {2.5e-7, "250n"},
                                         {-50, "-50"},
                                         {-1.5, "-1500m"},
                                         {-0.8125, "-812500u"},
                                         {-0.000000001, "-1n"}}) {
    EXPECT_EQ(quantityString(c.value), c.expected) << "quantityString(" << c.value << ")";
  }
}

TEST(StatusBodyTest, IsAMetav1Status) {
  auto s = statusBody(404, "NotFound", "no such thing");
  EXPECT_EQ(s, (Json{{"kind", "Status"},
                     {"apiVersion", "v1"},
                     {"metadata", Json::object()},
                     {"status", "Failure"},
                     {"message", "no such thing"},
                     {"reason", "NotFound"},
                     {"code", 404}}));
}

}  // namespace
}  // namespace governor::adapter
