// Pure helpers for the ServiceLevel status: metav1.Condition lists and the comparison
// that decides whether a live object already holds what we want.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/time.h"

namespace governor::op {

using Json = nlohmann::json;

struct Condition {
  std::string type;
  bool status = false;
  std::string reason;
  std::string message;
};

// Returns `conditions` with `c` set: lastTransitionTime moves to `now` only when the
// status changes, as the API conventions ask.
Json setCondition(Json conditions, const Condition& c, int64_t observedGeneration, const std::string& now);
Json removeCondition(Json conditions, const std::string& type);
// The condition of that type, or an empty object (whose value() gives the defaults).
Json findCondition(const Json& conditions, const std::string& type);

// The ServiceLevel's ScalingActive condition, read from its HPA's status.conditions: False
// with the HPA's own reason and message when the HPA cannot read a metric (its
// ScalingActive=False, e.g. FailedGetExternalMetric) or cannot read or update its target's
// scale (AbleToScale=False, reasons Failed...); True with the HPA's reason while it scales;
// nothing before the HPA has said either.
std::optional<Condition> scalingActive(const Json& hpaStatus);
// True when `c` (from scalingActive) means the HPA cannot do its job, which keeps Ready
// False. ScalingDisabled (the workload set to 0 replicas by hand) is a choice, not a fault.
bool scalingBroken(const Condition& c);

// True when a backlog item the adapter serves (external: metricLabels; custom:
// metric.selector.matchLabels) carries governor.io/fallback: "true": its value is the fallback
// of spec.autoscaling.queue.fallback, not a measured backlog.
bool servedAsFallback(const Json& backlogItem);
// The ServiceLevel's Fallback condition while the adapter serves that fallback.
Condition fallbackCondition(int32_t afterFailures, int32_t replicas);

// True when every field of `desired` is present in `live` with the same value (objects
// recursively; arrays element by element, of equal length). Fields the server adds
// (defaults, status, managedFields) do not count.
bool holds(const Json& live, const Json& desired);

// True when `object` has a controller owner reference with this uid.
bool ownedBy(const Json& object, const std::string& uid);

// A ratio for status, rounded to at most three decimals, no trailing zeros: 0.8126 -> "0.813",
// 0.5 -> "0.5", 1 -> "1".
std::string formatRatio(double ratio);

// Times in status are metav1.Time (kube/time.h).
using kube::parseRfc3339;
using kube::rfc3339;

}  // namespace governor::op
