// The ResourceQuota and LimitRange of spec.quota.
#include "operator/render/render.h"

namespace governor::op {
namespace {

Json quantityMap(const std::map<std::string, std::string>& m) {
  Json out = Json::object();
  for (const auto& [name, quantity] : m) out[name] = quantity;
  return out;
}

}  // namespace

std::vector<Child> renderQuota(const ServiceLevel& sl) {
  if (!sl.quota) return {};
  const Quota& q = *sl.quota;
  std::vector<Child> out;

  if (!q.hard.empty()) {
    Json quota = {{"apiVersion", "v1"},
                  {"kind", "ResourceQuota"},
                  {"metadata", childMetadata(sl, sl.name)},
                  {"spec", {{"hard", quantityMap(q.hard)}}}};
    out.push_back(Child{ChildGroup::Quota, resources::kResourceQuota, std::move(quota)});
  }

  if (!q.defaultRequest.empty() || !q.defaultLimit.empty()) {
    Json limit = {{"type", "Container"}};
    if (!q.defaultRequest.empty()) limit["defaultRequest"] = quantityMap(q.defaultRequest);
    if (!q.defaultLimit.empty()) limit["default"] = quantityMap(q.defaultLimit);
    Json range = {{"apiVersion", "v1"},
                  {"kind", "LimitRange"},
                  {"metadata", childMetadata(sl, sl.name)},
                  {"spec", {{"limits", Json::array({limit})}}}};
    out.push_back(Child{ChildGroup::Quota, resources::kLimitRange, std::move(range)});
  }
  return out;
}

}  // namespace governor::op
