// The scale-down guard (spec.autoscaling.scaleDownGuard): while the page tier's burn
// condition holds in Prometheus, the HPA's floor is held at the workload's replicas, so it
// never scales in while the SLO burns; when the burn stops, the floor is released. Pure:
// the reconciler asks Prometheus and passes the answer in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "operator/reconcile/status.h"

namespace governor::op {

inline constexpr const char* kScaleDownGuardCondition = "ScaleDownGuard";

struct GuardInputs {
  bool prometheusConfigured = false;  // the operator runs with --prometheus-url
  // The SLOs (the series' slo label) whose condition holds; nullopt when Prometheus did not
  // answer, with `error` saying why.
  std::optional<std::vector<std::string>> burning;
  std::string error;
  std::string windows;              // the condition in words (BurnConditions::words)
  std::optional<int32_t> replicas;  // the workload's spec.replicas now, when read
  bool heldBefore = false;          // the condition was True at the last status
};

struct GuardDecision {
  std::optional<int32_t> floor;  // RenderOptions::guardFloor
  Condition condition;           // ScaleDownGuard
  std::string event;             // ScaleDownGuardEngaged, ScaleDownGuardReleased or none
  std::string eventMessage;
};

// Without --prometheus-url the guard cannot be evaluated and holds nothing (the condition says
// so). A failed query never engages the guard and never releases one already holding: the
// floor stays at the replicas the workload has until Prometheus says the burn has stopped.
GuardDecision decideScaleDownGuard(const GuardInputs& in);

}  // namespace governor::op
