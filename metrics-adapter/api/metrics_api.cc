// Routes and bodies of the metrics APIs; see metrics_api.h and
// ../shared notes on the wire formats (k8s.io/metrics).
#include "metrics-adapter/api/metrics_api.h"

#include <cmath>
#include <regex>
#include <set>

#include "kube/duration.h"
#include "kube/selector.h"
#include "kube/time.h"

namespace governor::adapter {
namespace {

constexpr const char* kExternalGroup = "external.metrics.k8s.io";
constexpr const char* kExternalVersion = "v1beta1";
constexpr const char* kCustomGroup = "custom.metrics.k8s.io";
constexpr const char* kCustomVersion = "v1beta2";

Json groupVersion(const std::string& group, const std::string& version) {
  return {{"groupVersion", group + "/" + version}, {"version", version}};
}

Json apiGroup(const std::string& group, const std::string& version) {
  return {{"name", group},
          {"versions", Json::array({groupVersion(group, version)})},
          {"preferredVersion", groupVersion(group, version)}};
}

Json resourceList(const std::string& group, const std::string& version,
                  const std::vector<std::pair<std::string, std::string>>& resources) {
  Json list = Json::array();
  for (const auto& [name, kind] : resources) {
    list.push_back({{"name", name}, {"singularName", ""}, {"namespaced", true}, {"kind", kind}, {"verbs", {"get"}}});
  }
  return {
      {"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", group + "/" + version}, {"resources", list}};
}

// metav1.Time: RFC 3339 with seconds.
std::string timestamp(std::chrono::system_clock::time_point t) { return kube::rfc3339(t); }

// What a target serves now: its latest value, its fallback while that applies, or the error
// of its latest measurement.
struct Served {
  std::optional<ApiResponse> error;  // answer this instead of any value
  double value = 0;
  std::chrono::system_clock::time_point timestamp;
  bool fallback = false;
};

Served currentValue(const std::optional<MetricCache::Entry>& entry, const MetricTarget& t) {
  std::string what = t.metric + " of ServiceLevel " + t.namespaceName + "/" + t.serviceLevel;
  if (!entry) return {ApiResponse{503, statusBody(503, "ServiceUnavailable", what + " has not been measured yet")}};
  if (entry->ok()) return {std::nullopt, entry->value, *entry->lastSuccess};
  if (t.fallback && entry->failures >= t.fallback->afterFailures) {
    return {std::nullopt, t.fallback->value, entry->timestamp, true};
  }
  auto why = entry->error ? entry->error->what() : "no successful measurement";
  return {ApiResponse{503, statusBody(503, "ServiceUnavailable", what + ": " + why)}};
}

}  // namespace

std::optional<ApiResponse> malformedRequest(const std::string& path, const std::string& labelSelector) {
  // dump() throws on invalid UTF-8 (strictly, as the API server's JSON decoder refuses it).
  auto utf8 = [](const std::string& text) {
    try {
      (void)Json(text).dump();
      return true;
    } catch (const Json::exception&) {
      return false;
    }
  };
  if (!utf8(path)) return ApiResponse{400, statusBody(400, "BadRequest", "the request path is not valid UTF-8")};
  if (!utf8(labelSelector)) return ApiResponse{400, statusBody(400, "BadRequest", "labelSelector is not valid UTF-8")};
  return std::nullopt;
}

std::vector<std::string> splitNonEmpty(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

Json statusBody(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

std::string quantityString(double value) {
  if (value == 0) return "0";
  // The coarsest suffix that holds the value exactly (to a relative 1e-9), else nano.
  for (auto [scale, suffix] : {std::pair{1.0, ""}, {1e3, "m"}, {1e6, "u"}}) {
    double scaled = value * scale;
    double rounded = std::round(scaled);
    if (rounded != 0 && std::fabs(scaled - rounded) <= 1e-9 * std::fabs(scaled)) {
      return std::to_string(std::llround(scaled)) + suffix;
    }
  }
  return std::to_string(std::llround(value * 1e9)) + "n";
}

MetricsApi::MetricsApi(const MetricCache& cache, const Targets& targets, const std::string& latencyWindow)
    : cache_(cache), targets_(targets) {
  auto window = kube::parseDuration(latencyWindow);
  latencyWindowSeconds_ = window ? std::chrono::duration_cast<std::chrono::seconds>(*window).count() : 0;
}

ApiResponse MetricsApi::get(const std::string& path, const std::map<std::string, std::string>& query) const {
  auto param = [&](const std::string& k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  if (auto malformed = malformedRequest(path, param("labelSelector"))) return *malformed;
  auto p = pathSegments(path);
  if (p.size() == 1 && p[0] == "apis") {
    return {200,
            {{"kind", "APIGroupList"},
             {"apiVersion", "v1"},
             {"groups", {apiGroup(kCustomGroup, kCustomVersion), apiGroup(kExternalGroup, kExternalVersion)}}}};
  }
  if (p.size() >= 2 && p[0] == "apis" && (p[1] == kExternalGroup || p[1] == kCustomGroup)) {
    bool isExternal = p[1] == kExternalGroup;
    std::string version = isExternal ? kExternalVersion : kCustomVersion;
    if (p.size() == 2) {
      Json g = apiGroup(p[1], version);
      g["kind"] = "APIGroup";
      g["apiVersion"] = "v1";
      return {200, g};
    }
    if (p[2] != version) return {404, statusBody(404, "NotFound", "the server could not find " + path)};
    if (p.size() == 3) {
      std::vector<std::pair<std::string, std::string>> resources;
      if (isExternal) {
        resources.emplace_back(kBacklogMetric, "ExternalMetricValueList");
      } else {
        for (const std::string& r : {api::workloadResource("Deployment"), api::workloadResource("StatefulSet")}) {
          for (int pct : kServedPercentiles) resources.emplace_back(r + "/" + latencyMetric(pct), "MetricValueList");
        }
        for (const char* m : {kCacheHitRatioMetric, kBacklogMetric}) {
          resources.emplace_back(std::string(kServiceLevelResource) + "/" + m, "MetricValueList");
        }
      }
      return {200, resourceList(p[1], version, resources)};
    }
    if (isExternal && p.size() == 6 && p[3] == "namespaces") return external(p[4], p[5], param("labelSelector"));
    if (!isExternal && p.size() == 8 && p[3] == "namespaces") {
      return custom(p[4], p[5], p[6], p[7], param("labelSelector"));
    }
  }
  return {404, statusBody(404, "NotFound", "the server could not find " + path)};
}

ApiResponse MetricsApi::external(const std::string& ns, const std::string& metric,
                                 const std::string& labelSelector) const {
  auto selector = kube::parseSelector(labelSelector);
  if (!selector) return {400, statusBody(400, "BadRequest", "labelSelector: " + selector.error().status.message)};
  Json items = Json::array();
  const auto targets = targets_.snapshot();
  for (const MetricTarget* found : targets->external(ns, metric, *selector)) {
    const MetricTarget& t = *found;
    auto now = currentValue(cache_.get(t.key), t);
    if (now.error) return *now.error;
    Json labels = Json::object();
    for (const auto& [k, v] : t.labels) labels[k] = v;
    if (now.fallback) labels[api::kFallbackLabel] = "true";
    items.push_back({{"metricName", metric},
                     {"metricLabels", labels},
                     {"timestamp", timestamp(now.timestamp)},
                     {"value", quantityString(now.value)}});
  }
  if (items.empty()) {
    return {404, statusBody(404, "NotFound",
                            "no ServiceLevel in namespace " + ns + " has external metric " + metric +
                                (labelSelector.empty() ? "" : " matching " + labelSelector))};
  }
  return {200,
          {{"kind", "ExternalMetricValueList"},
           {"apiVersion", std::string(kExternalGroup) + "/" + kExternalVersion},
           {"metadata", Json::object()},
           {"items", items}}};
}

ApiResponse MetricsApi::custom(const std::string& ns, const std::string& resource, const std::string& name,
                               const std::string& metric, const std::string& labelSelector) const {
  auto selector = kube::parseSelector(labelSelector);
  if (!selector) return {400, statusBody(400, "BadRequest", "labelSelector: " + selector.error().status.message)};
  Json items = Json::array();
  std::set<std::string> described;
  const auto targets = targets_.snapshot();
  for (const MetricTarget* found : targets->custom(ns, resource, name, metric, *selector)) {
    const MetricTarget& t = *found;
    // Two ServiceLevels on one workload: the HPA wants exactly one value per object, so
    // the first ServiceLevel by name answers (targets come sorted).
    if (described.contains(t.objectName)) continue;
    auto now = currentValue(cache_.get(t.key), t);
    if (now.error) return *now.error;
    double value = now.value;
    if (t.served) {
      // Nothing to serve yet (a cache that has seen no lookup): absent from a list, an
      // error for the object itself.
      std::optional<double> served = t.served();
      if (!served && name == "*") continue;
      if (!served) {
        return {503,
                statusBody(503, "ServiceUnavailable",
                           t.metric + " of ServiceLevel " + ns + "/" + t.serviceLevel + ": no lookups measured yet")};
      }
      value = *served;
    }
    described.insert(t.objectName);
    Json item = {
        {"describedObject",
         {{"kind", t.objectKind}, {"namespace", ns}, {"name", t.objectName}, {"apiVersion", t.objectApiVersion}}},
        {"metric",
         {{"name", metric},
          {"selector", now.fallback ? Json{{"matchLabels", {{api::kFallbackLabel, "true"}}}} : Json(nullptr)}}},
        {"timestamp", timestamp(now.timestamp)},
        {"value", quantityString(value)}};
    // The latency's rate() range; a hit ratio's window is the time between two polls.
    if (latencyWindowSeconds_ > 0 && t.resource != kServiceLevelResource) item["windowSeconds"] = latencyWindowSeconds_;
    items.push_back(item);
  }
  if (items.empty()) {
    return {404, statusBody(
                     404, "NotFound",
                     "no ServiceLevel in namespace " + ns + " has metric " + metric + " for " + resource + " " + name)};
  }
  return {200,
          {{"kind", "MetricValueList"},
           {"apiVersion", std::string(kCustomGroup) + "/" + kCustomVersion},
           {"metadata", Json::object()},
           {"items", items}}};
}

}  // namespace governor::adapter
