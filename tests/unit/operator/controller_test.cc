// Controller::stopWriting against the fake API server of tests/support/fake_api.h, with the
// controller's one worker held in the middle of a reconcile, right after its first write: a
// lost lease refuses every write at once, before that reconcile ends; a stop lets it finish
// and refuses writes once it has, or once the grace is up; no write goes out after the call.
#include "operator/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "support/fake_api.h"

namespace governor::op {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using kube::Json;

class ControllerStopWriting : public ::testing::Test {
 public:
  ControllerStopWriting() {
    // shop/team, with a quota, on its Deployment app: its reconcile writes.
    api_.put(resources::kServiceLevel,
             {{"apiVersion", "governor.io/v1alpha1"},
              {"kind", "ServiceLevel"},
              {"metadata", {{"name", "team"}, {"namespace", "shop"}, {"uid", "sl-uid"}, {"generation", 1}}},
              {"spec",
               {{"workload", {{"kind", "Deployment"}, {"name", "app"}}}, {"quota", {{"hard", {{"pods", "1000"}}}}}}}});
    api_.put(resources::kDeployment, {{"apiVersion", "apps/v1"},
                                      {"kind", "Deployment"},
                                      {"metadata", {{"name", "app"}, {"namespace", "shop"}, {"uid", "app-uid"}}},
                                      {"spec", {{"replicas", 2}}}});
    kube::Config config;
    config.server = api_.url();
    config.timeout = 5s;
    client_ = std::move(kube::Client::create(config)).value();
    client_->setRequestObserver([this](const std::string& verb, int) { sent(verb); });
    ControllerOptions options;
    options.workers = 1;
    controller_ = std::make_unique<Controller>(*client_, metrics_, options);
  }
  ~ControllerStopWriting() override {
    release();
    controller_.reset();
  }

 protected:
  // Starts the controller and waits until its worker has sent its first write and is held.
  void startAndHoldTheWorker() {
    ASSERT_TRUE(controller_->start(10s));
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, 10s, [this] { return held_; })) << "no reconcile wrote";
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  int writesSent() {
    std::lock_guard lock(mu_);
    return writesSent_;
  }
  // A write of the test's own through the controller's client: true when it is refused
  // without being sent.
  bool writeRefused() {
    auto written = client_->mergePatch(resources::kServiceLevel, "shop", "team", Json{{"metadata", Json::object()}});
    return !written && written.error().status.reason == "WritesRefused";
  }
  // Writes until one is refused; the time that took, or nothing after 5 s.
  std::optional<Clock::duration> untilWritesRefused() {
    auto started = Clock::now();
    while (Clock::now() - started < 5s) {
      if (writeRefused()) return Clock::now() - started;
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

  // stopWriting(lost, grace) on a thread of its own. Going away, it releases the worker
  // first, so that a failed assertion never leaves it waiting for a stop that waits for it.
  class Stopping {
   public:
    Stopping(ControllerStopWriting& test, bool lost, std::chrono::milliseconds grace)
        : test_(test), thread_([this, lost, grace] {
            test_.controller_->stopWriting(lost, grace);
            returned = true;
          }) {}
    ~Stopping() { test_.release(); }
    void join() { thread_.join(); }

    std::atomic<bool> returned{false};

   private:
    ControllerStopWriting& test_;
    std::jthread thread_;  // last: started once the rest is set
  };

  testing::FakeApi api_;
  std::unique_ptr<kube::Client> client_;
  Metrics metrics_;
  std::unique_ptr<Controller> controller_;

 private:
  // Told of each request the client sent (not of those it refused); holds the first write,
  // the worker's, until release().
  void sent(const std::string& verb) {
    if (verb == "GET" || verb == "WATCH") return;
    std::unique_lock lock(mu_);
    ++writesSent_;
    if (held_) return;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int writesSent_ = 0;
  bool held_ = false;
  bool released_ = false;
};

TEST_F(ControllerStopWriting, ALostLeaseRefusesWritesAtOnceWhileAReconcileIsInFlight) {
  startAndHoldTheWorker();
  Stopping stopping(*this, true, 10s);
  ASSERT_TRUE(untilWritesRefused());
  EXPECT_FALSE(stopping.returned);  // the worker is still in its reconcile
  int before = writesSent();
  release();
  stopping.join();
  EXPECT_TRUE(stopping.returned);
  EXPECT_EQ(writesSent(), before);  // the rest of the reconcile's writes were refused
}

TEST_F(ControllerStopWriting, AStopLetsTheReconcileInFlightWriteThenRefusesWrites) {
  startAndHoldTheWorker();
  auto started = Clock::now();
  Stopping stopping(*this, false, 10s);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(writeRefused());  // within the grace, with a reconcile in flight
  EXPECT_FALSE(stopping.returned);
  release();
  stopping.join();
  EXPECT_LT(Clock::now() - started, 5s);  // once the worker is done, not at the end of the grace
  int before = writesSent();
  EXPECT_TRUE(writeRefused());
  EXPECT_EQ(writesSent(), before);
}

TEST_F(ControllerStopWriting, AStopRefusesWritesOnceTheGraceIsUp) {
  startAndHoldTheWorker();
  auto started = Clock::now();
  Stopping stopping(*this, false, 300ms);
  ASSERT_TRUE(untilWritesRefused());
  EXPECT_GE(Clock::now() - started, 300ms);
  EXPECT_FALSE(stopping.returned);  // the worker, still held, is not waited for to refuse writes
  release();
  stopping.join();
  EXPECT_TRUE(stopping.returned);
}

}  // namespace
}  // namespace governor::op
