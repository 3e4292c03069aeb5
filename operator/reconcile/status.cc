// Conditions and the "already holds" comparison; see status.h.
#include "operator/reconcile/status.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "api/metrics.h"

namespace governor::op {

Json findCondition(const Json& conditions, const std::string& type) {
  if (conditions.is_array()) {
    for (const auto& c : conditions) {
      if (c.is_object() && c.value("type", "") == type) return c;
    }
  }
  return Json::object();
}

Json setCondition(Json conditions, const Condition& c, int64_t observedGeneration, const std::string& now) {
  if (!conditions.is_array()) conditions = Json::array();
  std::string status = c.status ? "True" : "False";
  Json next = {{"type", c.type},
               {"status", status},
               {"reason", c.reason},
               {"message", c.message},
               {"observedGeneration", observedGeneration},
               {"lastTransitionTime", now}};
  for (auto& existing : conditions) {
    if (existing.value("type", "") != c.type) continue;
    if (existing.value("status", "") == status) next["lastTransitionTime"] = existing.value("lastTransitionTime", now);
    existing = next;
    return conditions;
  }
  conditions.push_back(next);
  return conditions;
}

Json removeCondition(Json conditions, const std::string& type) {
  Json out = Json::array();
  if (!conditions.is_array()) return out;
  for (auto& c : conditions) {
    if (c.value("type", "") != type) out.push_back(std::move(c));
  }
  return out;
}

std::optional<Condition> scalingActive(const Json& hpaStatus) {
  const Json conditions = hpaStatus.value("conditions", Json::array());
  auto said = [](const Json& c) {
    return Condition{"ScalingActive", c.value("status", "") == "True", c.value("reason", ""), c.value("message", "")};
  };
  const Json able = findCondition(conditions, "AbleToScale");
  if (able.value("status", "") == "False" && able.value("reason", "").starts_with("Failed")) {
    return said(able);
  }
  const Json active = findCondition(conditions, "ScalingActive");
  if (active.empty()) return std::nullopt;
  return said(active);
}

bool scalingBroken(const Condition& c) { return !c.status && c.reason != "ScalingDisabled"; }

bool servedAsFallback(const Json& backlogItem) {
  auto marked = [](const Json& labels) {
    return labels.is_object() && labels.value(api::kFallbackLabel, "") == "true";
  };
  const Json metric = backlogItem.value("metric", Json::object());
  const Json selector = metric.is_object() ? metric.value("selector", Json::object()) : Json::object();
  return marked(backlogItem.value("metricLabels", Json::object())) ||
         (selector.is_object() && marked(selector.value("matchLabels", Json::object())));
}

Condition fallbackCondition(int32_t afterFailures, int32_t replicas) {
  return {"Fallback", true, "SourceFailing",
          "the metrics adapter failed to measure the backlog " + std::to_string(afterFailures) +
              (afterFailures == 1 ? " poll" : " polls in a row") +
              " or more, so it serves the fallback of spec.autoscaling.queue.fallback, which asks the HPA for " +
              std::to_string(replicas) + (replicas == 1 ? " replica" : " replicas") +
              " until the backlog is measured again (the adapter's log names the error)"};
}

bool holds(const Json& live, const Json& desired) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [key, value] : desired.items()) {
      auto it = live.find(key);
      if (it == live.end()) {
        // The server drops empty maps, lists and nulls: absent holds them.
        if (value.is_null() || (value.is_structured() && value.empty())) continue;
        return false;
      }
      if (!holds(*it, value)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i) {
      if (!holds(live[i], desired[i])) return false;
    }
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return live == desired;
}

bool ownedBy(const Json& object, const std::string& uid) {
  const auto& refs = object.value("metadata", Json::object()).value("ownerReferences", Json::array());
  for (const auto& ref : refs) {
    if (ref.value("uid", "") == uid && ref.value("controller", false)) return true;
  }
  return false;
}

std::string formatRatio(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ratio);
  std::string s = buf;
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace governor::op
