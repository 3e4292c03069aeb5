// SIGTERM and SIGINT request a stop at once while a StopOnSignals lives; the waits of
// kube/stop.h end when it is requested, not when their time is up.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "kube/signals.h"
#include "kube/stop.h"
#include "support/slowdown.h"

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(StopOnSignals, ASignalWakesAWaiterAtOnce) {
  for (int sig : {SIGTERM, SIGINT}) {
    std::stop_source stopping;
    StopOnSignals signals(stopping);
    std::jthread waiter([token = stopping.get_token()] { waitUntilStopped(token); });
    auto raised = Clock::now();
    std::raise(sig);
    waiter.join();
    EXPECT_LT(Clock::now() - raised, 1s * testing::kSlowdown) << "signal " << sig;
    EXPECT_TRUE(stopping.stop_requested());
  }
}

TEST(StopOnSignals, EndsWithoutASignal) {
  std::stop_source stopping;
  { StopOnSignals signals(stopping); }
  EXPECT_FALSE(stopping.stop_requested());
}

TEST(SleepUnlessStopped, EndsWhenAStopIsRequestedNotWhenItsTimeIsUp) {
  std::stop_source stopping;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stopping.request_stop();
  });
  auto start = Clock::now();
  EXPECT_TRUE(sleepUnlessStopped(stopping.get_token(), 60s));
  EXPECT_LT(Clock::now() - start, 1s * testing::kSlowdown);
  EXPECT_TRUE(sleepUnlessStopped(stopping.get_token(), 60s)) << "already stopped: returns at once";
}

TEST(SleepUnlessStopped, SleepsItsTimeWithoutAStop) {
  std::stop_source stopping;
  auto start = Clock::now();
  EXPECT_FALSE(sleepUnlessStopped(stopping.get_token(), 50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
}

}  // namespace
}  // namespace governor::kube
