// The whole desired state of one ServiceLevel, from the per-kind renderers.
#include "operator/render/render.h"

#include <cstdint>
#include <cstdio>

namespace governor::op {

const char* conditionType(ChildGroup group) {
  switch (group) {
    case ChildGroup::Autoscaler: return "AutoscalerReady";
    case ChildGroup::Cache: return "CacheReady";
    case ChildGroup::Quota: return "QuotaReady";
    case ChildGroup::Rules: return "RulesReady";
  }
  return "";
}

std::vector<Child> render(const ServiceLevel& sl, const RenderOptions& options) {
  std::vector<Child> out;
  for (auto part : {renderAutoscaler(sl, options), renderQuota(sl), renderCache(sl), renderRules(sl, options),
                    renderDashboard(sl)}) {
    for (auto& child : part) out.push_back(std::move(child));
  }
  return out;
}

const std::vector<kube::Resource>& childResources() {
  using namespace resources;
  static const std::vector<kube::Resource> all{kHpa,           kStatefulSet, kService,       kConfigMap,
                                               kResourceQuota, kLimitRange,  kPrometheusRule};
  return all;
}

Json childMetadata(const ServiceLevel& sl, const std::string& name) {
  Json labels = Json::object();
  for (const auto& [k, v] : childLabels(sl)) labels[k] = v;
  Json md = {{"name", name}, {"namespace", sl.namespaceName}, {"labels", labels}};
  // `render` of a file has no uid yet: without one there is no owner to name.
  if (!sl.uid.empty()) md["ownerReferences"] = Json::array({ownerReference(sl)});
  return md;
}

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string fnv1aHex(std::string_view text) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  return out;
}

}  // namespace governor::op
