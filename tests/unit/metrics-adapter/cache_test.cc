// MetricCache and Poller with a fake clock and fake measure functions: no Redis, no Prometheus.
#include "metrics-adapter/cache.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
using kube::Error;
using kube::Result;
using kube::Status;
using TimePoint = std::chrono::system_clock::time_point;

// A clock that moves only when told to.
struct FakeClock {
  TimePoint now = TimePoint(std::chrono::seconds(1'700'000'000));
  kube::Now<std::chrono::system_clock> clock() {
    return [this] { return now; };
  }
};

// The Poller's shared list of `targets`.
Poller::Targets listOf(std::vector<Poller::Target> targets) {
  return std::make_shared<const std::vector<Poller::Target>>(std::move(targets));
}

Error unavailable(const std::string& message) {
  return Error{Status{0, "Unavailable", message}, "redis r:6379 key jobs"};
}

TEST(MetricCacheTest, UpdateStoresValueAndTimes) {
  FakeClock time;
  MetricCache cache(time.clock());
  EXPECT_FALSE(cache.get("k").has_value());

  cache.update("k", 42.0);
  auto entry = cache.get("k");
  ASSERT_TRUE(entry.has_value());
  EXPECT_TRUE(entry->ok());
  EXPECT_EQ(entry->value, 42.0);
  EXPECT_EQ(entry->timestamp, time.now);
  EXPECT_EQ(entry->lastSuccess, time.now);
  EXPECT_FALSE(entry->error.has_value());
}

TEST(MetricCacheTest, ErrorKeepsValueAndRecordsErrorThenRecovers) {
  FakeClock time;
  MetricCache cache(time.clock());
  const TimePoint first = time.now;
  cache.update("k", 7.0);

  time.now += 15s;
  cache.update("k", unavailable("connection refused"));
  auto failed = cache.get("k");
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(failed->ok());
  ASSERT_TRUE(failed->error.has_value());
  EXPECT_EQ(failed->error->what(), "redis r:6379 key jobs: Unavailable: connection refused");
  EXPECT_EQ(failed->value, 7.0);  // kept, but not ok(): the API answers the error
  EXPECT_EQ(failed->timestamp, time.now);
  EXPECT_EQ(failed->lastSuccess, first);
  EXPECT_EQ(failed->failures, 1);
  cache.update("k", unavailable("connection refused"));
  EXPECT_EQ(cache.get("k")->failures, 2);  // in a row, for a fallback after so many

  time.now += 15s;
  cache.update("k", 9.0);
  auto recovered = cache.get("k");
  ASSERT_TRUE(recovered.has_value());
  EXPECT_TRUE(recovered->ok());
  EXPECT_EQ(recovered->value, 9.0);
  EXPECT_FALSE(recovered->error.has_value());
  EXPECT_EQ(recovered->lastSuccess, time.now);
  EXPECT_EQ(recovered->failures, 0);
}

// The adapter's log tells when a metric starts failing (with the error) and when it
// recovers, once each, not on every poll.
TEST(MetricCacheTest, FailuresAreLoggedWhenTheyStartAndWhenTheyEnd) {
  auto out = std::make_shared<std::ostringstream>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(*out)));
  spdlog::set_pattern("%l %v");
  MetricCache cache;
  cache.update("k", unavailable("connection refused"));
  cache.update("k", unavailable("connection refused"));
  cache.update("k", 3.0);
  cache.update("k", 4.0);
  cache.update("k", unavailable("timed out"));
  spdlog::set_default_logger(previous);
  EXPECT_EQ(out->str(),
            "warning k: redis r:6379 key jobs: Unavailable: connection refused\n"
            "info k: measured again\n"
            "warning k: redis r:6379 key jobs: Unavailable: timed out\n");
}

// A failing metric's line names its ServiceLevel (the target's owner) and the error's reason,
// for `jq 'select(.servicelevel=="checkout")'`.
TEST(PollerTest, AFailingMetricIsLoggedWithItsServiceLevel) {
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(out)));
  ASSERT_TRUE(kube::configureLogging("info", "json").ok());
  MetricCache cache;
  Poller poller(
      cache,
      [] {
        return listOf(
            {{"external/shop/governor_queue_backlog/checkout",
              [] { return Result<double>(unavailable("connection refused")); }, "redis r:6379", "shop/checkout"}});
      },
      1h);
  poller.pollOnce();
  spdlog::set_default_logger(previous);
  auto line = nlohmann::json::parse(out.str());
  EXPECT_EQ(line["msg"],
            "external/shop/governor_queue_backlog/checkout: redis r:6379 key jobs: Unavailable: connection refused");
  EXPECT_EQ(line["namespace"], "shop");
  EXPECT_EQ(line["servicelevel"], "checkout");
  EXPECT_EQ(line["reason"], "Unavailable");
}

TEST(MetricCacheTest, FirstMeasurementFailingIsNeverAZero) {
  MetricCache cache;
  cache.update("k", unavailable("timed out after 2s"));
  auto entry = cache.get("k");
  ASSERT_TRUE(entry.has_value());
  EXPECT_FALSE(entry->ok());
  EXPECT_FALSE(entry->lastSuccess.has_value());
}

TEST(MetricCacheTest, NonFiniteValuesAreErrors) {
  MetricCache cache;
  cache.update("k", 3.0);
  cache.update("k", std::numeric_limits<double>::quiet_NaN());
  auto entry = cache.get("k");
  ASSERT_TRUE(entry.has_value());
  EXPECT_FALSE(entry->ok());
  EXPECT_EQ(entry->value, 3.0);
  cache.update("k", std::numeric_limits<double>::infinity());
  EXPECT_FALSE(cache.get("k")->ok());
}

TEST(MetricCacheTest, RemoveAndSortedKeys) {
  MetricCache cache;
  cache.update("external/b/m/x", 1.0);
  cache.update("external/a/m/x", 2.0);
  cache.update("custom/a/deployments.apps/web/m", 3.0);
  EXPECT_EQ(cache.keys(),
            (std::vector<std::string>{"custom/a/deployments.apps/web/m", "external/a/m/x", "external/b/m/x"}));
  cache.remove("external/a/m/x");
  cache.remove("not-there");
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"custom/a/deployments.apps/web/m", "external/b/m/x"}));
  EXPECT_FALSE(cache.get("external/a/m/x").has_value());
}

TEST(MetricCacheTest, AgeIsThatOfTheOldestSuccess) {
  FakeClock time;
  MetricCache cache(time.clock());
  EXPECT_EQ(cache.ageSeconds(), 0.0);
  cache.update("never", unavailable("refused"));
  EXPECT_EQ(cache.ageSeconds(), 0.0);  // nothing ever succeeded

  cache.update("a", 1.0);
  time.now += 10s;
  cache.update("b", 1.0);
  time.now += 5s;
  EXPECT_DOUBLE_EQ(cache.ageSeconds(), 15.0);

  cache.update("a", unavailable("refused"));  // failing: its value grows old
  time.now += 1500ms;
  EXPECT_DOUBLE_EQ(cache.ageSeconds(), 16.5);
  cache.update("a", 2.0);
  EXPECT_DOUBLE_EQ(cache.ageSeconds(), 6.5);  // now b is the oldest
}

TEST(MetricCacheTest, ManyReadersOneWriter) {
  MetricCache cache;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        auto e = cache.get("k");
        if (e && e->ok() && (e->value < 0 || e->value > 1000)) ++bad;
        (void)cache.keys();
        (void)cache.ageSeconds();
      }
    });
  }
  for (int i = 0; i <= 1000; ++i) cache.update("k", static_cast<double>(i));
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(cache.get("k")->value, 1000.0);
}

// Targets whose values and failures the test sets.
class FakeTargets {
 public:
  void set(const std::string& key, Result<double> value) {
    std::lock_guard lock(mutex_);
    values_.insert_or_assign(key, std::move(value));
  }
  void drop(const std::string& key) {
    std::lock_guard lock(mutex_);
    values_.erase(key);
  }
  Poller::TargetList list() {
    return [this] {
      std::lock_guard lock(mutex_);
      std::vector<Poller::Target> out;
      for (const auto& [key, value] : values_) {
        out.push_back({key, [this, key = key] {
                         std::lock_guard inner(mutex_);
                         ++measured_;
                         auto it = values_.find(key);
                         return it == values_.end() ? Result<double>(unavailable("gone")) : it->second;
                       }});
      }
      return listOf(std::move(out));
    };
  }
  int measured() {
    std::lock_guard lock(mutex_);
    return measured_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, Result<double>> values_;
  int measured_ = 0;
};

TEST(PollerTest, PollOnceUpdatesEveryTarget) {
  MetricCache cache;
  FakeTargets targets;
  targets.set("a", 1.0);
  targets.set("b", 2.0);
  Poller poller(cache, targets.list(), 1h);
  poller.pollOnce();
  EXPECT_EQ(poller.rounds(), 1u);
  EXPECT_EQ(cache.get("a")->value, 1.0);
  EXPECT_EQ(cache.get("b")->value, 2.0);
}

TEST(PollerTest, ErrorKeepsOldValueThenRecovers) {
  MetricCache cache;
  FakeTargets targets;
  targets.set("a", 5.0);
  Poller poller(cache, targets.list(), 1h);
  poller.pollOnce();

  targets.set("a", unavailable("connection refused"));
  poller.pollOnce();
  auto failed = cache.get("a");
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(failed->ok());
  EXPECT_EQ(failed->value, 5.0);
  EXPECT_NE(failed->error->what().find("connection refused"), std::string::npos);

  targets.set("a", 6.0);
  poller.pollOnce();
  EXPECT_TRUE(cache.get("a")->ok());
  EXPECT_EQ(cache.get("a")->value, 6.0);
}

TEST(PollerTest, RemovesKeysNoLongerTargetedButNotOthers) {
  MetricCache cache;
  cache.update("someone-else", 1.0);
  FakeTargets targets;
  targets.set("a", 1.0);
  targets.set("b", 2.0);
  Poller poller(cache, targets.list(), 1h);
  poller.pollOnce();
  targets.drop("b");
  poller.pollOnce();
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"a", "someone-else"}));
}

TEST(PollerTest, ThrowingMeasureIsRecordedAsError) {
  MetricCache cache;
  Poller poller(
      cache,
      [] {
        return listOf({{"t", []() -> Result<double> { throw std::runtime_error("boom"); }}, {"n", nullptr}});
      },
      1h);
  poller.pollOnce();
  ASSERT_TRUE(cache.get("t").has_value());
  EXPECT_FALSE(cache.get("t")->ok());
  EXPECT_EQ(cache.get("t")->error->status.message, "boom");
  EXPECT_FALSE(cache.get("n")->ok());
}

TEST(PollerTest, ThrowingTargetListKeepsTheCache) {
  MetricCache cache;
  bool fail = false;
  Poller poller(
      cache,
      [&] {
        if (fail) throw std::runtime_error("informer not synced");
        return listOf({{"a", [] { return Result<double>(1.0); }}});
      },
      1h);
  poller.pollOnce();
  fail = true;
  poller.pollOnce();
  EXPECT_EQ(cache.keys(), std::vector<std::string>{"a"});
  EXPECT_EQ(poller.rounds(), 1u);
}

// Waits for a condition with a deadline; the poller's thread runs on real time.
template <typename F>
bool eventually(F condition, std::chrono::milliseconds within = 5s) {
  for (auto deadline = std::chrono::steady_clock::now() + within; std::chrono::steady_clock::now() < deadline;) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

TEST(PollerTest, ThreadPollsEveryIntervalAndFollowsTheSource) {
  MetricCache cache;
  FakeTargets targets;
  targets.set("a", 1.0);
  Poller poller(cache, targets.list(), 10ms);
  poller.start();
  ASSERT_TRUE(eventually([&] { return cache.get("a").has_value(); }));
  EXPECT_EQ(cache.get("a")->value, 1.0);

  targets.set("a", unavailable("timed out"));
  ASSERT_TRUE(eventually([&] { return !cache.get("a")->ok(); }));
  EXPECT_EQ(cache.get("a")->value, 1.0);

  targets.set("a", 2.0);
  ASSERT_TRUE(eventually([&] { return cache.get("a")->ok() && cache.get("a")->value == 2.0; }));
  const uint64_t before = poller.rounds();
  ASSERT_TRUE(eventually([&] { return poller.rounds() >= before + 3; }));
  poller.stop();
}

TEST(PollerTest, StopWakesTheThreadPromptly) {
  MetricCache cache;
  FakeTargets targets;
  targets.set("a", 1.0);
  Poller poller(cache, targets.list(), 1h);
  poller.start();
  ASSERT_TRUE(eventually([&] { return poller.rounds() == 1; }));
  const auto started = std::chrono::steady_clock::now();
  poller.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);
  poller.stop();   // idempotent
  poller.start();  // not restartable: nothing happens
  EXPECT_EQ(poller.rounds(), 1u);
}

TEST(PollerTest, StopSkipsTheRestOfARound) {
  MetricCache cache;
  std::atomic<int> measured{0};
  std::vector<Poller::Target> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back({"t" + std::to_string(i), [&measured] {
                      ++measured;
                      std::this_thread::sleep_for(20ms);
                      return Result<double>(1.0);
                    }});
  }
  Poller poller(
      cache, [&] { return listOf(slow); }, 1h);
  poller.start();
  ASSERT_TRUE(eventually([&] { return measured >= 1; }));
  const auto started = std::chrono::steady_clock::now();
  poller.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);
  EXPECT_LT(measured, 100);
}

TEST(PollerTest, DestructorStopsARunningThread) {
  MetricCache cache;
  const auto started = std::chrono::steady_clock::now();
  {
    Poller poller(
        cache, [] { return listOf({}); }, 1h);
    poller.start();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);
}

}  // namespace
}  // namespace governor::adapter

namespace governor::adapter {
namespace {

// Issue 16 part 6: a value is current for at most the maximum age, then an error (503).
TEST(MetricCacheTest, AValueOlderThanTheMaximumAgeIsStale) {
  FakeClock clock;
  MetricCache cache(clock.clock(), 10s);
  cache.update("a", Result<double>(7.0));
  clock.now += 10s;
  ASSERT_TRUE(cache.get("a")->ok());
  clock.now += 1ms;
  auto stale = cache.get("a");
  ASSERT_FALSE(stale->ok());
  EXPECT_EQ(stale->error->status.reason, "Stale");
  EXPECT_EQ(stale->error->what(),
            "a: Stale: measured 10.001 s ago, more than the maximum age of 10 s: its source is "
            "slow or hung");
  cache.update("a", Result<double>(8.0));
  EXPECT_TRUE(cache.get("a")->ok());
  EXPECT_EQ(cache.get("a")->value, 8.0);
}

// Blocks measurements until opened.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  Result<double> pass(double value) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return open_; });
    return value;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Declared after the poller: a failed assertion does not leave it waiting on a closed gate.
struct OpenAtExit {
  Gate& gate;
  ~OpenAtExit() { gate.open(); }
};

// The first target hangs: the others of its source, not yet measured when the next round
// comes, are errors from then on, not their previous values.
TEST(PollerTest, TargetsOfABusySourceNotYetMeasuredAreStaleAtTheNextRound) {
  MetricCache cache;
  Gate gate;
  std::atomic<bool> hung{false};
  std::vector<Poller::Target> targets = {
      {"t0", [&] { return hung ? gate.pass(1.0) : Result<double>(1.0); }, "prometheus p"},
      {"t1", [] { return Result<double>(1.0); }, "prometheus p"},
      {"t2", [] { return Result<double>(1.0); }, "prometheus p"}};
  Poller poller(
      cache, [&] { return listOf(targets); }, 50ms);  // one at a time: t1 and t2 wait for t0
  OpenAtExit openAtExit{gate};
  poller.start();
  ASSERT_TRUE(eventually([&] { return poller.rounds() >= 1; }));
  ASSERT_TRUE(cache.get("t1")->ok());
  hung = true;
  ASSERT_TRUE(eventually([&] { return !cache.get("t1")->ok() && !cache.get("t2")->ok(); }));
  EXPECT_EQ(cache.get("t1")->error->what(),
            "t1: Stale: not measured: prometheus p is still busy with the previous round (slow or hung)");
  EXPECT_TRUE(cache.get("t0")->ok());  // still measuring: bounded by the source's timeout
  gate.open();
  EXPECT_TRUE(eventually([&] { return cache.get("t1")->ok() && cache.get("t2")->ok(); }));
}

// A source that hangs in one round holds up no other source in the rounds after it, with the
// same target list round after round.
TEST(PollerTest, AHungSourceHoldsUpNoOtherSourceInTheRoundsAfter) {
  MetricCache cache;
  Gate gate;
  std::atomic<bool> hung{false};
  std::atomic<int> measured{0};
  const Poller::Targets targets =
      listOf({{"hung", [&] { return hung ? gate.pass(1.0) : Result<double>(1.0); }, "redis a"},
              {"fine",
               [&measured] {
                 ++measured;
                 return Result<double>(1.0);
               },
               "redis b"}});
  Poller poller(
      cache, [&] { return targets; }, 10ms);
  OpenAtExit openAtExit{gate};
  poller.start();
  ASSERT_TRUE(eventually([&] { return poller.rounds() >= 1; }));
  hung = true;
  const int before = measured;
  EXPECT_TRUE(eventually([&] { return measured >= before + 3; }));
  EXPECT_TRUE(cache.get("hung")->ok()) << "measured in the first round, hung since";
  gate.open();
  poller.stop();
}

// Owners share their source's workers: a hung owner holds one, the others go on.
TEST(PollerTest, AHungOwnerTakesOneWorkerOfItsSource) {
  MetricCache cache;
  Gate gate;
  std::vector<Poller::Target> targets;
  for (const char* key : {"slow/p50", "slow/p90", "slow/p95"}) {
    targets.push_back({key, [&gate] { return gate.pass(1.0); }, "prometheus p", "shop/slow"});
  }
  for (const char* key : {"web/p50", "web/p90", "web/p95"}) {
    targets.push_back({key, [] { return Result<double>(2.0); }, "prometheus p", "shop/web"});
  }
  Poller poller(
      cache, [&] { return listOf(targets); }, 1h, 2);
  OpenAtExit openAtExit{gate};
  poller.start();
  EXPECT_TRUE(eventually(
      [&] {
        for (const char* key : {"web/p50", "web/p90", "web/p95"}) {
          if (!cache.get(key) || !cache.get(key)->ok()) return false;
        }
        return true;
      },
      1s));
  EXPECT_FALSE(cache.get("slow/p90").has_value());  // one at a time: waits for slow/p50
  gate.open();
  poller.stop();
}

}  // namespace
}  // namespace governor::adapter
