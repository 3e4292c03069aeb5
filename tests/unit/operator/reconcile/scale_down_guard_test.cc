// decideScaleDownGuard: when the HPA's floor is held at the workload's replicas, and what the
// ServiceLevel's ScaleDownGuard condition and Events say.
#include <gtest/gtest.h>

#include "operator/reconcile/scale_down_guard.h"

namespace governor::op {
namespace {

const std::string kWindows = "availability: 14.4x over 1h and 5m (2% of the budget in 1h)";

GuardInputs answered(std::vector<std::string> burning, bool heldBefore) {
  return {.prometheusConfigured = true,
          .burning = std::move(burning),
          .windows = kWindows,
          .replicas = 6,
          .heldBefore = heldBefore};
}

TEST(DecideScaleDownGuard, ABurnHoldsTheFloorAtTheReplicasWithAnEventWhenItEngages) {
  auto engaged = decideScaleDownGuard(answered({"availability"}, false));
  EXPECT_EQ(engaged.floor, 6);
  EXPECT_EQ(engaged.condition.type, "ScaleDownGuard");
  EXPECT_TRUE(engaged.condition.status);
  EXPECT_EQ(engaged.condition.reason, "ErrorBudgetBurning");
  EXPECT_EQ(engaged.condition.message, "the availability error budget is burning at the page tier's rate (" + kWindows +
                                           "): the HPA's minReplicas is held at 6 replicas until the burn stops");
  EXPECT_EQ(engaged.event, "ScaleDownGuardEngaged");

  auto still = decideScaleDownGuard(answered({"availability", "latency"}, true));
  EXPECT_EQ(still.floor, 6);
  EXPECT_NE(still.condition.message.find("the availability and latency error budget"), std::string::npos);
  EXPECT_EQ(still.event, "");  // one Event per engagement, not per reconcile
}

TEST(DecideScaleDownGuard, TheEndOfTheBurnReleasesTheFloorWithAnEvent) {
  auto released = decideScaleDownGuard(answered({}, true));
  EXPECT_FALSE(released.floor);
  EXPECT_FALSE(released.condition.status);
  EXPECT_EQ(released.condition.reason, "ErrorBudgetNotBurning");
  EXPECT_EQ(released.event, "ScaleDownGuardReleased");
  EXPECT_EQ(decideScaleDownGuard(answered({}, false)).event, "");
}

TEST(DecideScaleDownGuard, WithoutPrometheusItSaysItCannotBeEvaluated) {
  auto off = decideScaleDownGuard({.windows = kWindows, .replicas = 6});
  EXPECT_FALSE(off.floor);
  EXPECT_FALSE(off.condition.status);
  EXPECT_EQ(off.condition.reason, "PrometheusNotConfigured");
  EXPECT_NE(off.condition.message.find("--prometheus-url"), std::string::npos) << off.condition.message;
  EXPECT_EQ(decideScaleDownGuard({.replicas = 6, .heldBefore = true}).event, "ScaleDownGuardReleased");
}

TEST(DecideScaleDownGuard, AFailedQueryNeitherEngagesNorReleases) {
  GuardInputs in{.prometheusConfigured = true, .error = "Unavailable: could not connect", .replicas = 6};
  auto notHeld = decideScaleDownGuard(in);
  EXPECT_FALSE(notHeld.floor);
  EXPECT_FALSE(notHeld.condition.status);
  EXPECT_EQ(notHeld.condition.reason, "ErrorBudgetBurnUnknown");
  EXPECT_NE(notHeld.condition.message.find("could not connect"), std::string::npos);
  in.heldBefore = true;
  auto held = decideScaleDownGuard(in);
  EXPECT_EQ(held.floor, 6);
  EXPECT_TRUE(held.condition.status);
  EXPECT_EQ(held.condition.reason, "ErrorBudgetBurnUnknown");
  EXPECT_EQ(held.event, "");
}

TEST(DecideScaleDownGuard, NothingToHoldAtNoReplicas) {
  auto in = answered({"availability"}, false);
  in.replicas = 0;
  auto none = decideScaleDownGuard(in);
  EXPECT_FALSE(none.floor);
  EXPECT_TRUE(none.condition.status);
  EXPECT_NE(none.condition.message.find("the HPA's floor is not raised"), std::string::npos);
}

}  // namespace
}  // namespace governor::op
