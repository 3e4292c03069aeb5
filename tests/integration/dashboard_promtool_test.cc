// Every query of the Grafana dashboards of operator/render/dashboard.cc against a real
// promtool (Debian's prometheus package: /usr/bin/promtool, or $PROMTOOL): the queries of
// several ServiceLevels (and of every sample in manifests/samples) become recording rules of
// one rule file, which `promtool check rules` must accept. Which metrics the queries read is
// checked in tests/unit/operator/render/dashboard_test.cc.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/yaml.h"
#include "operator/render/render.h"
#include "support/process.h"

namespace governor::op {
namespace {

namespace fs = std::filesystem;
using governor::testing::TempDir;
using std::chrono::hours;
using std::chrono::milliseconds;

Percent percent(const std::string& text) { return api::parsePercent(text).value(); }

ServiceLevel base(const std::string& ns, const std::string& name) {
  ServiceLevel sl;
  sl.name = name;
  sl.namespaceName = ns;
  sl.uid = "5a1d2c3b-0000-1111-2222-333344445555";
  sl.workload.name = name;
  return sl;
}

ServiceLevel everything() {
  ServiceLevel sl = base("shop", "checkout");
  sl.objectives = Objectives{};
  sl.objectives->availability =
      Availability{percent("99.9"), R"(sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}])))",
                   R"(sum(rate(http_requests_total{job="checkout"}[{{.window}}])))"};
  LatencyObjective lat;
  lat.threshold = milliseconds(200);
  lat.target = percent("95");
  lat.histogram = R"(http_request_duration_seconds_bucket{job="checkout", route!~"/health.*"})";
  sl.objectives->latency = lat;
  sl.autoscaling = Autoscaling{};
  sl.autoscaling->minReplicas = 2;
  sl.autoscaling->maxReplicas = 20;
  sl.autoscaling->queue = QueueScaling{RedisQueue{"redis.shop:6379", "jobs"}, 100};
  sl.autoscaling->latency = LatencyScaling{99, milliseconds(250)};
  sl.cache = Cache{};
  sl.cache->hitRatioTarget = percent("80.5");
  return sl;
}

// The ServiceLevels whose dashboards are checked, with what each one tries.
std::vector<std::pair<std::string, ServiceLevel>> serviceLevels() {
  std::vector<std::pair<std::string, ServiceLevel>> out;
  out.emplace_back("everything", everything());

  ServiceLevel odd = everything();  // names with dots, a 7d window, a bare histogram
  odd.namespaceName = "payments-eu";
  odd.name = "checkout.v2";
  odd.objectives->window = hours(24 * 7);
  odd.objectives->latency->histogram = "rpc_latency_seconds_bucket";
  odd.objectives->latency->threshold = milliseconds(1000);
  odd.objectives->availability->target = percent("99.95");
  out.emplace_back("odd names, 7d", odd);

  ServiceLevel short_ = everything();  // the window is a recorded range, the page is off
  short_.objectives->window = hours(24);
  short_.alerting.page.enabled = false;
  short_.autoscaling->queue.reset();
  out.emplace_back("1d window, latency scaling only", short_);

  ServiceLevel queue = base("jobs", "worker");
  queue.autoscaling = Autoscaling{};
  queue.autoscaling->maxReplicas = 10;
  queue.autoscaling->queue = QueueScaling{RedisQueue{"redis:6379", "q"}, 5};
  out.emplace_back("queue only", queue);

  ServiceLevel cache = base("catalog", "catalog");
  cache.cache = Cache{};
  cache.cache->hitRatioTarget = percent("90");
  out.emplace_back("cache only", cache);
  return out;
}

// ---- promtool ------------------------------------------------------------------------------

std::string promtool() { return governor::testing::findProgram("PROMTOOL", {"/usr/bin/promtool", "promtool"}); }

// Grafana's own variables, as Grafana would substitute them before Prometheus sees the query.
// The dashboards use none of them today; a query that starts to must still parse.
std::string substituteGrafanaVariables(std::string expr) {
  const std::vector<std::pair<std::string, std::string>> values{
      {"$__rate_interval", "1m"}, {"$__interval", "30s"}, {"$__range", "1d"}};
  for (const auto& [var, value] : values) {
    for (size_t at = expr.find(var); at != std::string::npos; at = expr.find(var, at + value.size())) {
      expr.replace(at, var.size(), value);
    }
  }
  return expr;
}

struct Query {
  std::string where;  // "everything / SLI: availability / A"
  std::string expr;
};

std::vector<Query> queriesOf(const std::string& what, const ServiceLevel& sl) {
  std::vector<Query> out;
  for (const auto& child : renderDashboard(sl)) {
    Json dashboard = Json::parse(child.object["data"][sl.name + ".json"].get<std::string>());
    for (const auto& p : dashboard["panels"]) {
      for (const auto& t : p["targets"]) {
        out.push_back({what + " / " + p["title"].get<std::string>() + " / " + t["refId"].get<std::string>(),
                       substituteGrafanaVariables(t["expr"])});
      }
    }
  }
  return out;
}

struct Check {
  int status = -1;
  std::string output;
  std::string file;
};

// One rule file: each query a recording rule dashboard:query<N>, its origin in a label.
Check checkRules(const TempDir& dir, const std::string& name, const std::vector<Query>& queries) {
  Json rules = Json::array();
  for (size_t i = 0; i < queries.size(); ++i) {
    rules.push_back({{"record", "dashboard:query" + std::to_string(i)},
                     {"expr", queries[i].expr},
                     {"labels", {{"panel", queries[i].where}}}});
  }
  Json file = {{"groups", Json::array({{{"name", "dashboard-queries"}, {"rules", rules}}})}};
  Check c;
  c.file = kube::toYaml(file);
  fs::path path = dir.path() / name;
  std::ofstream(path) << c.file;
  auto r = governor::testing::run(promtool() + " check rules '" + path.string() + "'");
  c.status = r.status;
  c.output = r.output;
  return c;
}

class DashboardPromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(promtool().empty())
        << "promtool is missing: run scripts/install-deps (Debian's prometheus package) or set PROMTOOL";
    ASSERT_FALSE(dir_.path().empty());
  }
  TempDir dir_{"dashboard"};
};

TEST_F(DashboardPromtoolTest, EveryPanelQueryParses) {
  std::vector<Query> all;
  for (const auto& [what, sl] : serviceLevels()) {
    auto queries = queriesOf(what, sl);
    ASSERT_FALSE(queries.empty()) << what << " has no dashboard";
    all.insert(all.end(), queries.begin(), queries.end());
  }
  ASSERT_GE(all.size(), 40u);
  Check c = checkRules(dir_, "dashboards.rules.yaml", all);
  EXPECT_EQ(c.status, 0) << c.output << "\n" << c.file;
  EXPECT_THAT(c.output, ::testing::HasSubstr("SUCCESS: " + std::to_string(all.size()) + " rules found")) << c.output;
}

// The samples users start from, through the parser as the operator reads them.
TEST_F(DashboardPromtoolTest, EverySampleDashboardParses) {
  const fs::path samples = fs::path(GOVERNOR_SOURCE_DIR) / "manifests" / "samples";
  ASSERT_TRUE(fs::is_directory(samples)) << samples;
  std::vector<Query> all;
  int dashboards = 0;
  for (const auto& entry : fs::directory_iterator(samples)) {
    std::ifstream in(entry.path());
    auto docs = kube::parseYamlDocuments(std::string(std::istreambuf_iterator<char>(in), {}));
    ASSERT_TRUE(docs.ok()) << entry.path();
    Json object = (*docs)[0];
    object["metadata"]["uid"] = "sample-uid";
    auto parsed = parseServiceLevel(object);
    ASSERT_TRUE(parsed.serviceLevel) << entry.path();
    auto queries = queriesOf(entry.path().filename().string(), *parsed.serviceLevel);
    dashboards += queries.empty() ? 0 : 1;
    all.insert(all.end(), queries.begin(), queries.end());
  }
  ASSERT_GE(dashboards, 3) << "the samples have objectives, autoscaling or a cache target";
  Check c = checkRules(dir_, "samples.rules.yaml", all);
  EXPECT_EQ(c.status, 0) << c.output << "\n" << c.file;
  EXPECT_THAT(c.output, ::testing::HasSubstr("SUCCESS")) << c.output;
}

// The check does fail: a query that is not PromQL is refused, so SUCCESS above means something.
TEST_F(DashboardPromtoolTest, ABrokenQueryIsRefused) {
  auto queries = queriesOf("everything", everything());
  queries.push_back({"broken", "sum by (le (rate(x[5m]))"});
  Check c = checkRules(dir_, "broken.rules.yaml", queries);
  EXPECT_NE(c.status, 0) << c.output;
}

}  // namespace
}  // namespace governor::op
