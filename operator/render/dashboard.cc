// The Grafana dashboard of a ServiceLevel: a ConfigMap NAME-dashboard labelled
// grafana_dashboard: "1", which the Grafana sidecar (kiwigrid/k8s-sidecar, as in the
// grafana and kube-prometheus-stack charts) loads. docs/alerts.md ("Dashboard") lists the
// panels.
//
// Every query reads either a series that rules.cc records (governor:...) or a source
// metric that the docs name: the latency histogram of objectives.latency and the HPA
// series of kube-state-metrics. tests/unit/operator/dashboard_test.cc holds the queries to
// that, against ruleGroups() itself; tests/integration/dashboard_promtool_test.cc has
// promtool parse them. Objectives and targets are drawn as dashed threshold lines, not as
// queries, so they cost Prometheus nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "api/metrics.h"
#include "api/series_selector.h"
#include "kube/duration.h"
#include "operator/render/render.h"
#include "operator/render/slo.h"

namespace governor::op {
namespace {

// The dashboard keeps its keys in the order written here (id, type, title, ... targets), which
// reads better in `kubectl get configmap -o yaml` than alphabetical order.
using Doc = nlohmann::ordered_json;

constexpr int kSchemaVersion = 39;
constexpr int kPanelWidth = 12;  // of Grafana's 24 columns: two panels a row
constexpr int kPanelHeight = 8;
constexpr size_t kMaxUid = 40;  // Grafana's limit

// kube-state-metrics (v2.6 or later for the target metrics): the HPA Governor writes.
constexpr const char* kKsmCurrentReplicas = "kube_horizontalpodautoscaler_status_current_replicas";
constexpr const char* kKsmDesiredReplicas = "kube_horizontalpodautoscaler_status_desired_replicas";
constexpr const char* kKsmStatusTarget = "kube_horizontalpodautoscaler_status_target_metric";
constexpr const char* kKsmSpecTarget = "kube_horizontalpodautoscaler_spec_target_metric";
using api::kBacklogMetric;  // the HPA's External metric (hpa.cc)

// ---- numbers -------------------------------------------------------------------------

std::string seconds(milliseconds d) { return decimal(d.count(), 3); }

// The page tier's fast row, as rules.cc computes it: 2% of the budget in 1h.
std::string fastBurnRate(milliseconds sloWindow) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", 2.0 * static_cast<double>(sloWindow.count()) / (100.0 * kHour.count()));
  return buf;
}

// ---- PromQL --------------------------------------------------------------------------

// The HPA's series in kube-state-metrics: the HPA is named after the ServiceLevel.
Labels hpaLabels(const ServiceLevel& sl) {
  return {{"namespace", sl.namespaceName}, {"horizontalpodautoscaler", sl.name}};
}

// The same test as rules.cc: only a "<name>_bucket{...}" histogram gives a latency SLI.
bool isBucketSeries(const std::string& histogram) {
  auto selector = api::parseSeriesSelector(histogram);
  return selector && selector->metric.ends_with("_bucket");
}

// ---- Grafana JSON --------------------------------------------------------------------

const Doc& datasource() {
  static const Doc ds = {{"type", "prometheus"}, {"uid", "${datasource}"}};
  return ds;
}

// The panel's datasource applies to its targets.
Doc target(const std::string& refId, const std::string& expr, const std::string& legend) {
  return {{"refId", refId}, {"expr", expr}, {"legendFormat", legend}};
}

// Threshold steps from a base colour; each further step is drawn as a dashed line.
Doc thresholds(const std::string& baseColor, const std::vector<std::pair<double, std::string>>& steps) {
  Doc out = Doc::array({{{"color", baseColor}, {"value", nullptr}}});
  for (const auto& [value, color] : steps) out.push_back({{"color", color}, {"value", value}});
  return {{"mode", "absolute"}, {"steps", out}};
}

struct Panel {
  std::string type;  // timeseries | stat
  std::string title;
  std::string description;
  std::string unit;
  Doc targets = Doc::array();
  Doc thresholds;  // null: none
  Doc overrides = Doc::array();
  std::optional<double> min, max;
};

Doc panelJson(const Panel& p, int id) {
  Doc defaults = {{"unit", p.unit}};
  if (p.min) defaults["min"] = *p.min;
  if (p.max) defaults["max"] = *p.max;
  if (!p.thresholds.is_null()) defaults["thresholds"] = p.thresholds;
  Doc options;
  if (p.type == "stat") {
    defaults["color"] = {{"mode", "thresholds"}};
    options = {{"graphMode", "area"},
               {"colorMode", "value"},
               {"textMode", "value_and_name"},
               {"reduceOptions", {{"calcs", {"lastNotNull"}}, {"fields", ""}, {"values", false}}}};
  } else {
    defaults["custom"] = {{"thresholdsStyle", {{"mode", p.thresholds.is_null() ? "off" : "dashed"}}}};
    options = {{"tooltip", {{"mode", "multi"}}}};  // all windows at once
  }
  return {{"id", id},
          {"type", p.type},
          {"title", p.title},
          {"description", p.description},
          {"datasource", datasource()},
          {"gridPos",
           {{"h", kPanelHeight},
            {"w", kPanelWidth},
            {"x", (id - 1) % 2 * kPanelWidth},
            {"y", (id - 1) / 2 * kPanelHeight}}},
          {"fieldConfig", {{"defaults", defaults}, {"overrides", p.overrides}}},
          {"options", options},
          {"targets", p.targets}};
}

// ---- panels --------------------------------------------------------------------------

struct Slo {
  std::string name;  // the slo label: availability | latency
  Percent target;
};

std::vector<Slo> slos(const ServiceLevel& sl) {
  std::vector<Slo> out;
  if (!sl.objectives) return out;
  if (sl.objectives->availability) out.push_back({"availability", sl.objectives->availability->target});
  if (sl.objectives->latency && isBucketSeries(sl.objectives->latency->histogram)) {
    out.push_back({"latency", sl.objectives->latency->target});
  }
  return out;
}

milliseconds sloWindow(const ServiceLevel& sl) {
  return sl.objectives && sl.objectives->window.count() > 0 ? sl.objectives->window : 30 * kDay;
}

Panel sliPanel(const ServiceLevel& sl, const Slo& slo) {
  const milliseconds window = sloWindow(sl);
  const std::string sel = selector(seriesLabels(sl, slo.name));
  Panel p{"timeseries", "SLI: " + slo.name,
          "The share of good requests (1 - governor:slo_errors:ratio_rate<w>) over 5m, 1h and the SLO window " +
              kube::formatDuration(window) + ". Dashed: the objective, " + percentText(slo.target) + ".",
          "percentunit"};
  std::vector<milliseconds> windows{5 * kMinute, kHour};
  if (window != 5 * kMinute && window != kHour) windows.push_back(window);
  std::string ref = "A";
  for (milliseconds w : windows) {
    p.targets.push_back(target(ref, "1 - " + errorsRecord(w) + sel, kube::formatDuration(w)));
    ++ref[0];
  }
  p.thresholds = thresholds("red", {{std::stod(ratioOf(slo.target)), "green"}});
  p.max = 1;
  return p;
}

Panel burnPanel(const ServiceLevel& sl, const Slo& slo) {
  const milliseconds window = sloWindow(sl);
  const std::string sel = selector(seriesLabels(sl, slo.name));
  const std::string budget = budgetOf(slo.target);
  Panel p{"timeseries", "Burn rate: " + slo.name,
          "Error ratio / error budget (" + budget + ") per window. 1 spends the budget exactly over " +
              kube::formatDuration(window) + ".",
          "none"};
  std::vector<std::pair<double, std::string>> lines{{1.0, "orange"}};
  if (kHour <= window && sl.alerting.page.enabled) {
    const std::string fast = fastBurnRate(window);
    p.description += " The page tier fires above " + fast + " over both 1h and 5m.";
    // Grafana wants the steps in ascending order; above the page threshold is red either way.
    const double rate = std::stod(fast);
    if (rate > 1) {
      lines.push_back({rate, "red"});
    } else if (rate < 1) {
      lines = {{rate, "red"}, {1.0, "red"}};
    }
  }
  p.description += " Dashed: " + std::string(lines.size() > 1 ? "1 and the page threshold." : "1.");
  std::string ref = "A";
  for (milliseconds w : {5 * kMinute, kHour, 6 * kHour, kDay, 3 * kDay}) {
    if (w > window) continue;  // rules.cc alerts on no window longer than the SLO's
    p.targets.push_back(target(ref, errorsRecord(w) + sel + " / " + budget, kube::formatDuration(w)));
    ++ref[0];
  }
  p.thresholds = thresholds("green", lines);
  p.min = 0;
  return p;
}

Panel budgetPanel(const ServiceLevel& sl) {
  Panel p{"stat", "Error budget remaining",
          "governor:slo_error_budget_remaining:ratio over the SLO window " + kube::formatDuration(sloWindow(sl)) +
              ": 100% is the whole budget left, 0 spent, below 0 overspent.",
          "percentunit"};
  p.targets.push_back(target("A", std::string(kBudgetRemainingRecord) + selector(seriesLabels(sl)), "{{slo}}"));
  p.thresholds = thresholds("red", {{0.0, "orange"}, {0.25, "green"}});
  return p;
}

Panel latencyPanel(const ServiceLevel& sl) {
  const LatencyObjective& lat = *sl.objectives->latency;
  const int percentile = sl.autoscaling && sl.autoscaling->latency ? sl.autoscaling->latency->percentile : 95;
  const std::string p = "p" + std::to_string(percentile);
  const std::string threshold = kube::formatDuration(lat.threshold);
  Panel panel{"timeseries", p + " latency",
              "histogram_quantile(" + decimal(percentile, 2) + ") of " + lat.histogram +
                  " over 5m. Dashed: the SLO threshold (" + threshold + ")",
              "s"};
  panel.targets.push_back(target(
      "A", "histogram_quantile(" + decimal(percentile, 2) + ", sum by (le) (rate(" + lat.histogram + "[5m])))", p));
  std::vector<std::pair<double, std::string>> lines{{std::stod(seconds(lat.threshold)), "orange"}};
  if (sl.autoscaling && sl.autoscaling->latency) {
    const auto& scaling = *sl.autoscaling->latency;
    panel.description += " and the autoscaling target (" + kube::formatDuration(scaling.target) + ")";
    double t = std::stod(seconds(scaling.target));
    if (t > lines[0].first) {
      lines.push_back({t, "red"});
    } else if (t < lines[0].first) {
      lines.insert(lines.begin(), {t, "yellow"});
    }
  }
  panel.description += ".";
  panel.thresholds = thresholds("green", lines);
  panel.min = 0;
  return panel;
}

Panel replicasPanel(const ServiceLevel& sl) {
  const Autoscaling& a = *sl.autoscaling;
  const std::string hpa = selector(hpaLabels(sl));
  Panel p{"timeseries", a.queue ? "Replicas against backlog" : "Replicas",
          "The HPA " + sl.name + " as kube-state-metrics reports it: current and desired replicas (" +
              std::to_string(a.minReplicas) + " to " + std::to_string(a.maxReplicas) + ")",
          "short"};
  p.targets.push_back(target("A", kKsmCurrentReplicas + hpa, "current replicas"));
  p.targets.push_back(target("B", kKsmDesiredReplicas + hpa, "desired replicas"));
  if (a.queue) {
    // The adapter serves the backlog to the HPA only, not to Prometheus: the HPA's status,
    // exported by kube-state-metrics, is where its value reaches Prometheus. For an
    // AverageValue target that is the backlog per replica.
    // With drainWithin only, the drain replicas per replica (1: the replicas are what the
    // backlog needs).
    const bool perReplica = a.queue->targetPerReplica > 0;
    const std::string metric = perReplica ? kBacklogMetric : api::kDrainReplicasMetric;
    Labels l = hpaLabels(sl);
    l["metric_name"] = metric;
    l["metric_target_type"] = "average";
    p.targets.push_back(
        target("C", kKsmStatusTarget + selector(l), perReplica ? "backlog per replica" : "needed per replica"));
    p.targets.push_back(target("D", kKsmSpecTarget + selector(l), "target per replica"));
    Doc rightAxis = {{"id", "custom.axisPlacement"}, {"value", "right"}};
    for (const char* ref : {"C", "D"}) {
      p.overrides.push_back({{"matcher", {{"id", "byFrameRefID"}, {"options", ref}}}, {"properties", {rightAxis}}});
    }
    p.description += "; on the right axis " +
                     std::string(perReplica ? "the queue backlog per replica ("
                                            : "the replicas needed to drain the queue in time per replica (") +
                     metric + " from the HPA's status) and its target, " +
                     (perReplica ? std::to_string(a.queue->targetPerReplica) : std::string("1")) + ".";
  } else {
    p.description += ".";
  }
  p.min = 0;
  return p;
}

Panel cachePanel(const ServiceLevel& sl) {
  const Percent& target_ = *sl.cache->hitRatioTarget;
  Panel p{"timeseries", "Cache hit ratio",
          "governor:cache_hits:ratio_rate5m: keyspace hits / (hits + misses) of the Redis cache " + sl.name +
              "-redis over 5m (governor_cache_keyspace_hits_total and governor_cache_keyspace_misses_total, read"
              " by the metrics adapter); no line while the cache has no lookups. Dashed: the target, " +
              percentText(target_) + ".",
          "percentunit"};
  p.targets.push_back(target("A", std::string(kCacheHitRecord) + selector(seriesLabels(sl)), "hit ratio"));
  p.thresholds = thresholds("red", {{std::stod(ratioOf(target_)), "green"}});
  p.min = 0;
  p.max = 1;
  return p;
}

// ---- uid -----------------------------------------------------------------------------

// Readable where it fits (namespace-name) and unique through a hash of "namespace/name",
// which '-' alone would not be ("a-b"/"c" and "a"/"b-c"). At most 40 characters of
// [a-z0-9-], the same for the same ServiceLevel on every render.
std::string dashboardUid(const ServiceLevel& sl) {
  const std::string suffix = "-" + fnv1aHex(sl.namespaceName + "/" + sl.name).substr(0, 10);
  std::string readable;
  for (char c : sl.namespaceName + "-" + sl.name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    readable += ok ? c : '-';
  }
  readable.resize(std::min(readable.size(), kMaxUid - suffix.size()));
  return readable + suffix;
}

}  // namespace

std::vector<Child> renderDashboard(const ServiceLevel& sl) {
  std::vector<Panel> panels;
  const auto objectives = slos(sl);
  for (const Slo& slo : objectives) {
    panels.push_back(sliPanel(sl, slo));
    panels.push_back(burnPanel(sl, slo));
  }
  if (!objectives.empty()) panels.push_back(budgetPanel(sl));
  if (sl.objectives && sl.objectives->latency && isBucketSeries(sl.objectives->latency->histogram)) {
    panels.push_back(latencyPanel(sl));
  }
  if (sl.autoscaling) panels.push_back(replicasPanel(sl));
  if (sl.cache && sl.cache->hitRatioTarget) panels.push_back(cachePanel(sl));
  if (panels.empty()) return {};

  Doc panelList = Doc::array();
  for (size_t i = 0; i < panels.size(); ++i) panelList.push_back(panelJson(panels[i], static_cast<int>(i) + 1));
  // Which Prometheus to read: Grafana offers every Prometheus data source it has.
  Doc datasourceVariable = {
      {"name", "datasource"}, {"label", "Data source"}, {"type", "datasource"}, {"query", "prometheus"}};
  Doc dashboard = {{"uid", dashboardUid(sl)},
                   {"title", "ServiceLevel " + sl.namespaceName + "/" + sl.name},
                   {"tags", {"governor"}},
                   {"schemaVersion", kSchemaVersion},
                   {"time", {{"from", "now-24h"}, {"to", "now"}}},
                   {"refresh", "1m"},
                   {"templating", {{"list", {datasourceVariable}}}},
                   {"panels", panelList}};

  Json metadata = childMetadata(sl, sl.name + "-dashboard");
  metadata["labels"]["grafana_dashboard"] = "1";
  Json configMap = {{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", metadata},
                    {"data", {{sl.name + ".json", dashboard.dump(2) + "\n"}}}};
  return {Child{ChildGroup::Rules, resources::kConfigMap, std::move(configMap)}};
}

}  // namespace governor::op
