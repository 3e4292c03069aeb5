// What governor-operator does between wiring and exit (operator/lifecycle.h), on a fake
// controller and a fake elector: a stop ends it cleanly, informers that do not sync end it
// naming them, a lost lease ends it saying so, and a replica standing by for the lease is ready.
#include "operator/lifecycle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "kube/stop.h"

namespace governor::op {
namespace {

using namespace std::chrono_literals;

// A controller that syncs at once (`syncs`), times out at once, or (`startBlocks`) waits in
// start() until stopWriting(); it records how it was started and stopped.
class FakeWork final : public Work {
 public:
  struct Stop {
    bool lost;
    std::chrono::milliseconds grace;
  };

  bool syncs = true;
  bool startBlocks = false;

  bool start(std::chrono::milliseconds timeout) override {
    {
      std::lock_guard lock(mu_);
      startTimeout_ = timeout;
      starting_ = true;
    }
    cv_.notify_all();
    if (startBlocks) kube::waitUntilStopped(stopping_.get_token());
    if (stopped() || !syncs) return false;
    synced_ = true;
    return true;
  }
  bool stopped() const override { return stopping_.stop_requested(); }
  void stopWriting(bool lost, std::chrono::milliseconds grace) override {
    {
      std::lock_guard lock(mu_);
      stops_.push_back({lost, grace});
    }
    stopping_.request_stop();
  }
  bool synced() const override { return synced_; }
  std::vector<std::string> unsynced() const override {
    if (synced_) return {};
    return {"servicelevels: forbidden", "deployments: not listed yet"};
  }

  // Waits until start() is called; false after 10 s.
  bool waitForStart() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [this] { return starting_; });
  }
  std::vector<Stop> stops() const {
    std::lock_guard lock(mu_);
    return stops_;
  }
  std::chrono::milliseconds startTimeout() const {
    std::lock_guard lock(mu_);
    return startTimeout_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool starting_ = false;
  std::chrono::milliseconds startTimeout_{0};
  std::vector<Stop> stops_;
  std::atomic<bool> synced_{false};
  std::stop_source stopping_;
};

LifecycleOptions options(bool leaderElect) {
  LifecycleOptions o;
  o.leaderElect = leaderElect;
  o.cacheSyncTimeout = 120s;
  o.renewDeadline = 7s;
  return o;
}

// The governor_operator_leader gauge.
double leader(Metrics& metrics) {
  for (const auto& family : metrics.registry()->Collect()) {
    if (family.name == "governor_operator_leader") return family.metric.at(0).gauge.value;
  }
  return -1;
}

TEST(Lifecycle, WithoutLeaderElectionAStopEndsItCleanly) {
  FakeWork work;
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(false));
  std::stop_source stopping;
  auto ended = std::async(std::launch::async, [&] { return lifecycle.run(stopping, {}); });
  ASSERT_TRUE(work.waitForStart());
  EXPECT_EQ(work.startTimeout(), 120s);
  stopping.request_stop();  // SIGTERM
  ASSERT_EQ(ended.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(ended.get(), "");
  ASSERT_EQ(work.stops().size(), 1u);
  EXPECT_FALSE(work.stops()[0].lost);
  EXPECT_EQ(work.stops()[0].grace, 7s);
  EXPECT_EQ(leader(metrics), 1);
}

TEST(Lifecycle, InformersThatDoNotSyncEndItNamingThem) {
  FakeWork work;
  work.syncs = false;
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(false));
  std::stop_source stopping;
  auto ended = std::async(std::launch::async, [&] { return lifecycle.run(stopping, {}); });
  ASSERT_EQ(ended.wait_for(10s), std::future_status::ready);  // with no stop requested from outside
  EXPECT_EQ(ended.get(),
            "informers did not sync within 120s (--cache-sync-timeout): servicelevels: forbidden, deployments: not "
            "listed yet");
  EXPECT_TRUE(stopping.stop_requested());
  ASSERT_EQ(work.stops().size(), 1u);
  EXPECT_FALSE(work.stops()[0].lost);
}

TEST(Lifecycle, AStopWhileTheInformersSyncIsNoTimeout) {
  FakeWork work;
  work.startBlocks = true;
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(false));
  std::stop_source stopping;
  auto ended = std::async(std::launch::async, [&] { return lifecycle.run(stopping, {}); });
  ASSERT_TRUE(work.waitForStart());
  stopping.request_stop();
  ASSERT_EQ(ended.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(ended.get(), "");
}

TEST(Lifecycle, ALostLeaseEndsItSayingSo) {
  FakeWork work;
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(true));
  std::stop_source stopping;
  auto elect = [](const std::stop_token&, const std::function<void()>& started, const std::function<void()>& stopped) {
    started();
    stopped();  // another holder was seen: no stop was requested
    return true;
  };
  EXPECT_EQ(lifecycle.run(stopping, elect), "lost the leader lease; exiting so that a restart can compete again");
  ASSERT_EQ(work.stops().size(), 1u);
  EXPECT_TRUE(work.stops()[0].lost);  // every write refused at once
  EXPECT_EQ(work.stops()[0].grace, 7s);
}

TEST(Lifecycle, AStopOfTheLeaderEndsItCleanly) {
  FakeWork work;
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(true));
  std::stop_source stopping;
  auto elect = [](const std::stop_token& stop, const std::function<void()>& started,
                  const std::function<void()>& stopped) {
    std::jthread leading(started);  // as the elector: on a thread of its own
    kube::waitUntilStopped(stop);
    stopped();
    return false;
  };
  auto ended = std::async(std::launch::async, [&] { return lifecycle.run(stopping, elect); });
  ASSERT_TRUE(work.waitForStart());
  stopping.request_stop();
  ASSERT_EQ(ended.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(ended.get(), "");
  ASSERT_EQ(work.stops().size(), 1u);
  EXPECT_FALSE(work.stops()[0].lost);  // the reconciles in flight may finish
}

TEST(Lifecycle, AReplicaStandingByIsReadyTheLeaderOnceSynced) {
  FakeWork work;
  work.startBlocks = true;  // the informers still listing
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(true));
  EXPECT_EQ(lifecycle.unready(), "");
  std::stop_source stopping;
  std::string standingBy, leading;
  auto elect = [&](const std::stop_token&, const std::function<void()>& started, const std::function<void()>& stopped) {
    standingBy = lifecycle.unready();
    std::jthread thread(started);
    EXPECT_TRUE(work.waitForStart());
    leading = lifecycle.unready();
    stopping.request_stop();
    stopped();
    return false;
  };
  EXPECT_EQ(lifecycle.run(stopping, elect), "");
  EXPECT_EQ(standingBy, "");
  EXPECT_EQ(leading, "informers not synced: servicelevels: forbidden, deployments: not listed yet");
  EXPECT_EQ(leader(metrics), 1);
}

TEST(Lifecycle, WithoutLeaderElectionItIsReadyOnceSynced) {
  FakeWork work;
  Metrics metrics;
  Lifecycle lifecycle(work, metrics, options(false));
  EXPECT_EQ(lifecycle.unready(), "informers not synced: servicelevels: forbidden, deployments: not listed yet");
  std::stop_source stopping;
  auto ended = std::async(std::launch::async, [&] { return lifecycle.run(stopping, {}); });
  ASSERT_TRUE(work.waitForStart());
  for (auto until = std::chrono::steady_clock::now() + 10s; !work.synced() && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(lifecycle.unready(), "");
  stopping.request_stop();
  EXPECT_EQ(ended.get(), "");
}

TEST(Lifecycle, AnElectorGoesWithLeaderElectionOnly) {
  FakeWork work;
  Metrics metrics;
  auto elect = [](const std::stop_token&, const std::function<void()>&, const std::function<void()>&) { return false; };
  EXPECT_THROW(Lifecycle(work, metrics, options(false)).run({}, elect), std::invalid_argument);
  EXPECT_THROW(Lifecycle(work, metrics, options(true)).run({}, {}), std::invalid_argument);
  EXPECT_TRUE(work.stops().empty());
}

TEST(Lifecycle, TheLeaseIdentityIsHostnameAndPid) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(leaseIdentity(), std::string(host) + "_" + std::to_string(getpid()));
}

}  // namespace
}  // namespace governor::op
