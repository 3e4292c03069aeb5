// Leader election on a real Lease: one holder at a time, a slow start never costs the lease,
// work stops before the lease is released, a released lease is taken over at once, and a
// stolen lease makes the holder stop and report it.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster.h"
#include "kube/leader_election.h"

namespace governor::testing {
namespace {

using namespace std::chrono_literals;
using kube::Json;

// One candidate running LeaderElector::run on a thread, with a client of its own, recording
// what happened in order.
class Candidate {
 public:
  Candidate(const std::string& ns, const std::string& identity, std::chrono::milliseconds startDelay = 0ms)
      : client_(clusterClient()),
        elector_(*client_, {ns, "lease", identity, 3s, 2s, 1s}),
        thread_([this, ns, startDelay](const std::stop_token& stop) {
          lost_ = elector_.run(
              stop,
              [this, startDelay] {
                record("started");
                std::this_thread::sleep_for(startDelay);
                leading_ = true;
              },
              [this, ns] {
                // Who holds the lease while the work stops: still us, unless it was taken.
                auto lease = client_->get(kLeases, ns, "lease");
                record("stopping (holder " + (lease ? (*lease)["spec"].value("holderIdentity", "") : "?") + ")");
                leading_ = false;
              });
          done_ = true;
        }) {}
  ~Candidate() { finish(); }

  void finish() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  bool leading() const { return leading_; }
  bool done() const { return done_; }
  bool lost() const { return lost_; }
  std::vector<std::string> log() {
    std::lock_guard lock(mu_);
    return log_;
  }

 private:
  void record(const std::string& what) {
    std::lock_guard lock(mu_);
    log_.push_back(what);
  }

  std::unique_ptr<kube::Client> client_;
  kube::LeaderElector elector_;
  std::atomic<bool> leading_{false}, done_{false}, lost_{false};
  std::mutex mu_;
  std::vector<std::string> log_;
  std::jthread thread_;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "lease");
  }
  std::string holder() {
    auto lease = client_->get(kLeases, ns_->name(), "lease");
    return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
  }

  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
};

TEST_F(LeaderElectionTest, OneHolderAndATakeoverAtOnceWhenItStops) {
  Candidate a(ns_->name(), "a");
  ASSERT_TRUE(eventually([&] { return a.leading(); }, 10s));
  Candidate b(ns_->name(), "b");
  std::this_thread::sleep_for(5s);  // longer than the 3 s lease: a renews, b must not take it
  EXPECT_EQ(holder(), "a");
  EXPECT_FALSE(b.leading());

  auto stopped = std::chrono::steady_clock::now();
  a.finish();
  EXPECT_EQ(a.log(), (std::vector<std::string>{"started", "stopping (holder a)"}))
      << "the work stops before the lease is released";
  EXPECT_FALSE(a.lost());
  ASSERT_TRUE(eventually([&] { return b.leading(); }, 10s));
  // Released, not expired: b needs a retry period (1 s), not the lease duration (3 s).
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2500ms);
  EXPECT_EQ(holder(), "b");
}

TEST_F(LeaderElectionTest, ASlowStartDoesNotCostTheLease) {
  Candidate a(ns_->name(), "a", 6s);  // onStartedLeading takes twice the lease duration
  ASSERT_TRUE(eventually([&] { return holder() == "a"; }, 10s));
  Candidate b(ns_->name(), "b");
  ASSERT_TRUE(eventually([&] { return a.leading(); }, 10s));
  EXPECT_EQ(holder(), "a") << "a kept renewing while it started";
  EXPECT_FALSE(b.leading());
  EXPECT_EQ(b.log(), std::vector<std::string>{});
}

TEST_F(LeaderElectionTest, AStolenLeaseStopsTheWorkAndIsReportedLost) {
  Candidate a(ns_->name(), "a");
  ASSERT_TRUE(eventually([&] { return a.leading(); }, 10s));
  // Someone else writes the lease as theirs for a long time: a cannot renew.
  auto lease = client_->get(kLeases, ns_->name(), "lease");
  ASSERT_TRUE(lease.ok()) << lease.error().what();
  (*lease)["spec"]["holderIdentity"] = "intruder";
  (*lease)["spec"]["leaseDurationSeconds"] = 3600;
  ASSERT_TRUE(client_->update(kLeases, *lease).ok());

  ASSERT_TRUE(eventually([&] { return a.done(); }, 10s)) << "a must give up after its 2 s renew deadline";
  EXPECT_TRUE(a.lost());
  EXPECT_FALSE(a.leading());
  EXPECT_EQ(a.log(), (std::vector<std::string>{"started", "stopping (holder intruder)"}));
  EXPECT_EQ(holder(), "intruder") << "a lost lease is not released: it is someone else's";
}

}  // namespace
}  // namespace governor::testing
