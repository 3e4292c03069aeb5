// decideReplicas: what the operator does to a workload's replicas beside its HPA.
#include <gtest/gtest.h>

#include "operator/reconcile/replicas.h"

namespace governor::op {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow = std::chrono::system_clock::from_time_t(1'800'000'000);

Autoscaling scalesToZero() {
  Autoscaling a;
  a.minReplicas = 0;
  a.maxReplicas = 10;
  a.idleFor = 5min;
  return a;
}

Autoscaling fromTwo() {
  Autoscaling a;
  a.minReplicas = 2;
  a.maxReplicas = 10;
  return a;
}

TEST(DecideReplicas, APauseAtZeroScalesToNoneAndItsEndBackToMinReplicas) {
  auto paused = decideReplicas(fromTwo(), {.replicas = 4, .paused = 0, .now = kNow});
  EXPECT_EQ(paused.scaleTo, 0);
  EXPECT_EQ(paused.reason, "ScaledToZero");
  EXPECT_NE(paused.message.find("governor.io/paused-replicas"), std::string::npos) << paused.message;
  // Already there, or paused above 0 (the HPA holds it): nothing to do.
  EXPECT_FALSE(decideReplicas(fromTwo(), {.replicas = 0, .paused = 0, .now = kNow}).scaleTo);
  EXPECT_FALSE(decideReplicas(fromTwo(), {.replicas = 4, .paused = 3, .now = kNow}).scaleTo);
  auto resumed = decideReplicas(fromTwo(), {.replicas = 0, .pausedBefore = 0, .now = kNow});
  EXPECT_EQ(resumed.scaleTo, 2);
  EXPECT_EQ(resumed.reason, "ScaledToMinReplicas");
  // A workload someone else set to 0 is theirs: the HPA reports ScalingDisabled, nothing moves.
  EXPECT_FALSE(decideReplicas(fromTwo(), {.replicas = 0, .now = kNow}).scaleTo);
  EXPECT_FALSE(decideReplicas(fromTwo(), {.replicas = 0, .pausedBefore = 3, .now = kNow}).scaleTo);
}

TEST(DecideReplicas, ABacklogBringsTheWorkloadBackFromNone) {
  auto up = decideReplicas(scalesToZero(), {.replicas = 0, .backlog = 1, .now = kNow});
  EXPECT_EQ(up.scaleTo, 1);
  EXPECT_EQ(up.reason, "ScaledFromZero");
  EXPECT_FALSE(decideReplicas(scalesToZero(), {.replicas = 0, .backlog = 0, .now = kNow}).scaleTo);
  EXPECT_FALSE(decideReplicas(scalesToZero(), {.replicas = 3, .backlog = 40, .now = kNow}).scaleTo);
  // A pause wins over the backlog.
  EXPECT_FALSE(decideReplicas(scalesToZero(), {.replicas = 0, .paused = 0, .backlog = 9, .now = kNow}).scaleTo);
}

TEST(DecideReplicas, AnEmptyBacklogScalesToNoneOnlyAfterIdleFor) {
  auto first = decideReplicas(scalesToZero(), {.replicas = 1, .backlog = 0, .now = kNow});
  EXPECT_FALSE(first.scaleTo);
  EXPECT_EQ(first.idleSince, kNow);
  auto later = decideReplicas(scalesToZero(), {.replicas = 1, .backlog = 0, .idleSince = kNow, .now = kNow + 4min});
  EXPECT_FALSE(later.scaleTo);
  EXPECT_EQ(later.idleSince, kNow);
  auto idle = decideReplicas(scalesToZero(), {.replicas = 1, .backlog = 0, .idleSince = kNow, .now = kNow + 5min});
  EXPECT_EQ(idle.scaleTo, 0);
  EXPECT_EQ(idle.reason, "ScaledToZero");
  EXPECT_NE(idle.message.find("5m"), std::string::npos) << idle.message;
  EXPECT_FALSE(idle.idleSince);
  // Work arriving restarts the clock; so does a backlog nobody can measure (no data is not empty).
  EXPECT_FALSE(
      decideReplicas(scalesToZero(), {.replicas = 1, .backlog = 3, .idleSince = kNow, .now = kNow + 9min}).idleSince);
  auto unknown = decideReplicas(scalesToZero(), {.replicas = 1, .idleSince = kNow, .now = kNow + 9min});
  EXPECT_FALSE(unknown.scaleTo);
  EXPECT_FALSE(unknown.idleSince);
  // With minReplicas 1+ an empty backlog is the HPA's business.
  EXPECT_FALSE(decideReplicas(fromTwo(), {.replicas = 2, .backlog = 0, .idleSince = kNow, .now = kNow + 9min}).scaleTo);
}

}  // namespace
}  // namespace governor::op
