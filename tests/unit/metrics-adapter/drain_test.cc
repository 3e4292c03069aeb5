// The drain-time target's arithmetic (metrics-adapter/drain.h): the rates between two readings
// of a queue, the replicas that drain it in time, and what DrainEstimator learns, and when.
#include "metrics-adapter/drain.h"

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
const auto t0 = std::chrono::steady_clock::time_point() + 1h;

QueueReading stream(std::chrono::seconds at, double backlog, double added, double acknowledged, int32_t ready) {
  return {.at = t0 + at, .backlog = backlog, .replicas = {ready, ready}, .added = added, .acknowledged = acknowledged};
}

QueueReading list(std::chrono::seconds at, double backlog, int32_t ready, std::optional<double> arrival,
                  std::optional<double> processed = std::nullopt) {
  return {.at = t0 + at,
          .backlog = backlog,
          .replicas = {ready, ready},
          .arrivalRate = arrival,
          .processedRate = processed};
}

TEST(DrainRates, AStreamCountsBothRatesItself) {
  auto rates = ratesBetween(stream(0s, 10, 100, 90, 2), stream(10s, 30, 150, 120, 2));
  ASSERT_TRUE(rates.ok()) << rates.error().what();
  EXPECT_DOUBLE_EQ(rates->arrival, 5);    // 50 added in 10 s
  EXPECT_DOUBLE_EQ(rates->processed, 3);  // 30 acknowledged in 10 s
}

TEST(DrainRates, AListDerivesTheMissingRateFromItsLength) {
  // 40 more entries in 10 s: 4/s more arrive than are taken off.
  auto fromArrival = ratesBetween(list(0s, 10, 2, 9), list(10s, 50, 2, 10));
  ASSERT_TRUE(fromArrival.ok());
  EXPECT_DOUBLE_EQ(fromArrival->arrival, 10) << "the latest reading's rate from Prometheus";
  EXPECT_DOUBLE_EQ(fromArrival->processed, 6);
  auto fromProcessed = ratesBetween(list(0s, 50, 2, std::nullopt, 6), list(10s, 10, 2, std::nullopt, 6));
  ASSERT_TRUE(fromProcessed.ok());
  EXPECT_DOUBLE_EQ(fromProcessed->arrival, 2);  // 6/s taken off, the list 4/s shorter
  EXPECT_DOUBLE_EQ(fromProcessed->processed, 6);
  auto both = ratesBetween(list(0s, 0, 1, 3, 1), list(10s, 0, 1, 3, 1));
  ASSERT_TRUE(both.ok());
  EXPECT_DOUBLE_EQ(both->arrival, 3) << "both given: neither is derived";
  EXPECT_DOUBLE_EQ(both->processed, 1);
  // A Prometheus rate that lags behind the list never makes a negative rate.
  auto lagging = ratesBetween(list(0s, 0, 1, 1), list(10s, 100, 1, 1));
  ASSERT_TRUE(lagging.ok());
  EXPECT_DOUBLE_EQ(lagging->processed, 0);
}

TEST(DrainRates, ReadingsThatGiveNoRateAreErrors) {
  auto same = ratesBetween(stream(5s, 1, 1, 0, 1), stream(5s, 1, 1, 0, 1));
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.error().status.message.find("same time"), std::string::npos);
  auto remade = ratesBetween(stream(0s, 1, 500, 499, 1), stream(10s, 1, 3, 2, 1));
  ASSERT_FALSE(remade.ok());
  EXPECT_NE(remade.error().status.message.find("made again"), std::string::npos);
  EXPECT_FALSE(ratesBetween(list(0s, 1, 1, std::nullopt), list(10s, 1, 1, std::nullopt)).ok());
}

TEST(DrainRates, ReplicasToDrainInTime) {
  // 5/s arriving and 60 waiting, to be gone in 30 s: 7/s, at 2/s per replica 3.5 replicas.
  EXPECT_DOUBLE_EQ(drainReplicas(5, 60, 30s, 2), 3.5);
  EXPECT_DOUBLE_EQ(drainReplicas(0, 0, 30s, 2), 0);
  EXPECT_DOUBLE_EQ(drainReplicas(4, 0, 2min, 2), 2) << "no backlog: just keep up";
}

TEST(DrainEstimator, LearnsTheRatePerReplicaOnlyWhileTheWorkersAreBusy) {
  DrainEstimator drains;
  const DrainEstimator::Key key{"shop", "worker"};
  auto first = drains.observe(key, stream(0s, 0, 0, 0, 2), 30s);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().status.message.find("second poll"), std::string::npos);

  // Idle and empty: nothing is needed, whether or not a rate per replica is known.
  auto idle = drains.observe(key, stream(10s, 0, 0, 0, 2), 30s);
  ASSERT_TRUE(idle.ok()) << idle.error().what();
  EXPECT_EQ(*idle, 0);

  // Entries arrive and are taken off at once: the backlog stays 0, so what two replicas do
  // says nothing about what they could do.
  auto keepingUp = drains.observe(key, stream(20s, 0, 40, 40, 2), 30s);
  ASSERT_FALSE(keepingUp.ok());
  EXPECT_NE(keepingUp.error().status.message.find("not measured yet"), std::string::npos);
  EXPECT_FALSE(drains.perReplicaRate(key));

  ASSERT_FALSE(drains.observe(key, stream(30s, 80, 120, 40, 2), 30s).ok()) << "from 0: not busy the whole poll";
  // A short list at both ends of a poll: 20 waiting, 60 taken off in 10 s. The workers may
  // have found it empty between arrivals, so what they took says nothing about what they can.
  ASSERT_FALSE(drains.observe(key, stream(40s, 20, 160, 140, 2), 30s).ok()) << "80 waiting, 100 taken off";
  EXPECT_FALSE(drains.perReplicaRate(key));
  ASSERT_FALSE(drains.observe(key, stream(50s, 70, 270, 200, 2), 30s).ok()) << "20 waiting, 60 taken off";
  EXPECT_FALSE(drains.perReplicaRate(key));

  // Busy: 70 waiting at the start of the poll and 60 taken off in 10 s, 3/s for each of two.
  auto busy = drains.observe(key, stream(60s, 100, 360, 260, 2), 30s);
  ASSERT_TRUE(busy.ok()) << busy.error().what();
  EXPECT_DOUBLE_EQ(*drains.perReplicaRate(key), 3);
  // 9/s arriving, 100 waiting to go within 30 s: (9 + 100/30) / 3 replicas.
  EXPECT_DOUBLE_EQ(*busy, (9 + 100.0 / 30) / 3);

  // A third replica joined during the next poll: its rate is not learnt from.
  ASSERT_TRUE(drains.observe(key, stream(70s, 110, 450, 340, 3), 30s).ok());
  EXPECT_DOUBLE_EQ(*drains.perReplicaRate(key), 3);

  // Drained: once empty and quiet, no replica is needed, and the rate learnt stays.
  ASSERT_TRUE(drains.observe(key, stream(80s, 0, 450, 450, 3), 30s).ok());
  auto drained = drains.observe(key, stream(90s, 0, 450, 450, 3), 30s);
  ASSERT_TRUE(drained.ok());
  EXPECT_EQ(*drained, 0);
  EXPECT_DOUBLE_EQ(*drains.perReplicaRate(key), 3);
}

// A pod works a moment before its workload's status counts it ready: while the workload asks
// for more replicas than are ready, the work is not divided by the ready ones.
TEST(DrainEstimator, LearnsNothingWhileTheWorkloadHasReplicasOnTheirWay) {
  DrainEstimator drains;
  const DrainEstimator::Key key{"shop", "scaling"};
  auto scalingUp = [](std::chrono::seconds at, double backlog, double added, double acknowledged) {
    QueueReading r = stream(at, backlog, added, acknowledged, 2);
    r.replicas.desired = 3;
    return r;
  };
  ASSERT_FALSE(drains.observe(key, scalingUp(0s, 100, 100, 0), 1min).ok());
  // Three pods took 150 off in 10 s while the status said 2 ready: not 7.5/s each.
  ASSERT_FALSE(drains.observe(key, scalingUp(10s, 70, 220, 150), 1min).ok());
  EXPECT_FALSE(drains.perReplicaRate(key));
  // Settled at 3: 5/s each.
  ASSERT_FALSE(drains.observe(key, stream(20s, 200, 500, 300, 3), 1min).ok());
  ASSERT_TRUE(drains.observe(key, stream(30s, 170, 620, 450, 3), 1min).ok());
  EXPECT_DOUBLE_EQ(*drains.perReplicaRate(key), 5);
}

TEST(DrainEstimator, TheRatePerReplicaIsAnAverageWhoseWeightHalvesEveryHalfLife) {
  DrainEstimator drains(10s);
  const DrainEstimator::Key key{"shop", "worker"};
  ASSERT_FALSE(drains.observe(key, stream(0s, 100, 0, 0, 1), 1min).ok());
  ASSERT_TRUE(drains.observe(key, stream(10s, 100, 40, 40, 1), 1min).ok());  // 4/s
  EXPECT_DOUBLE_EQ(*drains.perReplicaRate(key), 4);
  ASSERT_TRUE(drains.observe(key, stream(20s, 100, 60, 60, 1), 1min).ok());  // 2/s
  // The older 10 s count half: (40/2 + 20) / (10/2 + 10).
  EXPECT_DOUBLE_EQ(*drains.perReplicaRate(key), 40.0 / 15);
}

TEST(DrainEstimator, WorkersThatTakeNothingOffAreAnErrorNotInfiniteReplicas) {
  DrainEstimator drains;
  const DrainEstimator::Key key{"shop", "stuck"};
  ASSERT_FALSE(drains.observe(key, list(0s, 10, 2, 1), 1min).ok());
  auto stuck = drains.observe(key, list(10s, 20, 2, 1), 1min);  // 1/s in, the list 1/s longer
  ASSERT_FALSE(stuck.ok());
  EXPECT_NE(stuck.error().status.message.find("took nothing off"), std::string::npos);
}

TEST(DrainEstimator, RetainForgetsOtherQueues) {
  DrainEstimator drains;
  const DrainEstimator::Key kept{"shop", "a"}, gone{"shop", "b"};
  for (const auto& key : {kept, gone}) {
    ASSERT_FALSE(drains.observe(key, stream(0s, 10, 0, 0, 1), 1min).ok());
    ASSERT_TRUE(drains.observe(key, stream(10s, 10, 10, 10, 1), 1min).ok());
  }
  drains.retain({kept});
  EXPECT_TRUE(drains.perReplicaRate(kept));
  EXPECT_FALSE(drains.perReplicaRate(gone));
  EXPECT_FALSE(drains.observe(gone, stream(20s, 10, 20, 20, 1), 1min).ok()) << "forgotten: a first reading again";
}

}  // namespace
}  // namespace governor::adapter
