// The Prometheus rules of spec.objectives and spec.cache.hitRatioTarget: SLI recording
// rules, the error budget left, multi-window multi-burn-rate alerts (page and ticket
// tiers) and the cache hit-ratio alert. docs/alerts.md explains every rule for the people
// who receive the alerts; keep the two in step.
//
// Everything here is text generation with no I/O. Numbers that reach PromQL are written
// from the user's decimal strings where possible ("99.9" -> budget 0.001, exactly), so the
// rules read the way a human would write them.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "api/metrics.h"
#include "api/series_selector.h"
#include "kube/duration.h"
#include "kube/yaml.h"
#include "operator/render/render.h"
#include "operator/render/slo.h"

namespace governor::op {
namespace {

// The ranges each SLI is recorded over: the short and long windows of the alerts below.
const std::vector<milliseconds>& alertWindows() {
  static const std::vector<milliseconds> windows{5 * kMinute, 30 * kMinute, kHour,   2 * kHour,
                                                 6 * kHour,   kDay,         3 * kDay};
  return windows;
}

// One condition of a tier: the error ratio over both windows above burnRate, where
// burnRate = budgetPercent% x SLO window / long window (14.4 for 2% of 30d in 1h).
struct BurnWindow {
  int budgetPercent;
  milliseconds longWindow;
  milliseconds shortWindow;
};

struct TierSpec {
  const char* name;  // the tier label: page | ticket
  std::vector<BurnWindow> windows;
};

const std::vector<TierSpec>& tierSpecs() {
  static const std::vector<TierSpec> tiers{
      {"page", {{2, kHour, 5 * kMinute}, {5, 6 * kHour, 30 * kMinute}}},
      {"ticket", {{10, kDay, 2 * kHour}, {10, 3 * kDay, 6 * kHour}}},
  };
  return tiers;
}

constexpr const char* kBudgetGroupInterval = "2m30s";
constexpr const char* kCacheAlertFor = "15m";
constexpr const char* kBucketMissingFor = "15m";
constexpr const char* kDefaultPageSeverity = "critical";
constexpr const char* kDefaultTicketSeverity = "warning";

// ---- numbers -------------------------------------------------------------------------

// "99.9" -> "0.1%"; the error budget as people say it.
std::string budgetPercentOf(const Percent& p) { return decimal(100000000 - p.micro, 6) + "%"; }

// A burn rate with up to six significant digits: 14.4, 6, 13.44, 0.933333.
std::string formatRate(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", rate);
  return buf;
}

double burnRate(const BurnWindow& w, milliseconds sloWindow) {
  return static_cast<double>(w.budgetPercent) * static_cast<double>(sloWindow.count()) /
         (100.0 * static_cast<double>(w.longWindow.count()));
}

// ---- PromQL text ---------------------------------------------------------------------

std::string range(milliseconds d) { return kube::formatDuration(d); }

// Replaces every "{{.window}}" (spaces inside the braces allowed) by the range.
std::string withWindow(const std::string& query, milliseconds window) {
  static const std::regex placeholder(R"(\{\{\s*\.window\s*\}\})");
  return std::regex_replace(query, placeholder, range(window));
}

// Whether the query is one "sum(...)" without by/without: a single series without labels
// already, so that sum(QUERY) would only add noise. Parentheses inside strings do not count.
bool isPlainSum(const std::string& query) {
  static const std::regex head(R"(^\s*sum\s*\()");
  std::smatch m;
  if (!std::regex_search(query, m, head)) return false;
  int depth = 1;
  char quote = 0;
  for (size_t i = static_cast<size_t>(m.length(0)); i < query.size(); ++i) {
    char c = query[i];
    if (quote) {
      if (c == '\\' && quote != '`')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '"' || c == '\'' || c == '`') {
      quote = c;
    } else if (c == '#') {
      return false;  // a comment: leave it to sum() below
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return query.find_first_not_of(" \t\n", i + 1) == std::string::npos;
    }
  }
  return false;
}

// sum(QUERY) of a user's query, so that the ratio is one series whatever the query keeps
// by. A query may end in a PromQL comment ("# 5xx only"), which would swallow the closing
// parenthesis: then the parenthesis goes on a line of its own.
std::string sum(const std::string& query) {
  if (isPlainSum(query)) return query;
  if (query.find('#') == std::string::npos) return "sum(" + query + ")";
  return "sum(\n" + query + "\n)";
}

Json labelsJson(const Labels& labels) {
  Json out = Json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

// ---- the le label --------------------------------------------------------------------

// Go's strconv.FormatFloat(v, 'g', -1, 64) for v = millis / 1000 (what Prometheus 2 client
// libraries write into le), computed from the integer so that nothing is lost: "0.2", "1",
// "2.5", and from 1e6 s on the exponent form "1e+06", "1.5e+06".
std::string shortestSeconds(int64_t millis) {
  std::string plain = decimal(millis, 3);
  if (millis < 1000000000) return plain;  // below 1e6 s Go uses the plain form
  std::string digits;
  for (char c : plain) {
    if (c != '.') digits += c;
  }
  size_t integerDigits = plain.find('.') == std::string::npos ? plain.size() : plain.find('.');
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out(1, digits[0]);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exponent[8];
  std::snprintf(exponent, sizeof exponent, "e+%02zu", integerDigits - 1);
  return out + exponent;
}

// The le values a threshold's bucket may carry. Prometheus 2 (and the Go client's text
// format) writes the shortest form, "1"; Prometheus 3 normalises classic-histogram le
// values to float form, "1.0". An integral threshold has both; any other has one spelling.
std::vector<std::string> leForms(milliseconds threshold) {
  std::string shortest = shortestSeconds(threshold.count());
  if (shortest.find_first_of(".e") != std::string::npos) return {shortest};
  return {shortest, shortest + ".0"};
}

// le="0.2", or le=~"1|1\\.0" (the regular expression 1|1\.0: a dot, not any character).
api::LabelMatcher leMatcher(milliseconds threshold) {
  auto forms = leForms(threshold);
  if (forms.size() == 1) return {"le", "=", forms[0]};
  std::string alternatives;
  for (const auto& f : forms) {
    if (!alternatives.empty()) alternatives += "|";
    for (char c : f) alternatives += c == '.' ? std::string("\\.") : std::string(1, c);
  }
  return {"le", "=~", alternatives};
}

// For people: le "0.2", or le "1" or "1.0".
std::string leWords(milliseconds threshold) {
  std::string out = "le";
  for (const auto& f : leForms(threshold)) out += (out == "le" ? " \"" : " or \"") + f + "\"";
  return out;
}

// The histogram's series of another suffix (_count for _bucket), with one more matcher.
std::string histogramSeries(const api::SeriesSelector& bucket, const std::string& suffix,
                            std::optional<api::LabelMatcher> extra = std::nullopt) {
  api::SeriesSelector out = bucket;
  out.metric = bucket.metric.substr(0, bucket.metric.size() - std::string("_bucket").size()) + suffix;
  if (extra) out.matchers.push_back(*extra);
  return api::renderSeriesSelector(out);
}

// ---- SLIs ----------------------------------------------------------------------------

// One objective as the rules need it: how to compute its error ratio and request rate over
// a range, and the words for it in annotations.
struct Sli {
  std::string slo;    // the slo label: availability | latency
  std::string alert;  // ServiceLevelAvailabilityBurn | ServiceLevelLatencyBurn
  Percent target;
  std::string objective;  // "99.9% of requests succeed"
  std::string errorRatio(milliseconds w) const { return errorRatioFn(w); }
  std::string requestRate(milliseconds w) const { return requestRateFn(w); }
  std::function<std::string(milliseconds)> errorRatioFn;
  std::function<std::string(milliseconds)> requestRateFn;
  // For latency: the histogram, for the bucket-missing alert.
  std::optional<api::SeriesSelector> histogram;  // the _bucket series
  api::LabelMatcher le;                          // the matcher
  std::string leWords;                           // the same for people
  std::string thresholdText;
};

std::vector<Sli> slis(const ServiceLevel& sl) {
  std::vector<Sli> out;
  if (!sl.objectives) return out;
  if (const auto& av = sl.objectives->availability) {
    Sli s;
    s.slo = "availability";
    s.alert = "ServiceLevelAvailabilityBurn";
    s.target = av->target;
    s.objective = percentText(av->target) + " of requests succeed";
    const std::string errors = av->errorQuery, total = av->totalQuery;
    // No error series yet (no request has failed) counts as no errors; no traffic stays
    // 0/0 = NaN, or no sample at all, and NaN compares false: an idle service never fires.
    s.errorRatioFn = [errors, total](milliseconds w) {
      return "(" + sum(withWindow(errors, w)) + " or vector(0))\n/\n" + sum(withWindow(total, w));
    };
    s.requestRateFn = [total](milliseconds w) { return sum(withWindow(total, w)); };
    out.push_back(std::move(s));
  }
  if (const auto& lat = sl.objectives->latency) {
    auto histogram = api::parseSeriesSelector(lat->histogram);
    if (histogram && histogram->metric.ends_with("_bucket")) {  // the parser rejects anything else
      Sli s;
      s.slo = "latency";
      s.alert = "ServiceLevelLatencyBurn";
      s.target = lat->target;
      s.thresholdText = kube::formatDuration(lat->threshold);
      s.objective = percentText(lat->target) + " of requests served within " + s.thresholdText;
      s.histogram = *histogram;
      s.le = leMatcher(lat->threshold);
      s.leWords = leWords(lat->threshold);
      const std::string good = histogramSeries(*histogram, "_bucket", s.le);
      const std::string count = histogramSeries(*histogram, "_count");
      // Good = requests in the threshold's bucket. No bucket with that le (a threshold
      // that is not a boundary) leaves the ratio empty, never 1: see the bucket alert.
      s.errorRatioFn = [good, count](milliseconds w) {
        return "1 - (\n  sum(rate(" + good + "[" + range(w) + "]))\n  /\n  sum(rate(" + count + "[" + range(w) +
               "]))\n)";
      };
      s.requestRateFn = [count](milliseconds w) { return "sum(rate(" + count + "[" + range(w) + "]))"; };
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string requestsRecord(milliseconds w) { return "governor:slo_requests:rate" + range(w); }

Json record(const std::string& name, const std::string& expr, const Labels& labels) {
  return {{"record", name}, {"expr", expr}, {"labels", labelsJson(labels)}};
}

milliseconds sloWindow(const ServiceLevel& sl) {
  return sl.objectives && sl.objectives->window.count() > 0 ? sl.objectives->window : 30 * kDay;
}

bool isAlertWindow(milliseconds w) {
  for (auto a : alertWindows()) {
    if (a == w) return true;
  }
  return false;
}

// ---- alerts --------------------------------------------------------------------------

// The user's labels, then ours: severity, tier and the series' identity cannot be
// overridden from alerting.labels.
Labels alertLabels(const ServiceLevel& sl, const Labels& ours) {
  Labels out = sl.alerting.labels;
  for (const auto& [k, v] : ours) out[k] = v;
  return out;
}

Json annotations(const ServiceLevel& sl, const std::string& summary, const std::string& description) {
  Json out = {{"summary", summary}, {"description", description}};
  if (!sl.alerting.runbookURL.empty()) out["runbook_url"] = sl.alerting.runbookURL;
  return out;
}

std::string who(const ServiceLevel& sl) { return sl.namespaceName + "/" + sl.name; }

// Whether a request-rate floor applies, and its PromQL number.
std::string minRequestRate(const ServiceLevel& sl) {
  static const std::regex decimalPattern(R"(^[0-9]+(\.[0-9]+)?$)");
  const std::string& m = sl.alerting.minRequestRate;
  if (!std::regex_match(m, decimalPattern)) return "";            // empty, or rejected by the parser
  if (m.find_first_not_of("0.") == std::string::npos) return "";  // "0": no floor
  return m;
}

// A tier's condition for one SLI: the alert's expression, and the same in words
// ("14.4x over 1h and 5m (2% of the budget in 1h), or ..."). Empty when no window of the tier
// fits in the SLO window.
struct BurnCondition {
  std::string expr;
  std::string words;
};

BurnCondition burnCondition(const ServiceLevel& sl, const Sli& sli, const TierSpec& tier) {
  const milliseconds window = sloWindow(sl);
  const std::string budget = budgetOf(sli.target);
  const std::string sel = selector(seriesLabels(sl, sli.slo));
  const std::string floor = minRequestRate(sl);

  std::string expr;
  std::string conditions;
  for (const BurnWindow& w : tier.windows) {
    if (w.longWindow > window) continue;  // a window longer than the SLO's says nothing about it
    const std::string rate = formatRate(burnRate(w, window));
    // The value of the alert is the burn rate over the long window (left of "and").
    std::string part = "(\n  " + errorsRecord(w.longWindow) + sel + " / " + budget + " > " + rate + "\n  and\n  " +
                       errorsRecord(w.shortWindow) + sel + " / " + budget + " > " + rate;
    if (!floor.empty()) part += "\n  and\n  " + requestsRecord(w.longWindow) + sel + " >= " + floor;
    part += "\n)";
    expr += (expr.empty() ? "" : "\nor\n") + part;
    if (!conditions.empty()) conditions += ", or ";
    conditions += rate + "x over " + range(w.longWindow) + " and " + range(w.shortWindow) + " (" +
                  std::to_string(w.budgetPercent) + "% of the budget in " + range(w.longWindow) + ")";
  }
  return {expr, conditions};
}

const TierSpec& tierSpec(const std::string& name) {
  for (const TierSpec& tier : tierSpecs()) {
    if (name == tier.name) return tier;
  }
  return tierSpecs().front();  // only page and ticket exist; the parser allows no other
}

Json burnAlert(const ServiceLevel& sl, const Sli& sli, const TierSpec& tier, const AlertTier& config) {
  const auto [expr, conditions] = burnCondition(sl, sli, tier);
  if (expr.empty()) return nullptr;
  const milliseconds window = sloWindow(sl);
  const std::string sel = selector(seriesLabels(sl, sli.slo));
  const std::string floor = minRequestRate(sl);

  std::string severity = config.severity.empty()
                             ? (std::string(tier.name) == "page" ? kDefaultPageSeverity : kDefaultTicketSeverity)
                             : config.severity;
  Labels ours = seriesLabels(sl, sli.slo);
  ours["severity"] = severity;
  ours["tier"] = tier.name;

  const std::string value = "{{ printf \"%.1f\" $value }}";
  const std::string budgetLeft = "{{ with query `100 * " + std::string(kBudgetRemainingRecord) + sel +
                                 "` }}{{ . | first | value | printf \"%.1f\" }}%{{ else }}unknown{{ end }}";
  std::string summary = who(sl) + " is burning its " + sli.slo + " error budget " + value + "x too fast";
  std::string description = "The " + sli.slo + " SLO of " + who(sl) + " (" + sli.objective + " over " + range(window) +
                            ", an error budget of " + budgetPercentOf(sli.target) + ") is spending its budget " +
                            value + " times as fast as the window allows. The " + tier.name + " tier fires above " +
                            conditions + ".";
  if (!floor.empty()) description += " It stays silent below " + floor + " requests/s.";
  description += " Error budget left over " + range(window) + " is " + budgetLeft + ".";

  return {{"alert", sli.alert},
          {"expr", expr},
          {"labels", labelsJson(alertLabels(sl, ours))},
          {"annotations", annotations(sl, summary, description)}};
}

// A latency SLO whose threshold is no bucket boundary of the histogram measures nothing;
// say so instead of staying silent for ever.
Json bucketMissingAlert(const ServiceLevel& sl, const Sli& sli) {
  const auto& h = *sli.histogram;
  const std::string bucket = histogramSeries(h, "_bucket");
  std::string expr = "count(" + bucket + ")\nunless\ncount(" + histogramSeries(h, "_bucket", sli.le) + ")";
  Labels ours = seriesLabels(sl, sli.slo);
  ours["severity"] = sl.alerting.ticket.severity.empty() ? kDefaultTicketSeverity : sl.alerting.ticket.severity;
  std::string summary =
      who(sl) + " cannot measure its latency SLO: the histogram has no bucket at " + sli.thresholdText;
  std::string description = bucket + " has no bucket with " + sli.leWords + ", so the latency SLO of " + who(sl) +
                            " has no data and its burn alerts cannot fire. Set objectives.latency.threshold to"
                            " one of the histogram's bucket boundaries (its le values).";
  return {{"alert", "ServiceLevelLatencyBucketMissing"},
          {"expr", expr},
          {"for", kBucketMissingFor},
          {"labels", labelsJson(alertLabels(sl, ours))},
          {"annotations", annotations(sl, summary, description)}};
}

// ---- groups --------------------------------------------------------------------------

Json sloGroups(const ServiceLevel& sl) {
  Json groups = Json::array();
  const auto all = slis(sl);
  if (all.empty()) return groups;
  const milliseconds window = sloWindow(sl);

  Json sli = Json::array();
  Json budget = Json::array();
  Json alerts = Json::array();
  for (const Sli& s : all) {
    const Labels labels = seriesLabels(sl, s.slo);
    for (milliseconds w : alertWindows()) sli.push_back(record(errorsRecord(w), s.errorRatio(w), labels));
    for (milliseconds w : alertWindows()) sli.push_back(record(requestsRecord(w), s.requestRate(w), labels));

    if (!isAlertWindow(window)) budget.push_back(record(errorsRecord(window), s.errorRatio(window), labels));
    budget.push_back(record(kBudgetRemainingRecord,
                            "1 - " + errorsRecord(window) + selector(labels) + " / " + budgetOf(s.target), labels));

    for (const TierSpec& tier : tierSpecs()) {
      const AlertTier& config = std::string(tier.name) == "page" ? sl.alerting.page : sl.alerting.ticket;
      if (!config.enabled) continue;
      Json alert = burnAlert(sl, s, tier, config);
      if (!alert.is_null()) alerts.push_back(std::move(alert));
    }
    if (s.histogram) alerts.push_back(bucketMissingAlert(sl, s));
  }
  groups.push_back({{"name", "governor-" + sl.name + "-sli"}, {"rules", sli}});
  // The SLO window's range is long (30d) and so costly to read; it moves slowly, so it is
  // evaluated less often than the rest (and still well within the 5m staleness period).
  groups.push_back(
      {{"name", "governor-" + sl.name + "-budget"}, {"interval", kBudgetGroupInterval}, {"rules", budget}});
  if (!alerts.empty()) groups.push_back({{"name", "governor-" + sl.name + "-alerts"}, {"rules", alerts}});
  return groups;
}

// The cache's keyspace counters as the metrics adapter exports them (it reads INFO stats of
// NAME-redis every poll; Prometheus scrapes the adapter). With no lookup in 5m the ratio is
// 0/0 = NaN, which is never below the target: an idle cache does not alert.
Json cacheGroup(const ServiceLevel& sl) {
  const Cache& cache = *sl.cache;
  const Percent& target = *cache.hitRatioTarget;
  const std::string scope = selector({{"namespace", sl.namespaceName}, {"servicelevel", sl.name}});
  const std::string hits = "sum(rate(" + std::string(api::kCacheHitsCounter) + scope + "[5m]))";
  const std::string misses = "sum(rate(" + std::string(api::kCacheMissesCounter) + scope + "[5m]))";
  const Labels labels = seriesLabels(sl);

  Labels ours = labels;
  ours["severity"] = sl.alerting.ticket.severity.empty() ? kDefaultTicketSeverity : sl.alerting.ticket.severity;
  std::string summary =
      who(sl) + " cache hit ratio is {{ $value | humanizePercentage }}, below its " + percentText(target) + " target";
  std::string description = "For " + std::string(kCacheAlertFor) + " the Redis cache " + sl.name +
                            "-redis has answered fewer than " + percentText(target) +
                            " of lookups (governor_cache_keyspace_hits_total over hits + misses, 5m rate, as the"
                            " metrics adapter reads them from INFO stats). Look at evictions (INFO stats"
                            " evicted_keys) against maxmemory, the key TTLs, and recent changes to what the"
                            " application caches.";
  Json rules = Json::array({record(kCacheHitRecord, hits + "\n/\n(" + hits + " + " + misses + ")", labels),
                            {{"alert", "ServiceLevelCacheHitRatioLow"},
                             {"expr", std::string(kCacheHitRecord) + selector(labels) + " < " + ratioOf(target)},
                             {"for", kCacheAlertFor},
                             {"labels", labelsJson(alertLabels(sl, ours))},
                             {"annotations", annotations(sl, summary, description)}}});
  return {{"name", "governor-" + sl.name + "-cache"}, {"rules", rules}};
}

// ---- YAML ----------------------------------------------------------------------------
// The rule file is read by people (`governor-operator render`, kubectl get configmap): keys in
// the order people expect (record/alert before expr), written by kube::toYaml.

int keyRank(const std::string& key) {
  static const char* order[] = {"name", "interval", "record", "alert", "expr", "for", "labels", "annotations", "rules"};
  for (int i = 0; i < static_cast<int>(std::size(order)); ++i) {
    if (key == order[i]) return i;
  }
  return static_cast<int>(std::size(order));
}

nlohmann::ordered_json inReadingOrder(const Json& v) {
  if (v.is_array()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& item : v) out.push_back(inReadingOrder(item));
    return out;
  }
  if (!v.is_object()) return nlohmann::ordered_json(v);
  std::vector<std::string> keys;
  for (const auto& [k, item] : v.items()) keys.push_back(k);
  std::stable_sort(keys.begin(), keys.end(),
                   [](const std::string& a, const std::string& b) { return keyRank(a) < keyRank(b); });
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& k : keys) out[k] = inReadingOrder(v.at(k));
  return out;
}

std::string ruleFile(const ServiceLevel& sl, const Json& groups) {
  std::string out =
      "# Prometheus rules of ServiceLevel " + sl.namespaceName + "/" + sl.name +
      ", written by Governor.\n# Edit the ServiceLevel, not this file; docs/alerts.md explains each rule.\n";
  return out + kube::toYamlInOrder(inReadingOrder(groups));
}

}  // namespace

BurnConditions burnConditions(const ServiceLevel& sl, const std::string& tier) {
  BurnConditions out;
  for (const Sli& s : slis(sl)) {
    BurnCondition c = burnCondition(sl, s, tierSpec(tier));
    if (c.expr.empty()) continue;
    out.expr += (out.expr.empty() ? "" : "\nor\n") + c.expr;
    out.words += (out.words.empty() ? "" : "; ") + s.slo + ": " + c.words;
  }
  return out;
}

Json ruleGroups(const ServiceLevel& sl) {
  Json groups = sloGroups(sl);
  if (sl.cache && sl.cache->hitRatioTarget) groups.push_back(cacheGroup(sl));
  if (groups.empty()) return nullptr;
  return {{"groups", groups}};
}

std::vector<Child> renderRules(const ServiceLevel& sl, const RenderOptions& options) {
  Json groups = ruleGroups(sl);
  if (groups.is_null()) return {};
  if (options.prometheusRuleCrd) {
    Json rule = {{"apiVersion", "monitoring.coreos.com/v1"},
                 {"kind", "PrometheusRule"},
                 {"metadata", childMetadata(sl, sl.name)},
                 {"spec", {{"groups", groups["groups"]}}}};
    return {Child{ChildGroup::Rules, resources::kPrometheusRule, std::move(rule)}};
  }
  Json configMap = {{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", childMetadata(sl, sl.name + "-rules")},
                    {"data", {{sl.name + ".rules.yaml", ruleFile(sl, groups)}}}};
  return {Child{ChildGroup::Rules, resources::kConfigMap, std::move(configMap)}};
}

}  // namespace governor::op
