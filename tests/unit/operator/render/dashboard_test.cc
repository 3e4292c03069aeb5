// The Grafana dashboard of operator/render/dashboard.cc: which panels a spec gets, the
// ConfigMap the Grafana sidecar picks up, a stable uid, and above all that every query
// reads only series that exist: the names recorded by ruleGroups() (read from its output,
// not copied here) with the labels those rules give them, or the documented source
// metrics. That promtool parses every query is checked in
// tests/integration/dashboard_promtool_test.cc.
#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operator/render/render.h"
#include "sample.h"

namespace governor::op {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

Percent percent(const std::string& text) { return api::parsePercent(text).value(); }

ServiceLevel withAvailability() {
  return parsed(R"(  workload: {name: checkout}
  objectives:
    availability:
      target: "99.9"
      errorQuery: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
      totalQuery: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
)");
}

LatencyObjective latency() {
  LatencyObjective lat;
  lat.threshold = milliseconds(200);
  lat.target = percent("95");
  lat.histogram = R"(http_request_duration_seconds_bucket{job="checkout"})";
  return lat;
}

Autoscaling queueScaling() {
  Autoscaling a;
  a.minReplicas = 2;
  a.maxReplicas = 20;
  a.queue = QueueScaling{RedisQueue{"redis.shop:6379", "jobs"}, 100};
  return a;
}

// Every section, as in the sample manifests/samples/servicelevel-checkout.yaml.
ServiceLevel full() {
  return parsed(R"(  workload: {name: checkout}
  objectives:
    availability:
      target: "99.9"
      errorQuery: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
      totalQuery: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
    latency:
      threshold: 200ms
      target: "95"
      histogram: http_request_duration_seconds_bucket{job="checkout"}
  autoscaling:
    minReplicas: 2
    maxReplicas: 20
    queue:
      redis: {address: "redis.shop:6379", key: jobs}
      targetPerReplica: 100
    latency: {percentile: 95, target: 250ms}
  cache:
    hitRatioTarget: "80"
  quota: {}
)");
}

ServiceLevel latencyOnly() {
  ServiceLevel sl = checkout();
  sl.objectives = Objectives{};
  sl.objectives->latency = latency();
  return sl;
}

ServiceLevel queueOnly() {
  ServiceLevel sl = checkout();
  sl.autoscaling = queueScaling();
  return sl;
}

ServiceLevel cacheOnly() {
  ServiceLevel sl = checkout();
  sl.cache = Cache{};
  sl.cache->hitRatioTarget = percent("80");
  return sl;
}

ServiceLevel withWindow(ServiceLevel sl, milliseconds window) {
  sl.objectives->window = window;
  return sl;
}

// ---- reading the dashboard -------------------------------------------------------------

Json configMapOf(const ServiceLevel& sl) {
  auto children = renderDashboard(sl);
  if (children.size() != 1) return nullptr;
  return children[0].object;
}

Json dashboardOf(const ServiceLevel& sl) {
  Json cm = configMapOf(sl);
  if (cm.is_null()) return nullptr;
  return Json::parse(cm["data"][sl.name + ".json"].get<std::string>());
}

std::vector<std::string> titles(const Json& dashboard) {
  std::vector<std::string> out;
  for (const auto& p : dashboard["panels"]) out.push_back(p["title"]);
  return out;
}

Json panel(const Json& dashboard, const std::string& title) {
  for (const auto& p : dashboard["panels"]) {
    if (p["title"] == title) return p;
  }
  return nullptr;
}

std::vector<std::string> exprs(const Json& panel) {
  std::vector<std::string> out;
  for (const auto& t : panel["targets"]) out.push_back(t["expr"]);
  return out;
}

// The dashed lines: the values of the threshold steps after the base.
std::vector<double> lines(const Json& panel) {
  std::vector<double> out;
  for (const auto& s : panel["fieldConfig"]["defaults"]["thresholds"]["steps"]) {
    if (!s["value"].is_null()) out.push_back(s["value"]);
  }
  return out;
}

// ---- reading PromQL ----------------------------------------------------------------------

// A series selector in a query: the metric name and its matchers (label -> "op value").
struct Selector {
  std::string name;
  std::map<std::string, std::string> matchers;
};

bool identStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool identChar(char c) { return identStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

size_t skipString(const std::string& s, size_t i) {  // i at the opening quote; returns past the closing one
  char quote = s[i++];
  while (i < s.size() && s[i] != quote) i += (s[i] == '\\' && quote != '`') ? 2 : 1;
  return i + 1;
}

size_t skipSpace(const std::string& s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

size_t skipBalanced(const std::string& s, size_t i, char open, char close) {  // i at `open`
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
      i = skipString(s, i) - 1;
    } else if (s[i] == open) {
      ++depth;
    } else if (s[i] == close && --depth == 0) {
      return i + 1;
    }
  }
  return i;
}

std::string unquote(const std::string& quoted) {
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] == '\\' && i + 2 < quoted.size()) ++i;
    out += quoted[i];
  }
  return out;
}

// label op "value", ... inside {}.
std::map<std::string, std::string> parseMatchers(const std::string& block) {
  std::map<std::string, std::string> out;
  static const std::regex matcher(R"re(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*,?)re");
  for (auto it = std::sregex_iterator(block.begin(), block.end(), matcher); it != std::sregex_iterator(); ++it) {
    out[(*it)[1]] = (*it)[2].str() + unquote((*it)[3]);
  }
  return out;
}

// Every metric a query reads. Enough PromQL for what a dashboard holds: strings, comments,
// ranges, numbers, functions and aggregations (an identifier followed by "("), and the
// label lists after by/without/on/ignoring/group_left/group_right.
std::vector<Selector> selectors(const std::string& q) {
  static const std::set<std::string> labelListKeywords{"by", "without", "on", "ignoring", "group_left", "group_right"};
  static const std::set<std::string> aggregations{"sum",    "min",      "max",    "avg",          "group",
                                                  "stddev", "stdvar",   "count",  "count_values", "bottomk",
                                                  "topk",   "quantile", "limitk", "limit_ratio"};
  static const std::set<std::string> keywords{"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"};
  std::vector<Selector> out;
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skipString(q, i);
    } else if (c == '#') {
      i = q.find('\n', i) == std::string::npos ? q.size() : q.find('\n', i);
    } else if (c == '[') {
      i = skipBalanced(q, i, '[', ']');
    } else if (c == '{') {  // a selector without a name
      size_t end = skipBalanced(q, i, '{', '}');
      out.push_back({"", parseMatchers(q.substr(i + 1, end - i - 2))});
      i = end;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < q.size() && std::isdigit(q[i + 1]))) {
      while (i < q.size() && (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '.')) ++i;
    } else if (identStart(c)) {
      size_t start = i;
      while (i < q.size() && identChar(q[i])) ++i;
      std::string word = q.substr(start, i - start);
      size_t next = skipSpace(q, i);
      if (labelListKeywords.contains(word)) {
        if (next < q.size() && q[next] == '(') i = skipBalanced(q, next, '(', ')');
      } else if (keywords.contains(word) || aggregations.contains(word) || (next < q.size() && q[next] == '(')) {
        // an operator, a function or an aggregation
      } else {
        Selector s{word, {}};
        if (next < q.size() && q[next] == '{') {
          size_t end = skipBalanced(q, next, '{', '}');
          s.matchers = parseMatchers(q.substr(next + 1, end - next - 2));
          i = end;
        }
        out.push_back(std::move(s));
      }
    } else {
      ++i;
    }
  }
  return out;
}

TEST(DashboardTest, TheQueryReaderFindsMetricsAndOnlyMetrics) {
  auto s = selectors(
      R"(histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket{job="a",le=~"1|2"}[5m]))) / on(namespace) group_left )"
      R"(b:c:rate5m{namespace="n"} > bool 1e3 or vector(0) # a comment with words)");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "x_seconds_bucket");
  EXPECT_EQ(s[0].matchers, (std::map<std::string, std::string>{{"job", "=a"}, {"le", "=~1|2"}}));
  EXPECT_EQ(s[1].name, "b:c:rate5m");
  EXPECT_EQ(s[1].matchers, (std::map<std::string, std::string>{{"namespace", "=n"}}));
}

// ---- what the rules record ---------------------------------------------------------------

// record name -> the label sets ruleGroups(sl) gives it.
std::multimap<std::string, Labels> recorded(const ServiceLevel& sl) {
  std::multimap<std::string, Labels> out;
  Json groups = ruleGroups(sl);
  if (groups.is_null()) return out;
  for (const auto& g : groups["groups"]) {
    for (const auto& r : g["rules"]) {
      if (!r.contains("record")) continue;
      Labels labels;
      const Json ruleLabels = r.value("labels", Json::object());
      for (const auto& [k, v] : ruleLabels.items()) labels[k] = v;
      out.emplace(r["record"], labels);
    }
  }
  return out;
}

// The source metrics docs/alerts.md names for the dashboard.
const std::set<std::string>& kubeStateMetrics() {
  static const std::set<std::string> names{
      "kube_horizontalpodautoscaler_status_current_replicas", "kube_horizontalpodautoscaler_status_desired_replicas",
      "kube_horizontalpodautoscaler_status_target_metric", "kube_horizontalpodautoscaler_spec_target_metric"};
  return names;
}

// What is wrong with one query of sl's dashboard: each metric it reads must be recorded by
// ruleGroups(sl) with every label the query asks for, or be a documented source metric (the
// latency histogram, kube-state-metrics' series of this ServiceLevel's HPA).
std::vector<std::string> problemsOf(const ServiceLevel& sl, const std::string& expr) {
  std::vector<std::string> problems;
  const auto records = recorded(sl);
  std::string histogram;
  if (sl.objectives && sl.objectives->latency) {
    histogram = sl.objectives->latency->histogram.substr(0, sl.objectives->latency->histogram.find('{'));
  }
  auto found = selectors(expr);
  if (found.empty()) problems.push_back(expr + ": reads no metric");
  for (const auto& s : found) {
    if (records.contains(s.name)) {
      bool matched = false;
      auto [from, to] = records.equal_range(s.name);
      for (auto it = from; it != to; ++it) {
        bool all = true;
        for (const auto& [k, m] : s.matchers) {
          all &=
              m.starts_with("=") && !m.starts_with("=~") && it->second.contains(k) && it->second.at(k) == m.substr(1);
        }
        matched |= all;
      }
      if (!matched) problems.push_back(expr + ": no rule records " + s.name + " with these labels");
    } else if (kubeStateMetrics().contains(s.name)) {
      if (!sl.autoscaling) problems.push_back(expr + ": there is no HPA");
      if (!s.matchers.contains("namespace") || s.matchers.at("namespace") != "=" + sl.namespaceName ||
          !s.matchers.contains("horizontalpodautoscaler") ||
          s.matchers.at("horizontalpodautoscaler") != "=" + sl.name) {
        problems.push_back(expr + ": not the HPA " + sl.namespaceName + "/" + sl.name);
      }
    } else if (histogram.empty() || s.name != histogram) {
      problems.push_back(expr + ": " + (s.name.empty() ? "a selector without a name" : s.name) +
                         " is neither recorded nor a documented source metric");
    }
  }
  return problems;
}

std::vector<std::string> unknownSeries(const ServiceLevel& sl) {
  std::vector<std::string> problems;
  const Json dashboard = dashboardOf(sl);
  for (const auto& p : dashboard["panels"]) {
    for (const auto& t : p["targets"]) {
      for (auto& problem : problemsOf(sl, t["expr"])) problems.push_back(std::move(problem));
    }
  }
  return problems;
}

// ---- the tests ---------------------------------------------------------------------------

TEST(DashboardTest, EverySectionHasItsPanels) {
  EXPECT_EQ(titles(dashboardOf(full())),
            (std::vector<std::string>{"SLI: availability", "Burn rate: availability", "SLI: latency",
                                      "Burn rate: latency", "Error budget remaining", "p95 latency",
                                      "Replicas against backlog", "Cache hit ratio"}));
}

TEST(DashboardTest, PanelsOnlyForWhatExists) {
  EXPECT_EQ(titles(dashboardOf(withAvailability())),
            (std::vector<std::string>{"SLI: availability", "Burn rate: availability", "Error budget remaining"}));
  EXPECT_EQ(titles(dashboardOf(latencyOnly())),
            (std::vector<std::string>{"SLI: latency", "Burn rate: latency", "Error budget remaining", "p95 latency"}));
  EXPECT_EQ(titles(dashboardOf(queueOnly())), (std::vector<std::string>{"Replicas against backlog"}));
  EXPECT_EQ(titles(dashboardOf(cacheOnly())), (std::vector<std::string>{"Cache hit ratio"}));

  ServiceLevel latencyScaling = latencyOnly();
  latencyScaling.autoscaling = Autoscaling{};
  latencyScaling.autoscaling->maxReplicas = 5;
  latencyScaling.autoscaling->latency = LatencyScaling{99, milliseconds(300)};
  Json d = dashboardOf(latencyScaling);
  EXPECT_EQ(titles(d), (std::vector<std::string>{"SLI: latency", "Burn rate: latency", "Error budget remaining",
                                                 "p99 latency", "Replicas"}));
  EXPECT_EQ(exprs(panel(d, "Replicas")).size(), 2u) << "no queue: no backlog";
}

TEST(DashboardTest, NothingToShowNoDashboard) {
  ServiceLevel sl = checkout();
  EXPECT_TRUE(renderDashboard(sl).empty());
  sl.cache = Cache{};  // a cache without hitRatioTarget has no metric Governor records
  sl.quota = Quota{};
  EXPECT_TRUE(renderDashboard(sl).empty());
}

TEST(DashboardTest, AConfigMapForTheGrafanaSidecar) {
  auto children = renderDashboard(full());
  ASSERT_EQ(children.size(), 1u);
  const Child& child = children[0];
  EXPECT_EQ(child.group, ChildGroup::Rules);
  EXPECT_EQ(child.resource.plural, "configmaps");
  const Json& cm = child.object;
  EXPECT_EQ(cm["apiVersion"], "v1");
  EXPECT_EQ(cm["kind"], "ConfigMap");
  EXPECT_EQ(cm["metadata"]["name"], "checkout-dashboard");
  EXPECT_EQ(cm["metadata"]["namespace"], "shop");
  EXPECT_EQ(cm["metadata"]["labels"]["grafana_dashboard"], "1");
  EXPECT_EQ(cm["metadata"]["labels"]["app.kubernetes.io/managed-by"], "governor");
  EXPECT_EQ(cm["metadata"]["labels"]["governor.io/service-level"], "checkout");
  ASSERT_EQ(cm["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"], "0b6f3c1e-uid");
  ASSERT_EQ(cm["data"].size(), 1u);
  ASSERT_TRUE(cm["data"].contains("checkout.json"));
  EXPECT_NO_THROW(Json::parse(cm["data"]["checkout.json"].get<std::string>()));

  bool inRender = false;
  for (const auto& c : render(full())) inRender |= c.object["metadata"]["name"] == "checkout-dashboard";
  EXPECT_TRUE(inRender) << "render() must include the dashboard";
}

TEST(DashboardTest, TheDashboardItself) {
  Json d = dashboardOf(full());
  EXPECT_EQ(d["schemaVersion"], 39);
  EXPECT_EQ(d["title"], "ServiceLevel shop/checkout");
  EXPECT_EQ(d["time"], Json({{"from", "now-24h"}, {"to", "now"}}));
  ASSERT_EQ(d["templating"]["list"].size(), 1u);
  const Json& var = d["templating"]["list"][0];
  EXPECT_EQ(var["name"], "datasource");
  EXPECT_EQ(var["type"], "datasource");
  EXPECT_EQ(var["query"], "prometheus");

  std::set<int> ids;
  std::set<std::pair<int, int>> cells;  // (x, y) of each panel's corner: no two overlap
  for (const auto& p : d["panels"]) {
    EXPECT_TRUE(ids.insert(p["id"].get<int>()).second) << p["title"];
    EXPECT_TRUE(cells.insert({p["gridPos"]["x"].get<int>(), p["gridPos"]["y"].get<int>()}).second) << p["title"];
    EXPECT_LE(p["gridPos"]["x"].get<int>() + p["gridPos"]["w"].get<int>(), 24) << p["title"];
    EXPECT_EQ(p["datasource"], Json({{"type", "prometheus"}, {"uid", "${datasource}"}})) << p["title"];
    EXPECT_FALSE(p["description"].get<std::string>().empty()) << p["title"];
    ASSERT_FALSE(p["targets"].empty()) << p["title"];
    std::set<std::string> refs;
    for (const auto& t : p["targets"]) {
      EXPECT_TRUE(refs.insert(t["refId"].get<std::string>()).second) << p["title"];
      EXPECT_FALSE(t.contains("datasource")) << "the panel's datasource serves its targets";
    }
  }
}

TEST(DashboardTest, UidIsStableShortAndUnique) {
  const std::string uid = dashboardOf(full())["uid"];
  EXPECT_EQ(uid, dashboardOf(cacheOnly())["uid"]) << "the uid depends on namespace/name only";
  EXPECT_EQ(uid, dashboardOf(full())["uid"]);
  EXPECT_LE(uid.size(), 40u);
  EXPECT_THAT(uid, ::testing::StartsWith("shop-checkout-"));

  auto uidOf = [](const std::string& ns, const std::string& name) {
    ServiceLevel sl = cacheOnly();
    sl.namespaceName = ns;
    sl.name = name;
    return dashboardOf(sl)["uid"].get<std::string>();
  };
  EXPECT_NE(uidOf("a-b", "c"), uidOf("a", "b-c"));
  EXPECT_NE(uidOf("shop", "checkout"), uidOf("shop2", "checkout"));
  const std::string longNs(63, 'n');
  const std::string longName = std::string(200, 'x') + ".v1";
  for (const std::string& u : {uidOf(longNs, longName), uidOf(longNs, longName + "2"), uidOf("a.b", "c.d")}) {
    EXPECT_LE(u.size(), 40u) << u;
    EXPECT_TRUE(std::regex_match(u, std::regex("[a-z0-9-]+"))) << u;
  }
  EXPECT_NE(uidOf(longNs, longName), uidOf(longNs, longName + "2")) << "a shared prefix does not share a uid";
}

TEST(DashboardTest, QueriesReadOnlyRecordedOrSourceMetrics) {
  ServiceLevel noPage = full();
  noPage.alerting.page.enabled = false;
  ServiceLevel minRate = full();
  minRate.alerting.minRequestRate = "0.5";
  ServiceLevel otherNs = full();
  otherNs.namespaceName = "payments-eu";
  otherNs.name = "checkout.v2";
  const std::vector<std::pair<std::string, ServiceLevel>> cases{
      {"full", full()},
      {"availability", withAvailability()},
      {"latency", latencyOnly()},
      {"queue", queueOnly()},
      {"cache", cacheOnly()},
      {"window 7d", withWindow(full(), hours(24 * 7))},
      {"window 1d (a recorded range)", withWindow(full(), hours(24))},
      {"window 90d", withWindow(full(), hours(24 * 90))},
      {"page disabled", noPage},
      {"minRequestRate", minRate},
      {"other names", otherNs},
  };
  for (const auto& [what, sl] : cases) {
    ASSERT_FALSE(dashboardOf(sl).is_null()) << what;
    EXPECT_THAT(unknownSeries(sl), ::testing::IsEmpty()) << what;
  }
}

// The check is not vacuous: it knows the names from ruleGroups() and rejects what the rules
// of that ServiceLevel do not record, wrong labels and unknown metrics.
TEST(DashboardTest, TheCheckCatchesWhatDoesNotExist) {
  ServiceLevel sl = full();
  const std::string cache = R"(governor:cache_hits:ratio_rate5m{namespace="shop",service_level="checkout"})";
  EXPECT_THAT(problemsOf(sl, cache), ::testing::IsEmpty());
  EXPECT_THAT(problemsOf(sl, R"(governor:slo_errors:ratio_rate30d{slo="latency"})"), ::testing::IsEmpty());
  EXPECT_THAT(
      problemsOf(sl, R"(histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[1m]))))"),
      ::testing::IsEmpty());

  EXPECT_THAT(problemsOf(sl, R"(governor:slo_errors:ratio_rate4h{slo="latency"})"), ::testing::SizeIs(1))
      << "no such range is recorded";
  EXPECT_THAT(problemsOf(sl, R"(governor:slo_errors:ratio_rate5m{slo="freshness"})"), ::testing::SizeIs(1));
  EXPECT_THAT(problemsOf(sl, R"(governor:cache_hits:ratio_rate5m{service_level="cart"})"), ::testing::SizeIs(1));
  EXPECT_THAT(problemsOf(sl, "http_requests_total"), ::testing::SizeIs(1)) << "not a documented source metric";
  EXPECT_THAT(problemsOf(sl, R"(kube_horizontalpodautoscaler_status_current_replicas{namespace="shop"})"),
              ::testing::SizeIs(1));
  sl.cache->hitRatioTarget.reset();
  EXPECT_THAT(problemsOf(sl, cache), ::testing::SizeIs(1)) << "without hitRatioTarget nothing records it";
}

TEST(DashboardTest, SliAgainstTheObjective) {
  Json p = panel(dashboardOf(full()), "SLI: availability");
  const std::string sel = R"({namespace="shop",service_level="checkout",slo="availability"})";
  EXPECT_EQ(exprs(p), (std::vector<std::string>{"1 - governor:slo_errors:ratio_rate5m" + sel,
                                                "1 - governor:slo_errors:ratio_rate1h" + sel,
                                                "1 - governor:slo_errors:ratio_rate30d" + sel}));
  EXPECT_EQ(lines(p), std::vector<double>{0.999});
  EXPECT_EQ(p["fieldConfig"]["defaults"]["unit"], "percentunit");
  EXPECT_EQ(p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "dashed");
  EXPECT_EQ(lines(panel(dashboardOf(full()), "SLI: latency")), std::vector<double>{0.95});
  // A window that is a recorded range comes once.
  EXPECT_EQ(exprs(panel(dashboardOf(withWindow(full(), hours(1))), "SLI: availability")).size(), 2u);
}

// The burn rate divides by the budget the alerts use, and the red line is the page threshold
// of the 1h row, both read from the alert rule.
TEST(DashboardTest, BurnRatesMatchTheAlerts) {
  for (const auto& [text, window] : std::vector<std::pair<std::string, milliseconds>>{
           {"30d", hours(24 * 30)}, {"7d", hours(24 * 7)}, {"28d", hours(24 * 28)}, {"1d", hours(24)}}) {
    ServiceLevel sl = withWindow(full(), window);
    std::string alertExpr;
    const Json groups = ruleGroups(sl);
    for (const auto& g : groups["groups"]) {
      for (const auto& r : g["rules"]) {
        if (r.value("alert", "") == "ServiceLevelAvailabilityBurn" && r["labels"]["tier"] == "page")
          alertExpr = r["expr"];
      }
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_search(alertExpr, m, std::regex(R"(ratio_rate1h\{[^}]*\} / ([0-9.]+) > ([0-9.e+]+))")))
        << alertExpr;
    const std::string budget = m[1], threshold = m[2];

    Json p = panel(dashboardOf(sl), "Burn rate: availability");
    std::vector<std::string> windows;
    for (const auto& t : p["targets"]) windows.push_back(t["legendFormat"]);
    for (const auto& e : exprs(p)) EXPECT_THAT(e, ::testing::EndsWith("} / " + budget)) << text;
    std::vector<double> expected{1, std::stod(threshold)};
    std::sort(expected.begin(), expected.end());  // 1d: the page fires at 0.48
    EXPECT_EQ(lines(p), expected) << text;
    if (text == "1d") {
      EXPECT_EQ(windows, (std::vector<std::string>{"5m", "1h", "6h", "1d"})) << "no window beyond the SLO's";
    } else {
      EXPECT_EQ(windows, (std::vector<std::string>{"5m", "1h", "6h", "1d", "3d"})) << text;
    }
  }
  ServiceLevel noPage = full();
  noPage.alerting.page.enabled = false;
  EXPECT_EQ(lines(panel(dashboardOf(noPage), "Burn rate: availability")), std::vector<double>{1});
}

TEST(DashboardTest, BudgetLatencyReplicasAndCache) {
  Json d = dashboardOf(full());
  EXPECT_EQ(exprs(panel(d, "Error budget remaining")),
            std::vector<std::string>{
                R"(governor:slo_error_budget_remaining:ratio{namespace="shop",service_level="checkout"})"});
  EXPECT_EQ(panel(d, "Error budget remaining")["type"], "stat");

  Json lat = panel(d, "p95 latency");
  EXPECT_EQ(exprs(lat), std::vector<std::string>{"histogram_quantile(0.95, sum by (le) (rate("
                                                 R"(http_request_duration_seconds_bucket{job="checkout"}[5m]))))"});
  EXPECT_EQ(lines(lat), (std::vector<double>{0.2, 0.25})) << "the SLO threshold and the scaling target";
  EXPECT_EQ(lat["fieldConfig"]["defaults"]["unit"], "s");

  Json replicas = panel(d, "Replicas against backlog");
  const std::string hpa = R"({horizontalpodautoscaler="checkout",namespace="shop"})";
  const std::string backlog =
      R"({horizontalpodautoscaler="checkout",metric_name="governor_queue_backlog",metric_target_type="average",namespace="shop"})";
  EXPECT_EQ(exprs(replicas), (std::vector<std::string>{"kube_horizontalpodautoscaler_status_current_replicas" + hpa,
                                                       "kube_horizontalpodautoscaler_status_desired_replicas" + hpa,
                                                       "kube_horizontalpodautoscaler_status_target_metric" + backlog,
                                                       "kube_horizontalpodautoscaler_spec_target_metric" + backlog}));
  EXPECT_EQ(replicas["fieldConfig"]["overrides"].size(), 2u) << "the backlog on the right axis";

  Json cache = panel(d, "Cache hit ratio");
  EXPECT_EQ(exprs(cache),
            std::vector<std::string>{R"(governor:cache_hits:ratio_rate5m{namespace="shop",service_level="checkout"})"});
  EXPECT_EQ(lines(cache), std::vector<double>{0.8});
  // The recording rule it plots reads the adapter's counters, and the panel says so.
  EXPECT_THAT(cache["description"].get<std::string>(), ::testing::HasSubstr("governor_cache_keyspace_hits_total"));
}

}  // namespace
}  // namespace governor::op
