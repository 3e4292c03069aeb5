// The content of the rules Governor generates (operator/render/rules.cc): names, labels,
// thresholds, the le matcher, the tiers and the two shapes of the output. Whether the
// rules work is proven by a real promtool in tests/integration/promtool_test.cc.
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/yaml.h"
#include "operator/promql_check.h"
#include "operator/render/render.h"
#include "sample.h"

namespace governor::op {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using testing::HasSubstr;
using testing::Not;

Percent percent(const std::string& text) { return api::parsePercent(text).value(); }

const std::string kAvailability = R"(
    availability:
      target: "99.9"
      errorQuery: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
      totalQuery: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
)";

ServiceLevel availabilityOnly() { return parsed("  workload: {name: checkout}\n  objectives:" + kAvailability); }

ServiceLevel full() {
  return parsed("  workload: {name: checkout}\n  objectives:" + kAvailability + R"(
    latency:
      threshold: 200ms
      target: "95"
      histogram: http_request_duration_seconds_bucket{job="checkout"}
  cache:
    hitRatioTarget: "80"
  alerting:
    labels: {team: payments}
    runbookURL: https://runbooks.example/checkout
)");
}

std::vector<Json> allRules(const Json& groups) {
  std::vector<Json> out;
  for (const auto& g : groups["groups"]) {
    for (const auto& r : g["rules"]) out.push_back(r);
  }
  return out;
}

const Json* findGroup(const Json& groups, const std::string& name) {
  for (const auto& g : groups["groups"]) {
    if (g["name"] == name) return &g;
  }
  return nullptr;
}

std::vector<Json> alerts(const Json& groups, const std::string& name) {
  std::vector<Json> out;
  for (const auto& r : allRules(groups)) {
    if (r.value("alert", "") == name) out.push_back(r);
  }
  return out;
}

Json alertOf(const Json& groups, const std::string& name, const std::string& tier) {
  for (const auto& r : alerts(groups, name)) {
    if (r["labels"].value("tier", "") == tier) return r;
  }
  return nullptr;
}

std::vector<Json> records(const Json& groups, const std::string& name, const std::string& slo) {
  std::vector<Json> out;
  for (const auto& r : allRules(groups)) {
    if (r.value("record", "") == name && r["labels"].value("slo", "") == slo) out.push_back(r);
  }
  return out;
}

std::string latencyExpr(milliseconds threshold) {
  ServiceLevel sl = full();
  sl.objectives->latency->threshold = threshold;
  auto r = records(ruleGroups(sl), "governor:slo_errors:ratio_rate5m", "latency");
  return r.size() == 1 ? r[0]["expr"].get<std::string>() : "";
}

TEST(RulesTest, NothingWithoutObjectivesOrHitRatioTarget) {
  ServiceLevel sl = availabilityOnly();
  sl.objectives.reset();
  EXPECT_TRUE(ruleGroups(sl).is_null());
  EXPECT_TRUE(renderRules(sl, {}).empty());
  EXPECT_TRUE(renderRules(sl, {.prometheusRuleCrd = false}).empty());

  sl.cache = Cache{};  // a cache without hitRatioTarget has no rules either
  EXPECT_TRUE(ruleGroups(sl).is_null());
  EXPECT_TRUE(renderRules(sl, {}).empty());
}

TEST(RulesTest, GroupNames) {
  Json groups = ruleGroups(full());
  std::vector<std::string> names;
  for (const auto& g : groups["groups"]) names.push_back(g["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"governor-checkout-sli", "governor-checkout-budget",
                                             "governor-checkout-alerts", "governor-checkout-cache"}));
  EXPECT_EQ((*findGroup(groups, "governor-checkout-budget"))["interval"], "2m30s");
  EXPECT_FALSE(findGroup(groups, "governor-checkout-sli")->contains("interval"));
}

TEST(RulesTest, CacheOnlyHasOnlyTheCacheGroup) {
  ServiceLevel sl = full();
  sl.objectives.reset();
  Json groups = ruleGroups(sl);
  ASSERT_EQ(groups["groups"].size(), 1u);
  EXPECT_EQ(groups["groups"][0]["name"], "governor-checkout-cache");
}

TEST(RulesTest, RecordsEverySliOverEveryWindow) {
  Json groups = ruleGroups(full());
  for (std::string slo : {"availability", "latency"}) {
    for (std::string w : {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}) {
      auto errors = records(groups, "governor:slo_errors:ratio_rate" + w, slo);
      ASSERT_EQ(errors.size(), 1u) << slo << " " << w;
      EXPECT_EQ(errors[0]["labels"], Json({{"namespace", "shop"}, {"service_level", "checkout"}, {"slo", slo}}));
      EXPECT_THAT(errors[0]["expr"].get<std::string>(), HasSubstr("[" + w + "]"));
      if (w != "30d") {
        EXPECT_EQ(records(groups, "governor:slo_requests:rate" + w, slo).size(), 1u) << w;
      }
    }
    auto remaining = records(groups, "governor:slo_error_budget_remaining:ratio", slo);
    ASSERT_EQ(remaining.size(), 1u);
  }
  // The SLO window is recorded in the budget group, the alert windows in the SLI group.
  for (const auto& r : (*findGroup(groups, "governor-checkout-budget"))["rules"]) {
    EXPECT_THAT(r["record"].get<std::string>(),
                testing::AnyOf("governor:slo_errors:ratio_rate30d", "governor:slo_error_budget_remaining:ratio"));
  }
}

TEST(RulesTest, AvailabilityQueriesGetTheRange) {
  Json groups = ruleGroups(full());
  auto r = records(groups, "governor:slo_errors:ratio_rate1h", "availability");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["expr"],
            "(sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[1h])) or vector(0))\n/\n"
            "sum(rate(http_requests_total{job=\"checkout\"}[1h]))");
  EXPECT_EQ(records(groups, "governor:slo_requests:rate6h", "availability")[0]["expr"],
            "sum(rate(http_requests_total{job=\"checkout\"}[6h]))");
  for (const auto& rule : allRules(groups)) {
    EXPECT_THAT(rule["expr"].get<std::string>(), Not(HasSubstr("{{.window}}")));
  }
}

TEST(RulesTest, PlaceholderWithSpacesIsReplacedToo) {
  ServiceLevel sl = availabilityOnly();
  sl.objectives->availability->totalQuery = "sum(rate(x[{{ .window }}])) + sum(rate(y[{{.window}}]))";
  auto r = records(ruleGroups(sl), "governor:slo_requests:rate2h", "availability");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["expr"], "sum(sum(rate(x[2h])) + sum(rate(y[2h])))");
}

TEST(RulesTest, QueriesAreSummedUnlessAlreadyOneSum) {
  struct Case {
    std::string query;
    std::string requests;  // governor:slo_requests:rate5m
  };
  const Case cases[] = {
      {"sum(rate(x[{{.window}}]))", "sum(rate(x[5m]))"},
      {" sum (rate(x{path=\"/a)\"}[{{.window}}]))\n", " sum (rate(x{path=\"/a)\"}[5m]))\n"},
      {"sum by (job) (rate(x[{{.window}}]))", "sum(sum by (job) (rate(x[5m])))"},
      {"sum(rate(x[{{.window}}])) by (job)", "sum(sum(rate(x[5m])) by (job))"},
      {"sum(rate(x[{{.window}}])) + sum(rate(y[{{.window}}]))", "sum(sum(rate(x[5m])) + sum(rate(y[5m])))"},
      {"rate(x[{{.window}}])", "sum(rate(x[5m]))"},
      {"summary_total", "sum(summary_total)"},
  };
  for (const auto& c : cases) {
    ServiceLevel sl = availabilityOnly();
    sl.objectives->availability->totalQuery = c.query;
    auto r = records(ruleGroups(sl), "governor:slo_requests:rate5m", "availability");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0]["expr"], c.requests) << c.query;
  }
}

TEST(RulesTest, QueryEndingInACommentKeepsItsParenthesis) {
  ServiceLevel sl = availabilityOnly();
  sl.objectives->availability->totalQuery = "sum(rate(x[{{.window}}]))  # all requests";
  auto r = records(ruleGroups(sl), "governor:slo_requests:rate5m", "availability");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["expr"], "sum(\nsum(rate(x[5m]))  # all requests\n)");
}

TEST(RulesTest, LatencyUsesTheThresholdBucketOverTheCount) {
  Json groups = ruleGroups(full());
  auto r = records(groups, "governor:slo_errors:ratio_rate5m", "latency");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["expr"],
            "1 - (\n"
            "  sum(rate(http_request_duration_seconds_bucket{job=\"checkout\",le=\"0.2\"}[5m]))\n"
            "  /\n"
            "  sum(rate(http_request_duration_seconds_count{job=\"checkout\"}[5m]))\n"
            ")");
  EXPECT_EQ(records(groups, "governor:slo_requests:rate5m", "latency")[0]["expr"],
            "sum(rate(http_request_duration_seconds_count{job=\"checkout\"}[5m]))");
}

TEST(RulesTest, LatencyHistogramWithoutSelector) {
  ServiceLevel sl = full();
  sl.objectives->latency->histogram = "rpc_seconds_bucket";
  auto r = records(ruleGroups(sl), "governor:slo_requests:rate1d", "latency");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["expr"], "sum(rate(rpc_seconds_count[1d]))");
  EXPECT_THAT(records(ruleGroups(sl), "governor:slo_errors:ratio_rate1d", "latency")[0]["expr"].get<std::string>(),
              HasSubstr("rpc_seconds_bucket{le=\"0.2\"}[1d]"));
}

TEST(RulesTest, LeMatchesTheShortestAndTheFloatForm) {
  struct Case {
    int64_t millis;
    std::string matcher;
  };
  const Case cases[] = {
      {200, R"(le="0.2")"},
      {250, R"(le="0.25")"},
      {5, R"(le="0.005")"},
      {1500, R"(le="1.5")"},
      {1000, R"(le=~"1|1\\.0")"},
      {10000, R"(le=~"10|10\\.0")"},
      {60000, R"(le=~"60|60\\.0")"},
      {120000, R"(le=~"120|120\\.0")"},
      {1000000000, R"(le="1e+06")"},  // Go's 'g' form from 1e6 s on; no ".0" is added to it
      {1500000000, R"(le="1.5e+06")"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(latencyExpr(milliseconds(c.millis)), HasSubstr(c.matcher)) << c.millis << "ms";
  }
}

TEST(RulesTest, BurnAlertsForThirtyDays) {
  Json groups = ruleGroups(full());
  Json page = alertOf(groups, "ServiceLevelAvailabilityBurn", "page");
  ASSERT_FALSE(page.is_null());
  const std::string sel = R"({namespace="shop",service_level="checkout",slo="availability"})";
  EXPECT_EQ(page["expr"],
            "(\n"
            "  governor:slo_errors:ratio_rate1h" +
                sel +
                " / 0.001 > 14.4\n"
                "  and\n"
                "  governor:slo_errors:ratio_rate5m" +
                sel +
                " / 0.001 > 14.4\n"
                ")\n"
                "or\n"
                "(\n"
                "  governor:slo_errors:ratio_rate6h" +
                sel +
                " / 0.001 > 6\n"
                "  and\n"
                "  governor:slo_errors:ratio_rate30m" +
                sel +
                " / 0.001 > 6\n"
                ")");
  EXPECT_FALSE(page.contains("for"));
  Json ticket = alertOf(groups, "ServiceLevelAvailabilityBurn", "ticket");
  ASSERT_FALSE(ticket.is_null());
  const std::string texpr = ticket["expr"];
  EXPECT_THAT(texpr, HasSubstr("governor:slo_errors:ratio_rate1d" + sel + " / 0.001 > 3\n"));
  EXPECT_THAT(texpr, HasSubstr("governor:slo_errors:ratio_rate2h" + sel + " / 0.001 > 3\n"));
  EXPECT_THAT(texpr, HasSubstr("governor:slo_errors:ratio_rate3d" + sel + " / 0.001 > 1\n"));
  EXPECT_THAT(texpr, HasSubstr("governor:slo_errors:ratio_rate6h" + sel + " / 0.001 > 1\n"));

  // The latency SLO (95%) has a budget of 0.05.
  Json latencyPage = alertOf(groups, "ServiceLevelLatencyBurn", "page");
  ASSERT_FALSE(latencyPage.is_null());
  EXPECT_THAT(
      latencyPage["expr"].get<std::string>(),
      HasSubstr(
          R"(governor:slo_errors:ratio_rate1h{namespace="shop",service_level="checkout",slo="latency"} / 0.05 > 14.4)"));
}

// The scale-down guard asks Prometheus exactly what the page alerts fire on.
TEST(RulesTest, PageBurnConditionsAreThePageAlertsExpressions) {
  ServiceLevel sl = full();
  sl.alerting.minRequestRate = "0.5";
  Json groups = ruleGroups(sl);
  const std::string availability = alertOf(groups, "ServiceLevelAvailabilityBurn", "page")["expr"];
  const std::string latency = alertOf(groups, "ServiceLevelLatencyBurn", "page")["expr"];
  BurnConditions page = burnConditions(sl, "page");
  EXPECT_EQ(page.expr, availability + "\nor\n" + latency);
  EXPECT_EQ(
      page.words,
      "availability: 14.4x over 1h and 5m (2% of the budget in 1h), or 6x over 6h and 30m (5% of the budget in "
      "6h); latency: 14.4x over 1h and 5m (2% of the budget in 1h), or 6x over 6h and 30m (5% of the budget in 6h)");
  // The same condition with the page alerts turned off: the guard follows the SLO, not the pager.
  sl.alerting.page.enabled = false;
  EXPECT_EQ(burnConditions(sl, "page").expr, page.expr);
  sl.objectives.reset();
  EXPECT_EQ(burnConditions(sl, "page").expr, "");
}

TEST(RulesTest, OtherWindowsKeepTheBudgetFractions) {
  ServiceLevel sl = availabilityOnly();
  sl.objectives->window = hours(24 * 28);
  Json groups = ruleGroups(sl);
  const std::string page = alertOf(groups, "ServiceLevelAvailabilityBurn", "page")["expr"];
  const std::string ticket = alertOf(groups, "ServiceLevelAvailabilityBurn", "ticket")["expr"];
  EXPECT_THAT(
      page,
      HasSubstr("ratio_rate1h{namespace=\"shop\",service_level=\"checkout\",slo=\"availability\"} / 0.001 > 13.44\n"));
  EXPECT_THAT(page, HasSubstr("> 5.6\n"));
  EXPECT_THAT(ticket, HasSubstr("> 2.8\n"));
  EXPECT_THAT(ticket, HasSubstr("> 0.933333\n"));
  EXPECT_EQ(records(groups, "governor:slo_errors:ratio_rate4w", "availability").size(), 1u);
  EXPECT_THAT(
      records(groups, "governor:slo_error_budget_remaining:ratio", "availability")[0]["expr"].get<std::string>(),
      HasSubstr("governor:slo_errors:ratio_rate4w{"));
}

TEST(RulesTest, AWindowShorterThanALongWindowDropsThatCondition) {
  ServiceLevel sl = availabilityOnly();
  sl.objectives->window = hours(24);
  Json groups = ruleGroups(sl);
  const std::string ticket = alertOf(groups, "ServiceLevelAvailabilityBurn", "ticket")["expr"];
  EXPECT_THAT(ticket, HasSubstr("ratio_rate1d"));
  EXPECT_THAT(ticket, Not(HasSubstr("ratio_rate3d")));
  EXPECT_THAT(ticket, Not(HasSubstr("\nor\n")));
  // 1d is an alert window already: recorded once, in the SLI group.
  EXPECT_EQ(records(groups, "governor:slo_errors:ratio_rate1d", "availability").size(), 1u);
  std::set<std::string> seen;
  for (const auto& r : allRules(groups)) {
    if (!r.contains("record")) continue;
    EXPECT_TRUE(seen.insert(r["record"].get<std::string>() + r["labels"].dump()).second) << r.dump();
  }
}

TEST(RulesTest, BudgetFromTheTargetText) {
  struct Case {
    std::string target;
    std::string budget;
  };
  for (const auto& c : std::vector<Case>{{"99.9", "0.001"},
                                         {"99.95", "0.0005"},
                                         {"99.999", "0.00001"},
                                         {"95", "0.05"},
                                         {"99.000001", "0.00999999"},
                                         {"50", "0.5"}}) {
    ServiceLevel sl = availabilityOnly();
    sl.objectives->availability->target = percent(c.target);
    auto r = records(ruleGroups(sl), "governor:slo_error_budget_remaining:ratio", "availability");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0]["expr"],
              "1 - governor:slo_errors:ratio_rate30d{namespace=\"shop\",service_level=\"checkout\","
              "slo=\"availability\"} / " +
                  c.budget)
        << c.target;
  }
  // A Percent built in code, in millionths of a percent.
  ServiceLevel sl = availabilityOnly();
  sl.objectives->availability->target = Percent{99500000};
  EXPECT_THAT(records(ruleGroups(sl), "governor:slo_error_budget_remaining:ratio", "availability")[0]["expr"]
                  .get<std::string>(),
              HasSubstr(" / 0.005"));
}

TEST(RulesTest, AlertLabels) {
  ServiceLevel sl = full();
  sl.alerting.labels["severity"] = "ignored";  // ours win
  sl.alerting.labels["tier"] = "ignored";
  sl.alerting.page.severity = "P1";
  sl.alerting.ticket.severity = "P3";
  Json groups = ruleGroups(sl);
  EXPECT_EQ(alertOf(groups, "ServiceLevelAvailabilityBurn", "page")["labels"], Json({{"namespace", "shop"},
                                                                                     {"service_level", "checkout"},
                                                                                     {"slo", "availability"},
                                                                                     {"severity", "P1"},
                                                                                     {"tier", "page"},
                                                                                     {"team", "payments"}}));
  EXPECT_EQ(alertOf(groups, "ServiceLevelLatencyBurn", "ticket")["labels"], Json({{"namespace", "shop"},
                                                                                  {"service_level", "checkout"},
                                                                                  {"slo", "latency"},
                                                                                  {"severity", "P3"},
                                                                                  {"tier", "ticket"},
                                                                                  {"team", "payments"}}));
  auto cache = alerts(groups, "ServiceLevelCacheHitRatioLow");
  ASSERT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache[0]["labels"], Json({{"namespace", "shop"},
                                      {"service_level", "checkout"},
                                      {"severity", "P3"},
                                      {"team", "payments"},
                                      {"tier", "ignored"}}));
}

TEST(RulesTest, EveryBurnAlertHasATier) {
  Json groups = ruleGroups(full());
  int burns = 0;
  for (const auto& r : allRules(groups)) {
    std::string name = r.value("alert", "");
    if (name != "ServiceLevelAvailabilityBurn" && name != "ServiceLevelLatencyBurn") continue;
    ++burns;
    EXPECT_THAT(r["labels"]["tier"].get<std::string>(), testing::AnyOf("page", "ticket"));
    EXPECT_EQ(r["labels"]["severity"], r["labels"]["tier"] == "page" ? "critical" : "warning");
  }
  EXPECT_EQ(burns, 4);
}

TEST(RulesTest, DisabledTierHasNoAlert) {
  ServiceLevel sl = full();
  sl.alerting.page.enabled = false;
  Json groups = ruleGroups(sl);
  EXPECT_TRUE(alertOf(groups, "ServiceLevelAvailabilityBurn", "page").is_null());
  EXPECT_TRUE(alertOf(groups, "ServiceLevelLatencyBurn", "page").is_null());
  EXPECT_FALSE(alertOf(groups, "ServiceLevelAvailabilityBurn", "ticket").is_null());

  sl.alerting.ticket.enabled = false;
  groups = ruleGroups(sl);
  EXPECT_TRUE(alerts(groups, "ServiceLevelAvailabilityBurn").empty());
  EXPECT_TRUE(alerts(groups, "ServiceLevelLatencyBurn").empty());
  // The configuration alert stays: without it a wrong threshold would go unnoticed.
  EXPECT_EQ(alerts(groups, "ServiceLevelLatencyBucketMissing").size(), 1u);

  sl.objectives->latency.reset();
  groups = ruleGroups(sl);
  EXPECT_EQ(findGroup(groups, "governor-checkout-alerts"), nullptr);  // no empty group
  EXPECT_NE(findGroup(groups, "governor-checkout-sli"), nullptr);
}

TEST(RulesTest, MinRequestRateGuardsEveryCondition) {
  ServiceLevel sl = full();
  sl.alerting.minRequestRate = "0.5";
  Json groups = ruleGroups(sl);
  const std::string sel = R"({namespace="shop",service_level="checkout",slo="availability"})";
  const std::string page = alertOf(groups, "ServiceLevelAvailabilityBurn", "page")["expr"];
  EXPECT_THAT(page, HasSubstr("  and\n  governor:slo_requests:rate1h" + sel + " >= 0.5\n)"));
  EXPECT_THAT(page, HasSubstr("  and\n  governor:slo_requests:rate6h" + sel + " >= 0.5\n)"));
  const std::string ticket = alertOf(groups, "ServiceLevelAvailabilityBurn", "ticket")["expr"];
  EXPECT_THAT(ticket, HasSubstr("governor:slo_requests:rate1d" + sel + " >= 0.5"));
  EXPECT_THAT(ticket, HasSubstr("governor:slo_requests:rate3d" + sel + " >= 0.5"));
  EXPECT_THAT(
      alertOf(groups, "ServiceLevelLatencyBurn", "page")["expr"].get<std::string>(),
      HasSubstr(R"(governor:slo_requests:rate1h{namespace="shop",service_level="checkout",slo="latency"} >= 0.5)"));

  for (std::string none : {"", "0", "0.0"}) {
    sl.alerting.minRequestRate = none;
    EXPECT_THAT(alertOf(ruleGroups(sl), "ServiceLevelAvailabilityBurn", "page")["expr"].get<std::string>(),
                Not(HasSubstr("governor:slo_requests")))
        << none;
  }
}

TEST(RulesTest, Annotations) {
  ServiceLevel sl = full();
  Json groups = ruleGroups(sl);
  Json page = alertOf(groups, "ServiceLevelAvailabilityBurn", "page");
  EXPECT_EQ(page["annotations"]["runbook_url"], "https://runbooks.example/checkout");
  const std::string summary = page["annotations"]["summary"];
  EXPECT_THAT(summary, HasSubstr("shop/checkout"));
  EXPECT_THAT(summary, HasSubstr("$value"));
  const std::string description = page["annotations"]["description"];
  EXPECT_THAT(description, HasSubstr("99.9% of requests succeed over 30d"));
  EXPECT_THAT(description, HasSubstr("14.4x over 1h and 5m (2% of the budget in 1h)"));
  EXPECT_THAT(description, HasSubstr("6x over 6h and 30m (5% of the budget in 6h)"));
  EXPECT_THAT(description, HasSubstr("governor:slo_error_budget_remaining:ratio"));
  EXPECT_THAT(alertOf(groups, "ServiceLevelLatencyBurn", "ticket")["annotations"]["description"].get<std::string>(),
              HasSubstr("95% of requests served within 200ms over 30d"));

  sl.alerting.runbookURL.clear();
  for (const auto& r : allRules(ruleGroups(sl))) {
    if (r.contains("alert")) {
      EXPECT_FALSE(r["annotations"].contains("runbook_url")) << r["alert"];
    }
  }
}

TEST(RulesTest, BucketMissingAlert) {
  auto missing = alerts(ruleGroups(full()), "ServiceLevelLatencyBucketMissing");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0]["expr"],
            "count(http_request_duration_seconds_bucket{job=\"checkout\"})\nunless\n"
            "count(http_request_duration_seconds_bucket{job=\"checkout\",le=\"0.2\"})");
  EXPECT_EQ(missing[0]["for"], "15m");
  EXPECT_EQ(missing[0]["labels"]["severity"], "warning");
  EXPECT_FALSE(missing[0]["labels"].contains("tier"));
  EXPECT_TRUE(alerts(ruleGroups(availabilityOnly()), "ServiceLevelLatencyBucketMissing").empty());
}

TEST(RulesTest, CacheHitRatio) {
  Json groups = ruleGroups(full());
  const Json* group = findGroup(groups, "governor-checkout-cache");
  ASSERT_NE(group, nullptr);
  ASSERT_EQ((*group)["rules"].size(), 2u);
  const Json& rec = (*group)["rules"][0];
  EXPECT_EQ(rec["record"], "governor:cache_hits:ratio_rate5m");
  // The counters the metrics adapter exports from the cache's INFO stats, by ServiceLevel.
  const std::string scope = R"({namespace="shop",servicelevel="checkout"})";
  EXPECT_EQ(rec["expr"], "sum(rate(governor_cache_keyspace_hits_total" + scope +
                             "[5m]))\n/\n(sum(rate(governor_cache_keyspace_hits_total" + scope +
                             "[5m])) + sum(rate(governor_cache_keyspace_misses_total" + scope + "[5m])))");
  EXPECT_EQ(rec["labels"], Json({{"namespace", "shop"}, {"service_level", "checkout"}}));
  const Json& alert = (*group)["rules"][1];
  EXPECT_EQ(alert["alert"], "ServiceLevelCacheHitRatioLow");
  EXPECT_EQ(alert["expr"], R"(governor:cache_hits:ratio_rate5m{namespace="shop",service_level="checkout"} < 0.8)");
  EXPECT_EQ(alert["for"], "15m");
  EXPECT_THAT(alert["annotations"]["description"].get<std::string>(), HasSubstr("governor_cache_keyspace_hits_total"));
  EXPECT_THAT(alert["annotations"]["description"].get<std::string>(), ::testing::Not(HasSubstr("redis_exporter")));

  ServiceLevel sl = full();
  sl.cache->hitRatioTarget = percent("92.5");
  EXPECT_THAT(alerts(ruleGroups(sl), "ServiceLevelCacheHitRatioLow")[0]["expr"].get<std::string>(),
              HasSubstr("< 0.925"));
}

TEST(RulesTest, PrometheusRule) {
  ServiceLevel sl = full();
  auto children = renderRules(sl, {.prometheusRuleCrd = true});
  ASSERT_EQ(children.size(), 1u);
  const Child& c = children[0];
  EXPECT_EQ(c.group, ChildGroup::Rules);
  EXPECT_EQ(c.resource.group, resources::kPrometheusRule.group);
  EXPECT_EQ(c.resource.plural, resources::kPrometheusRule.plural);
  EXPECT_EQ(c.object["apiVersion"], "monitoring.coreos.com/v1");
  EXPECT_EQ(c.object["kind"], "PrometheusRule");
  EXPECT_EQ(c.object["metadata"], childMetadata(sl, "checkout"));
  EXPECT_EQ(c.object["spec"]["groups"], ruleGroups(sl)["groups"]);
}

TEST(RulesTest, ConfigMapHoldsReadableYamlThatReadsBack) {
  ServiceLevel sl = full();
  sl.alerting.minRequestRate = "0.5";
  // Values YAML would misread if written plain.
  sl.alerting.labels = {{"team", "payments"},    {"odd", "a: b #c"},      {"num", "1.0"},  {"yes", "no"},
                        {"quote", "it's \"x\""}, {"multi", "two\nlines"}, {"tab", "a\tb"}, {"hex", "0x1f"},
                        {"under", "1_000"},      {"date", "2024-01-01"},  {"tilde", "~"},  {"dash", "-x"},
                        {"exp", "1e5"},          {"dur", "15m"},          {"empty", ""},   {"utf8", "caf\u00e9"}};
  auto children = renderRules(sl, {.prometheusRuleCrd = false});
  ASSERT_EQ(children.size(), 1u);
  const Child& c = children[0];
  EXPECT_EQ(c.group, ChildGroup::Rules);
  EXPECT_EQ(c.resource.plural, "configmaps");
  EXPECT_EQ(c.object["kind"], "ConfigMap");
  EXPECT_EQ(c.object["metadata"], childMetadata(sl, "checkout-rules"));
  ASSERT_TRUE(c.object["data"].contains("checkout.rules.yaml"));
  const std::string text = c.object["data"]["checkout.rules.yaml"];

  auto docs = kube::parseYamlDocuments(text);
  ASSERT_TRUE(docs.ok()) << docs.error().what() << "\n" << text;
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ((*docs)[0], ruleGroups(sl)) << text;

  // Readable: names first, PromQL unquoted, multi-line expressions as literal blocks.
  EXPECT_THAT(
      text, HasSubstr("groups:\n  - name: governor-checkout-sli\n    rules:\n"
                      "      - record: governor:slo_errors:ratio_rate5m\n        expr: |-\n"
                      "          (sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[5m])) or vector(0))\n"));
  EXPECT_THAT(text, HasSubstr("      - alert: ServiceLevelAvailabilityBurn\n        expr: |-\n          (\n"));
  EXPECT_THAT(
      text,
      HasSubstr("        expr: governor:cache_hits:ratio_rate5m{namespace=\"shop\",service_level=\"checkout\"} < 0.8\n"
                "        for: 15m\n"));
  EXPECT_THAT(text, HasSubstr("    interval: 2m30s\n"));
  EXPECT_THAT(text, HasSubstr("          num: '1.0'\n"));
  EXPECT_THAT(text, HasSubstr("          dur: 15m\n"));
}

TEST(RulesTest, Deterministic) {
  EXPECT_EQ(renderRules(full(), {.prometheusRuleCrd = false})[0].object,
            renderRules(full(), {.prometheusRuleCrd = false})[0].object);
}

// Issue 16 part 4, --rules-namespace-matcher: the user's queries and histogram in the rules
// read only the ServiceLevel's namespace, whatever namespace they name.
TEST(Rules, WithNamespaceMatchersEverySelectorOfTheUsersQueriesReadsItsNamespace) {
  ServiceLevel sl = full();
  sl.objectives->availability->errorQuery =
      R"(sum(rate(http_requests_total{namespace="other",code=~"5.."}[{{.window}}])))";
  sl.objectives->latency->histogram = R"(http_request_duration_seconds_bucket{namespace="other",job="checkout"})";
  const std::string groups = ruleGroups(withNamespaceMatchers(sl)).dump();
  EXPECT_THAT(groups, Not(HasSubstr(R"(namespace=\"other\")")));
  EXPECT_THAT(groups, HasSubstr(R"(http_requests_total{namespace=\"shop\",code=~\"5..\"}[5m])"));
  EXPECT_THAT(groups, HasSubstr(R"(http_requests_total{namespace=\"shop\",job=\"checkout\"}[5m])"));
  EXPECT_THAT(groups, HasSubstr(R"(http_request_duration_seconds_count{namespace=\"shop\",job=\"checkout\"}[5m])"));
  EXPECT_TRUE(queryProblems(withNamespaceMatchers(sl)).empty());
  // Off (the default), the queries are the user's.
  EXPECT_THAT(ruleGroups(sl).dump(), HasSubstr(R"(http_requests_total{namespace=\"other\")"));
}

}  // namespace
}  // namespace governor::op
