// What the operator itself does to a workload's replicas, beside its HPA: scale it to none
// for a pause at 0 and back to minReplicas when that pause ends, and, with minReplicas 0,
// to none once the backlog has been empty for idleFor and to one when a backlog appears
// (an HPA cannot hold 0 replicas without its alpha feature gate). Pure, so every rule is
// tested without a cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "operator/api.h"

namespace governor::op {

using TimePoint = std::chrono::system_clock::time_point;

struct ReplicaInputs {
  int32_t replicas = 0;                 // the workload's spec.replicas now
  std::optional<int32_t> paused;        // pausedReplicas(): what a pause holds
  std::optional<int32_t> pausedBefore;  // status.pausedReplicas as last written
  std::optional<double> backlog;        // as the adapter serves it; nullopt: unknown
  std::optional<TimePoint> idleSince;   // status.idleSince as last written
  TimePoint now;
};

struct ReplicaDecision {
  std::optional<int32_t> scaleTo;  // set the workload's replicas to this
  std::string reason;              // the Event's: ScaledToZero, ScaledFromZero, ScaledToMinReplicas
  std::string message;
  std::optional<TimePoint> idleSince;  // since when the backlog has been empty at 1+ replicas
};

// An unknown backlog (the adapter cannot measure it) never scales anything and restarts the
// idle clock: no data is not an empty queue.
ReplicaDecision decideReplicas(const Autoscaling& autoscaling, const ReplicaInputs& in);

}  // namespace governor::op
