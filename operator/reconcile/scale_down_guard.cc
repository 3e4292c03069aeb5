#include "operator/reconcile/scale_down_guard.h"

namespace governor::op {
namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " and ") + w;
  return out;
}

}  // namespace

GuardDecision decideScaleDownGuard(const GuardInputs& in) {
  GuardDecision out;
  const std::string type = kScaleDownGuardCondition;
  // Held at the replicas the workload has: never below, so the HPA cannot scale in.
  const std::optional<int32_t> floor = in.replicas && *in.replicas > 0 ? in.replicas : std::nullopt;
  const std::string held = floor ? "the HPA's minReplicas is held at " + std::to_string(*floor) + " replicas"
                                 : "the HPA's floor is not raised";

  if (!in.prometheusConfigured) {
    out.condition = {type, false, "PrometheusNotConfigured",
                     "the operator runs without --prometheus-url, so the page-tier burn cannot be read: the"
                     " scale-down guard cannot be evaluated and the HPA scales in as usual"};
    if (in.heldBefore) {
      out.event = "ScaleDownGuardReleased";
      out.eventMessage = "scale-down released: " + out.condition.message;
    }
    return out;
  }
  if (!in.burning) {
    const std::string why = "cannot read the page-tier burn from Prometheus: " + in.error;
    if (in.heldBefore) {
      out.floor = floor;
      out.condition = {type, true, "ErrorBudgetBurnUnknown", why + "; it was burning, so " + held};
    } else {
      out.condition = {type, false, "ErrorBudgetBurnUnknown",
                       why + "; the scale-down guard cannot be evaluated and the HPA scales in as usual"};
    }
    return out;
  }
  if (!in.burning->empty()) {
    out.floor = floor;
    out.condition = {type, true, "ErrorBudgetBurning",
                     "the " + joined(*in.burning) + " error budget is burning at the page tier's rate (" + in.windows +
                         "): " + held + " until the burn stops"};
    if (!in.heldBefore) {
      out.event = "ScaleDownGuardEngaged";
      out.eventMessage = "scale-down held: " + out.condition.message;
    }
    return out;
  }
  out.condition = {type, false, "ErrorBudgetNotBurning",
                   "no page-tier burn (" + in.windows + "): the HPA scales in as usual"};
  if (in.heldBefore) {
    out.event = "ScaleDownGuardReleased";
    out.eventMessage = "scale-down released: the page-tier burn has stopped; the HPA's minReplicas is its own again";
  }
  return out;
}

}  // namespace governor::op
