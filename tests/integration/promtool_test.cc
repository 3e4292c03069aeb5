// The rules of operator/render/rules.cc against a real promtool (Debian's prometheus
// package: /usr/bin/promtool, or $PROMTOOL).
//
// `promtool check rules` must accept every rule file Governor can write. `promtool test
// rules` then replays traffic: each scenario below describes requests as phases (so many
// minutes at so many requests/s with such a fraction failing, slow or missing the cache),
// this file turns them into input series, and the expected alerts are what the scenario
// means ("a fast burn pages, nothing else fires"), not copies of the rule text.
//
// Alerts carry annotations that promtool would have to be told exactly; the behaviour
// scenarios therefore load the rules with annotations removed, and one scenario
// (AnnotationsExpand) loads the real file and checks the text a person reads.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/yaml.h"
#include "operator/promql.h"
#include "operator/promql_check.h"
#include "operator/render/render.h"
#include "support/process.h"
#include "unit/operator/promql_cases.h"

namespace governor::op {
namespace {

namespace fs = std::filesystem;
using governor::testing::TempDir;
using std::chrono::hours;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr int kDay = 24 * 60;  // minutes

// ---- running promtool ------------------------------------------------------------------

std::string promtool() {
  const char* env = std::getenv("PROMTOOL");
  return env && *env ? env : "/usr/bin/promtool";
}

struct Run {
  int exitCode = -1;
  std::string output;
};

Run run(const std::string& command) {
  Run r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  int status = pclose(pipe);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

class PromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(promtool())) << promtool()
                                        << " is missing: install Debian's prometheus package or set PROMTOOL";
    ASSERT_FALSE(dir_.path().empty());
  }
  TempDir dir_{"promtool"};
};

// ---- the ServiceLevels -------------------------------------------------------------------

Percent percent(const std::string& text) { return api::parsePercent(text).value(); }

ServiceLevel base() {
  ServiceLevel sl;
  sl.name = "checkout";
  sl.namespaceName = "shop";
  sl.uid = "0b0e2d2c-1111-2222-3333-444455556666";
  sl.workload.name = "checkout";
  sl.alerting.labels = {{"team", "payments"}};
  sl.alerting.runbookURL = "https://runbooks.example/checkout";
  return sl;
}

Availability availability(const std::string& target) {
  return Availability{percent(target), R"(sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}])))",
                      R"(sum(rate(http_requests_total{job="checkout"}[{{.window}}])))"};
}

LatencyObjective latency(const std::string& target, milliseconds threshold) {
  LatencyObjective lat;
  lat.threshold = threshold;
  lat.target = percent(target);
  lat.histogram = R"(http_request_duration_seconds_bucket{job="checkout"})";
  return lat;
}

ServiceLevel withAvailability(const std::string& target = "99.9") {
  ServiceLevel sl = base();
  sl.objectives = Objectives{};
  sl.objectives->availability = availability(target);
  return sl;
}

ServiceLevel withLatency(const std::string& target, milliseconds threshold) {
  ServiceLevel sl = base();
  sl.objectives = Objectives{};
  sl.objectives->latency = latency(target, threshold);
  return sl;
}

ServiceLevel withCache(const std::string& target) {
  ServiceLevel sl = base();
  sl.cache = Cache{};
  sl.cache->hitRatioTarget = percent(target);
  return sl;
}

ServiceLevel everything() {
  ServiceLevel sl = withAvailability("99.9");
  sl.objectives->latency = latency("95", milliseconds(200));
  sl.cache = Cache{};
  sl.cache->hitRatioTarget = percent("80");
  return sl;
}

// ---- samples -------------------------------------------------------------------------------

// `minutes` of traffic at `perSecond` (requests, or cache lookups) of which `bad` (a
// fraction: failed, slower than the threshold, or cache misses) went wrong.
struct Phase {
  int minutes;
  double perSecond;
  double bad;
};
using Profile = std::vector<Phase>;

int length(const Profile& profile) {
  int total = 0;
  for (const auto& p : profile) total += p.minutes;
  return total;
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

// A counter sampled every minute from 0 at minute 0, growing by perMinute(phase) each minute
// of each phase, in promtool's expanding notation ("0+600x60 36060+540x29").
std::string counter(const Profile& profile, const std::function<double(const Phase&)>& perMinute) {
  std::string out;
  double value = 0;
  for (const auto& phase : profile) {
    double inc = perMinute(phase);
    if (out.empty()) {
      out = "0+" + number(inc) + "x" + number(phase.minutes);
    } else {
      out += " " + number(value + inc) + "+" + number(inc) + "x" + number(phase.minutes - 1);
    }
    value += inc * phase.minutes;
  }
  return out;
}

Json series(const std::string& name, const std::string& values) { return {{"series", name}, {"values", values}}; }

// http_requests_total by code; the 5xx series only exists once something failed.
Json requests(const Profile& profile) {
  Json out = Json::array();
  out.push_back(series(R"(http_requests_total{job="checkout",code="200"})",
                       counter(profile, [](const Phase& p) { return p.perSecond * 60 * (1 - p.bad); })));
  bool errors = false;
  for (const auto& p : profile) errors = errors || p.bad > 0;
  if (errors) {
    out.push_back(series(R"(http_requests_total{job="checkout",code="500"})",
                         counter(profile, [](const Phase& p) { return p.perSecond * 60 * p.bad; })));
  }
  return out;
}

// A classic histogram: good requests take `fast` seconds, bad ones `slow`; `les` are the
// le label values exactly as the scrape wrote them ("0.2", "1", "1.0", "+Inf").
struct Histogram {
  std::vector<std::string> les;
  double fast;
  double slow;
};

Json histogramSeries(const Profile& profile, const Histogram& h) {
  Json out = Json::array();
  for (const auto& le : h.les) {
    double bound = le == "+Inf" ? 1e300 : std::stod(le);
    double fastIn = h.fast <= bound ? 1 : 0, slowIn = h.slow <= bound ? 1 : 0;
    out.push_back(series(
        R"(http_request_duration_seconds_bucket{job="checkout",le=")" + le + "\"}",
        counter(profile, [&](const Phase& p) { return p.perSecond * 60 * ((1 - p.bad) * fastIn + p.bad * slowIn); })));
  }
  out.push_back(series(R"(http_request_duration_seconds_count{job="checkout"})",
                       counter(profile, [](const Phase& p) { return p.perSecond * 60; })));
  return out;
}

// The metrics adapter's counters of the cache's INFO stats, as the chart's ServiceMonitor
// scrapes them (honorLabels: namespace and servicelevel are the adapter's).
Json cacheSeries(const Profile& profile) {
  const std::string labels =
      R"({namespace="shop",servicelevel="checkout",job="governor-metrics-adapter",instance="10.0.0.7:6443"})";
  return Json::array({series("governor_cache_keyspace_hits_total" + labels,
                             counter(profile, [](const Phase& p) { return p.perSecond * 60 * (1 - p.bad); })),
                      series("governor_cache_keyspace_misses_total" + labels,
                             counter(profile, [](const Phase& p) { return p.perSecond * 60 * p.bad; }))});
}

Json concat(std::initializer_list<Json> parts) {
  Json out = Json::array();
  for (const auto& part : parts) {
    for (const auto& item : part) out.push_back(item);
  }
  return out;
}

// ---- expectations -------------------------------------------------------------------------

// The labels an alert must carry: the user's, then the identity of the series and, for
// burn alerts, severity and tier from the tier's configuration.
Labels burnLabels(const ServiceLevel& sl, const std::string& slo, const std::string& tier) {
  Labels l = sl.alerting.labels;
  l["namespace"] = sl.namespaceName;
  l["service_level"] = sl.name;
  l["slo"] = slo;
  l["tier"] = tier;
  l["severity"] = tier == "page" ? sl.alerting.page.severity : sl.alerting.ticket.severity;
  return l;
}

Labels cacheLabels(const ServiceLevel& sl) {
  Labels l = sl.alerting.labels;
  l["namespace"] = sl.namespaceName;
  l["service_level"] = sl.name;
  l["severity"] = sl.alerting.ticket.severity;
  return l;
}

std::string minutes(int m) { return std::to_string(m) + "m"; }

// At minute `at`, alert `name` fires with exactly these label sets (none: it does not fire).
Json alertsAt(int at, const std::string& name, const std::vector<Labels>& firing,
              const std::vector<Json>& annotations = {}) {
  Json exp = Json::array();
  for (size_t i = 0; i < firing.size(); ++i) {
    Json a = {{"exp_labels", firing[i]}};
    if (i < annotations.size()) a["exp_annotations"] = annotations[i];
    exp.push_back(a);
  }
  return {{"eval_time", minutes(at)}, {"alertname", name}, {"exp_alerts", exp}};
}

// Between minute 0 and `end`, no alert matching `matchers` was ever firing (ALERTS is the
// series Prometheus writes for every pending and firing alert).
Json neverFires(int end, const std::string& matchers) {
  return {{"expr", "count_over_time(ALERTS{alertstate=\"firing\"," + matchers + "}[" + minutes(end + 1) + "])"},
          {"eval_time", minutes(end)},
          {"exp_samples", Json::array()}};
}

const char* kBurnAlerts = R"(alertname=~"ServiceLevel(Availability|Latency)Burn")";

// ---- the harness ---------------------------------------------------------------------------

Json stripAnnotations(Json groups) {
  for (auto& g : groups["groups"]) {
    for (auto& r : g["rules"]) r.erase("annotations");
  }
  return groups;
}

std::string rulesText(const ServiceLevel& sl) {
  auto children = renderRules(sl, {.prometheusRuleCrd = false});
  if (children.size() != 1) return "";
  return children[0].object["data"][sl.name + ".rules.yaml"];
}

struct Scenario {
  ServiceLevel sl;
  Json input = Json::array();
  Json alerts = Json::array();  // alert_rule_test
  Json exprs = Json::array();   // promql_expr_test
  bool annotations = false;     // load the rule file as Governor writes it
};

// Writes the rule file and the unit test file and runs `promtool test rules`.
void expectPromtoolTestPasses(const TempDir& dir, const Scenario& s) {
  Json groups = ruleGroups(s.sl);
  ASSERT_FALSE(groups.is_null());
  std::string rules = s.annotations ? rulesText(s.sl) : kube::toYaml(stripAnnotations(groups));
  dir.write("rules.yaml", rules);
  Json order = Json::array();
  for (const auto& g : groups["groups"]) order.push_back(g["name"]);
  Json test = {{"rule_files", Json::array({"rules.yaml"})},
               {"evaluation_interval", "1m"},
               // As Prometheus would most of the time: recordings before the alerts that read them.
               {"group_eval_order", order},
               {"tests", Json::array({{{"interval", "1m"},
                                       {"input_series", s.input},
                                       {"alert_rule_test", s.alerts},
                                       {"promql_expr_test", s.exprs}}})}};
  std::string testText = kube::toYaml(test);
  auto path = dir.write("test.yaml", testText);
  Run r = run("cd " + quoted(dir.path().string()) + " && " + promtool() + " test rules test.yaml");
  EXPECT_EQ(r.exitCode, 0) << r.output << "\n--- test.yaml (series values cut)\n" << testText.substr(0, 4000);
  EXPECT_THAT(r.output, HasSubstr("SUCCESS")) << r.output;
}

// ---- promtool check rules --------------------------------------------------------------------

size_t ruleCount(const Json& groups) {
  size_t n = 0;
  for (const auto& g : groups["groups"]) n += g["rules"].size();
  return n;
}

void expectCheckPasses(const TempDir& dir, const ServiceLevel& sl, const std::string& label) {
  SCOPED_TRACE(label);
  Json groups = ruleGroups(sl);
  ASSERT_FALSE(groups.is_null());
  const std::string success = "SUCCESS: " + std::to_string(ruleCount(groups)) + " rules found";
  // Governor's own check, which the operator runs before it writes rules, agrees.
  EXPECT_THAT(queryProblems(sl), ::testing::IsEmpty());

  // The ConfigMap's rule file, byte for byte.
  auto file = dir.write("configmap.rules.yaml", rulesText(sl));
  Run r = run(promtool() + " check rules " + quoted(file.string()));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(success)) << r.output;

  // The PrometheusRule's spec is the same "groups:" document.
  auto children = renderRules(sl, {.prometheusRuleCrd = true});
  ASSERT_EQ(children.size(), 1u);
  auto spec = dir.write("prometheusrule.rules.yaml", kube::toYaml(children[0].object["spec"]));
  r = run(promtool() + " check rules " + quoted(spec.string()));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(success)) << r.output;
}

TEST_F(PromtoolTest, CheckRulesAcceptsEveryShape) {
  expectCheckPasses(dir_, everything(), "availability, latency and cache");
  expectCheckPasses(dir_, withAvailability("99.9"), "availability only");
  expectCheckPasses(dir_, withLatency("99", milliseconds(1000)), "latency only, integral threshold");
  expectCheckPasses(dir_, withLatency("99.5", milliseconds(250)), "latency only");
  expectCheckPasses(dir_, withCache("80"), "cache only");

  for (int days : {1, 3, 7, 28, 90}) {
    ServiceLevel sl = everything();
    sl.objectives->window = hours(24 * days);
    expectCheckPasses(dir_, sl, std::to_string(days) + "d window");
  }
  for (std::string target : {"99.999", "50", "99.000001"}) {
    ServiceLevel sl = everything();
    sl.objectives->availability->target = percent(target);
    expectCheckPasses(dir_, sl, "target " + target);
  }

  ServiceLevel tiers = everything();
  tiers.alerting.page.enabled = false;
  expectCheckPasses(dir_, tiers, "no page tier");
  tiers.alerting.ticket.enabled = false;
  expectCheckPasses(dir_, tiers, "no tiers");
  tiers.objectives->latency.reset();
  expectCheckPasses(dir_, tiers, "no alerts at all");

  ServiceLevel odd = everything();
  odd.alerting.minRequestRate = "0.25";
  odd.alerting.page.severity = "P1";
  odd.alerting.runbookURL = "https://runbooks.example/a?b=c#d";
  odd.alerting.labels = {{"team", "payments: core #1"}, {"version", "1.0"},      {"flag", "yes"},
                         {"quote", "it's \"quoted\""},  {"multi", "two\nlines"}, {"empty", ""},
                         {"utf8", "caf\u00e9"}};
  odd.objectives->availability->errorQuery =
      "sum by (job) (\n  rate(http_requests_total{job=\"checkout\", code=~\"5..\"}[{{ .window }}])\n)  # errors";
  expectCheckPasses(dir_, odd, "odd labels and a multi-line query with a comment");
}

// operator/promql and promtool give the same verdict on every case of promql_cases.h: what
// Governor refuses before writing a rule, Prometheus would refuse too, and the reverse.
TEST_F(PromtoolTest, PromqlCheckAgreesWithPromtool) {
  auto verdict = [&](const std::string& expr) {
    auto file = dir_.write("case.rules.yaml",
                           "groups:\n- name: case\n  rules:\n  - record: governor:case\n"
                           "    expr: " +
                               Json(expr).dump() + "\n");
    return run(promtool() + " check rules " + quoted(file.string()));
  };
  for (const char* expr : promql::cases::valid()) {
    auto r = verdict(expr);
    EXPECT_EQ(r.exitCode, 0) << "promtool refuses what Governor accepts: " << expr << "\n" << r.output;
  }
  for (const auto& c : promql::cases::invalid()) {
    auto r = verdict(c.text);
    EXPECT_NE(r.exitCode, 0) << "promtool accepts what Governor refuses (" << c.error << "): " << c.text;
  }
}

// ---- promtool test rules ---------------------------------------------------------------------

// 20% of requests fail for 10 minutes against 99.9%, after two healthy days: the page
// fires within minutes and stops soon after the burn does; no ticket (4.6% of the month's
// budget is gone, less than the 10% a ticket waits for).
TEST_F(PromtoolTest, FastBurnPagesWithinMinutes) {
  const int start = 2 * kDay;
  Profile traffic{{start, 10, 0.0001}, {10, 10, 0.2}, {60, 10, 0.0001}};
  Scenario s{withAvailability("99.9")};
  s.input = requests(traffic);
  const auto page = burnLabels(s.sl, "availability", "page");
  s.alerts = {alertsAt(start - 1, "ServiceLevelAvailabilityBurn", {}),
              alertsAt(start + 2, "ServiceLevelAvailabilityBurn", {}),
              alertsAt(start + 6, "ServiceLevelAvailabilityBurn", {page}),
              alertsAt(start + 10, "ServiceLevelAvailabilityBurn", {page}),
              alertsAt(start + 30, "ServiceLevelAvailabilityBurn", {})};
  s.exprs = {neverFires(length(traffic), R"(tier="ticket")")};
  expectPromtoolTestPasses(dir_, s);
}

// 0.5% of requests fail for a day against 99.9% (a burn rate of 5): the ticket fires, the
// page never does.
TEST_F(PromtoolTest, SlowBurnTicketsButNeverPages) {
  Profile traffic{{kDay, 10, 0.0001}, {kDay, 10, 0.005}};
  Scenario s{withAvailability("99.9")};
  s.input = requests(traffic);
  const auto ticket = burnLabels(s.sl, "availability", "ticket");
  s.alerts = {alertsAt(kDay + 120, "ServiceLevelAvailabilityBurn", {}),
              alertsAt(2 * kDay, "ServiceLevelAvailabilityBurn", {ticket})};
  s.exprs = {neverFires(length(traffic), R"(tier="page")")};
  expectPromtoolTestPasses(dir_, s);
}

// Well within every objective for a day: nothing fires, ever.
TEST_F(PromtoolTest, HealthyServiceFiresNothing) {
  Profile requestsProfile{{kDay, 10, 0.0005}};
  Profile lookups{{kDay, 100, 0.1}};
  Scenario s{everything()};
  s.input = concat({requests(requestsProfile),
                    histogramSeries({{kDay, 10, 0.01}}, Histogram{{"0.1", "0.2", "0.5", "+Inf"}, 0.05, 0.3}),
                    cacheSeries(lookups)});
  s.alerts = {alertsAt(kDay, "ServiceLevelAvailabilityBurn", {}), alertsAt(kDay, "ServiceLevelLatencyBurn", {}),
              alertsAt(kDay, "ServiceLevelLatencyBucketMissing", {}),
              alertsAt(kDay, "ServiceLevelCacheHitRatioLow", {})};
  s.exprs = {neverFires(kDay, R"(alertname=~".+")")};
  expectPromtoolTestPasses(dir_, s);
}

// Counters that exist but do not move (0/0 is NaN, and NaN compares false) and, below,
// no series at all: nothing fires.
TEST_F(PromtoolTest, IdleServiceFiresNothing) {
  const int end = 12 * 60;
  Profile idle{{end, 0, 0}};
  Scenario s{everything()};
  Json errors =
      series(R"(http_requests_total{job="checkout",code="500"})", counter(idle, [](const Phase&) { return 0; }));
  s.input = concat({requests(idle), Json::array({errors}),
                    histogramSeries(idle, Histogram{{"0.1", "0.2", "0.5", "+Inf"}, 0.05, 0.3}), cacheSeries(idle)});
  s.alerts = {alertsAt(end, "ServiceLevelAvailabilityBurn", {}), alertsAt(end, "ServiceLevelLatencyBurn", {}),
              alertsAt(end, "ServiceLevelCacheHitRatioLow", {})};
  s.exprs = {neverFires(end, R"(alertname=~".+")")};
  expectPromtoolTestPasses(dir_, s);
}

TEST_F(PromtoolTest, NoSeriesAtAllFiresNothing) {
  Scenario s{everything()};
  s.input = Json::array({series("up", "1x360")});  // something unrelated is scraped
  s.exprs = {neverFires(360, R"(alertname=~".+")")};
  expectPromtoolTestPasses(dir_, s);
}

// Half of 0.2 requests/s fail for two hours. With minRequestRate 0.5 nothing fires; the
// same samples page without it, and so does the same error ratio at 5 requests/s. (The
// floor is checked against each long window's rate, which spreads a young service's
// requests over the whole window: 5/s for 6.5h is 1.35/s over 1d, enough for the ticket.)
TEST_F(PromtoolTest, LowTrafficUnderMinRequestRateDoesNotPage) {
  const int start = 6 * 60;
  auto traffic = [&](double rps) { return Profile{{start, rps, 0}, {120, rps, 0.5}}; };
  const int end = start + 120;

  Scenario quiet{withAvailability("99.9")};
  quiet.sl.alerting.minRequestRate = "0.5";
  quiet.input = requests(traffic(0.2));
  quiet.alerts = {alertsAt(end, "ServiceLevelAvailabilityBurn", {})};
  quiet.exprs = {neverFires(end, kBurnAlerts)};
  {
    SCOPED_TRACE("0.2 requests/s, minRequestRate 0.5");
    expectPromtoolTestPasses(dir_, quiet);
  }

  Scenario noFloor = quiet;
  noFloor.sl.alerting.minRequestRate = "";
  noFloor.exprs = Json::array();
  // Half the requests failing is a fast and a slow burn at once: both tiers fire.
  noFloor.alerts = {
      alertsAt(start + 30, "ServiceLevelAvailabilityBurn",
               {burnLabels(noFloor.sl, "availability", "page"), burnLabels(noFloor.sl, "availability", "ticket")})};
  {
    SCOPED_TRACE("0.2 requests/s, no minRequestRate");
    expectPromtoolTestPasses(dir_, noFloor);
  }

  Scenario busier = quiet;
  busier.input = requests(traffic(5));
  busier.exprs = Json::array();
  busier.alerts = {
      alertsAt(start + 30, "ServiceLevelAvailabilityBurn",
               {burnLabels(busier.sl, "availability", "page"), burnLabels(busier.sl, "availability", "ticket")})};
  {
    SCOPED_TRACE("5 requests/s, minRequestRate 0.5");
    expectPromtoolTestPasses(dir_, busier);
  }
}

// Half the requests become slower than the threshold against 99%, after six quiet hours:
// within 20 minutes the latency SLO pages (and, with a quarter of the six hours' budget
// gone, files a ticket), whichever way the scrape spelled the threshold's le.
void latencyBurn(const TempDir& dir, milliseconds threshold, const Histogram& histogram) {
  const int start = 6 * 60;
  Profile traffic{{start, 10, 0.001}, {30, 10, 0.5}};
  Scenario s{withLatency("99", threshold)};
  s.input = histogramSeries(traffic, histogram);
  const auto page = burnLabels(s.sl, "latency", "page");
  const auto ticket = burnLabels(s.sl, "latency", "ticket");
  s.alerts = {alertsAt(start - 1, "ServiceLevelLatencyBurn", {}), alertsAt(start + 5, "ServiceLevelLatencyBurn", {}),
              alertsAt(start + 20, "ServiceLevelLatencyBurn", {page, ticket}),
              alertsAt(start + 20, "ServiceLevelLatencyBucketMissing", {})};
  expectPromtoolTestPasses(dir, s);
}

TEST_F(PromtoolTest, LatencyBurnPagesWithShortestFormLe) {
  latencyBurn(dir_, milliseconds(200), Histogram{{"0.05", "0.1", "0.2", "0.5", "1", "+Inf"}, 0.08, 0.35});
}

TEST_F(PromtoolTest, LatencyBurnPagesWithFloatFormLe) {
  // Prometheus 3 writes le="1.0"; the threshold is 1s.
  latencyBurn(dir_, milliseconds(1000), Histogram{{"0.5", "1.0", "2.5", "+Inf"}, 0.8, 1.5});
}

TEST_F(PromtoolTest, LatencyBurnPagesWithIntegralShortestFormLe) {
  // Prometheus 2 writes le="1" for the same bucket.
  latencyBurn(dir_, milliseconds(1000), Histogram{{"0.5", "1", "2.5", "+Inf"}, 0.8, 1.5});
}

// Prometheus is upgraded from 2 to 3 mid-stream: the bucket le="1" stops and le="1.0"
// carries on from the same count. Matching both forms keeps the SLI whole: nothing fires
// across the switch, and a real burn after it still pages.
TEST_F(PromtoolTest, LatencySurvivesTheLeRenameOfPrometheus3) {
  const int upgrade = 6 * 60;
  const int burn = upgrade + 120;
  Profile traffic{{burn, 10, 0.001}, {30, 10, 0.5}};
  Scenario s{withLatency("99", milliseconds(1000))};
  Json all = histogramSeries(traffic, Histogram{{"0.5", "1", "2.5", "+Inf"}, 0.8, 1.5});
  Json input = Json::array();
  for (auto& item : all) {
    const std::string name = item["series"];
    if (name.find("le=\"1\"") == std::string::npos) {
      input.push_back(item);
      continue;
    }
    // Expand the counter, then split it between the two spellings.
    std::vector<std::string> values;
    double v = 0;
    values.push_back("0");
    for (const auto& p : traffic) {
      for (int m = 0; m < p.minutes; ++m) {
        v += p.perSecond * 60 * (1 - p.bad);  // fast requests only: slow ones (1.5s) are above 1
        values.push_back(number(v));
      }
    }
    std::string before, after = "_x" + std::to_string(upgrade + 1);
    for (size_t i = 0; i < values.size(); ++i) {
      if (static_cast<int>(i) <= upgrade)
        before += values[i] + " ";
      else
        after += " " + values[i];
    }
    input.push_back(series(name, before + "stale"));
    std::string renamed = name;
    renamed.replace(renamed.find("le=\"1\""), 6, "le=\"1.0\"");
    input.push_back(series(renamed, after));
  }
  s.input = input;
  s.alerts = {alertsAt(burn + 20, "ServiceLevelLatencyBurn",
                       {burnLabels(s.sl, "latency", "page"), burnLabels(s.sl, "latency", "ticket")})};
  s.exprs = {neverFires(burn - 1, kBurnAlerts)};
  expectPromtoolTestPasses(dir_, s);
}

// A threshold of 300ms on a histogram with buckets at 0.2 and 0.5: the SLO cannot be
// measured; after 15 minutes the configuration alert says so, and no burn alert fires.
TEST_F(PromtoolTest, ThresholdThatIsNoBucketIsReported) {
  Profile traffic{{60, 10, 0.5}};
  Scenario s{withLatency("99", milliseconds(300))};
  s.input = histogramSeries(traffic, Histogram{{"0.1", "0.2", "0.5", "+Inf"}, 0.05, 0.4});
  Labels missing = cacheLabels(s.sl);
  missing["slo"] = "latency";
  s.alerts = {alertsAt(10, "ServiceLevelLatencyBucketMissing", {}),
              alertsAt(30, "ServiceLevelLatencyBucketMissing", {missing})};
  s.exprs = {neverFires(60, kBurnAlerts)};
  expectPromtoolTestPasses(dir_, s);
}

// 70% hits against an 80% target for half an hour, then 95%: the alert fires once the
// ratio has stayed low for 15 minutes and clears when it recovers.
TEST_F(PromtoolTest, CacheHitRatioBelowTargetFiresAndClears) {
  Profile lookups{{30, 100, 0.3}, {30, 100, 0.05}};
  Scenario s{withCache("80")};
  s.input = cacheSeries(lookups);
  const auto low = cacheLabels(s.sl);
  s.alerts = {alertsAt(10, "ServiceLevelCacheHitRatioLow", {}),  // pending, not yet firing
              alertsAt(25, "ServiceLevelCacheHitRatioLow", {low}), alertsAt(30, "ServiceLevelCacheHitRatioLow", {low}),
              alertsAt(45, "ServiceLevelCacheHitRatioLow", {})};
  expectPromtoolTestPasses(dir_, s);
}

TEST_F(PromtoolTest, CacheHitRatioAboveTargetFiresNothing) {
  Scenario s{withCache("80")};
  s.input = cacheSeries({{120, 100, 0.15}});
  s.alerts = {alertsAt(120, "ServiceLevelCacheHitRatioLow", {})};
  s.exprs = {neverFires(120, R"(alertname="ServiceLevelCacheHitRatioLow")")};
  expectPromtoolTestPasses(dir_, s);
}

// A cache nobody looks anything up in: its counters are exported but do not move, the 5m
// ratio is 0/0 = NaN, and NaN is never below the target.
TEST_F(PromtoolTest, CacheIdleFiresNothing) {
  Scenario s{withCache("80")};
  s.input = cacheSeries({{120, 0, 0}});
  s.alerts = {alertsAt(120, "ServiceLevelCacheHitRatioLow", {})};
  s.exprs = {neverFires(120, R"(alertname="ServiceLevelCacheHitRatioLow")")};
  expectPromtoolTestPasses(dir_, s);
}

// Half the lookups miss for half an hour, then the cache goes idle: the alert fires, and
// clears once the 5m window holds no lookup (it does not stay firing on NaN).
TEST_F(PromtoolTest, CacheThatGoesIdleClears) {
  Profile lookups{{30, 100, 0.5}, {60, 0, 0}};
  Scenario s{withCache("80")};
  s.input = cacheSeries(lookups);
  const auto low = cacheLabels(s.sl);
  s.alerts = {alertsAt(25, "ServiceLevelCacheHitRatioLow", {low}), alertsAt(40, "ServiceLevelCacheHitRatioLow", {}),
              alertsAt(90, "ServiceLevelCacheHitRatioLow", {})};
  expectPromtoolTestPasses(dir_, s);
}

// The rule file as Governor writes it, annotations and all: the templates expand to the
// burn rate over the long window and the budget left over the SLO window. (The ticket
// tier is off: after only six hours it would fire as well, with text of its own.)
TEST_F(PromtoolTest, AnnotationsExpand) {
  const int start = 6 * 60;
  const int at = start + 10;
  Profile traffic{{start, 10, 0}, {10, 10, 0.2}};
  Scenario s{withAvailability("99.9")};
  s.sl.alerting.ticket.enabled = false;
  s.annotations = true;
  s.input = requests(traffic);

  // What the samples imply: 1200 failed requests in the last hour of 36000 (burn rate
  // 0.0333 / 0.001), and of all 222000 requests so far (the 30d range holds them all): the
  // month's budget is overspent more than five times.
  const double failed = 10 * 60 * 0.2 * 10, lastHour = 10 * 60 * 60.0, total = 10 * 60.0 * at;
  char burn[32], left[32];
  std::snprintf(burn, sizeof burn, "%.1f", failed / lastHour / 0.001);
  std::snprintf(left, sizeof left, "%.1f", 100 * (1 - failed / total / 0.001));
  ASSERT_STREQ(burn, "33.3");
  ASSERT_STREQ(left, "-440.5");

  Json annotations = {
      {"summary", "shop/checkout is burning its availability error budget " + std::string(burn) + "x too fast"},
      {"description",
       "The availability SLO of shop/checkout (99.9% of requests succeed over 30d, an error budget of 0.1%) is "
       "spending its budget " +
           std::string(burn) +
           " times as fast as the window allows. The page tier fires above 14.4x over 1h and 5m (2% of the budget in "
           "1h), or 6x over 6h and 30m (5% of the budget in 6h). Error budget left over 30d is " +
           left + "%."},
      {"runbook_url", "https://runbooks.example/checkout"}};
  s.alerts = {alertsAt(at, "ServiceLevelAvailabilityBurn", {burnLabels(s.sl, "availability", "page")}, {annotations})};
  expectPromtoolTestPasses(dir_, s);
}

}  // namespace
}  // namespace governor::op
