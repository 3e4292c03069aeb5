#include "operator/reconcile/replicas.h"

#include "kube/duration.h"

namespace governor::op {

ReplicaDecision decideReplicas(const Autoscaling& a, const ReplicaInputs& in) {
  if (in.paused) {
    if (*in.paused == 0 && in.replicas != 0) {
      return {0, "ScaledToZero",
              std::string("scaled to 0 replicas: paused at 0 by the annotation ") + api::kPausedReplicasAnnotation};
    }
    return {};
  }
  if (in.pausedBefore == 0 && in.replicas == 0 && a.minReplicas > 0) {
    return {a.minReplicas, "ScaledToMinReplicas",
            "the pause at 0 ended: scaled to minReplicas (" + std::to_string(a.minReplicas) + ")"};
  }
  if (a.minReplicas > 0 || !in.backlog) return {};
  if (*in.backlog > 0) {
    if (in.replicas > 0) return {};
    return {1, "ScaledFromZero", "a backlog appeared: scaled from 0 to 1 replica, the HPA takes it from there"};
  }
  if (in.replicas == 0) return {};
  const TimePoint since = in.idleSince.value_or(in.now);
  if (in.now - since >= a.idleFor) {
    return {0, "ScaledToZero",
            "the backlog has been empty for " + kube::formatDuration(a.idleFor) + ": scaled to 0 replicas"};
  }
  return {std::nullopt, "", "", since};
}

}  // namespace governor::op
