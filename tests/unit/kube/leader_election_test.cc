// The leader elector against a fake Lease API: a stalled renewal ends by the renew
// deadline, and a lease another holder took is given up at once, even while the work is
// still starting; a stop ends the wait for the lease at once.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "kube/leader_election.h"
#include "support/local_server.h"
#include "support/slowdown.h"

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One Lease, ns/lease; its PUTs can be made to hang.
class FakeLeaseApi {
 public:
  FakeLeaseApi() {
    const std::string path = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease";
    server_.Get(path, [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (lease_.is_null()) {
        res.status = 404;
        res.set_content(R"({"kind":"Status","reason":"NotFound","code":404})", "application/json");
        return;
      }
      res.set_content(lease_.dump(), "application/json");
    });
    server_.Post("/apis/coordination.k8s.io/v1/namespaces/ns/leases",
                 [this](const httplib::Request& req, httplib::Response& res) { store(req, res); });
    server_.Put(path, [this](const httplib::Request& req, httplib::Response& res) {
      while (stallPuts && !closing_) std::this_thread::sleep_for(10ms);
      store(req, res);
    });
    local_.start();
  }
  ~FakeLeaseApi() { closing_ = true; }
  std::string url() const { return local_.url(); }
  void setHolder(const std::string& holder) {
    std::lock_guard lock(mu_);
    lease_["spec"]["holderIdentity"] = holder;
    lease_["spec"]["leaseDurationSeconds"] = 3600;
  }

  std::atomic<bool> stallPuts{false};

 private:
  void store(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    lease_ = Json::parse(req.body);
    lease_["metadata"]["resourceVersion"] = std::to_string(++version_);
    res.set_content(lease_.dump(), "application/json");
  }

  std::mutex mu_;
  Json lease_;
  int version_ = 0;
  std::atomic<bool> closing_{false};
  testing::LocalServer local_;  // last: destroyed first
  httplib::Server& server_ = local_.server();
};

// LeaderElector::run on a thread of its own; onStartedLeading lasts until the work is stopped.
class Candidate {
 public:
  Candidate(const std::string& url, LeaseConfig lease) {
    Config config;
    config.server = url;
    client_ = std::move(Client::create(config)).value();
    elector_ = std::make_unique<LeaderElector>(*client_, std::move(lease));
    thread_ = std::jthread([this](const std::stop_token& stop) {
      lost_ = elector_->run(
          stop,
          [this] {
            leading_ = true;
            for (auto until = Clock::now() + 30s; !stopped_ && Clock::now() < until;) std::this_thread::sleep_for(10ms);
          },
          [this] { stopped_ = true; });
      done_ = true;
    });
  }
  // Whether `flag` became true within `timeout`.
  static bool within(const std::atomic<bool>& flag, std::chrono::milliseconds timeout) {
    for (auto until = Clock::now() + timeout; !flag && Clock::now() < until;) std::this_thread::sleep_for(10ms);
    return flag;
  }

  std::unique_ptr<Client> client_;
  std::unique_ptr<LeaderElector> elector_;
  std::atomic<bool> leading_{false}, stopped_{false}, done_{false}, lost_{false};
  std::jthread thread_;  // last: destroyed first, it asks run() to stop and joins it
};

TEST(LeaderElector, AStalledRenewalEndsByTheRenewDeadlineAndIsReportedLost) {
  FakeLeaseApi api;
  Candidate a(api.url(), {"ns", "lease", "a", 15s, 3s, 1s});
  ASSERT_TRUE(Candidate::within(a.leading_, 5s));
  api.stallPuts = true;
  auto stalled = Clock::now();
  ASSERT_TRUE(Candidate::within(a.done_, 6s)) << "a renewal must not outlast the 3 s renew deadline";
  EXPECT_LT(Clock::now() - stalled, 4500ms) << "the last renewal before the stall was at most 1 s earlier";
  EXPECT_TRUE(a.lost_);
  EXPECT_TRUE(a.stopped_);
}

TEST(LeaderElector, ALeaseAnotherHolderTookStopsTheWorkAtOnceEvenWhileItStarts) {
  FakeLeaseApi api;
  Candidate a(api.url(), {"ns", "lease", "a", 15s, 10s, 1s});
  ASSERT_TRUE(Candidate::within(a.leading_, 5s));
  api.setHolder("intruder");
  ASSERT_TRUE(Candidate::within(a.done_, 3s)) << "one retry period, not the 10 s renew deadline";
  EXPECT_TRUE(a.lost_);
  EXPECT_TRUE(a.stopped_) << "the work was told to stop while it was still starting";
}

TEST(LeaderElector, AStopEndsTheWaitForTheLeaseAtOnce) {
  FakeLeaseApi api;
  api.setHolder("other");
  Candidate standby(api.url(), {"ns", "lease", "b", 15s, 10s, 5s});
  std::this_thread::sleep_for(300ms);  // into its 5 s wait before the next attempt
  standby.thread_.request_stop();
  EXPECT_TRUE(Candidate::within(standby.done_, 1s * testing::kSlowdown)) << "not the rest of the retry period";
  EXPECT_FALSE(standby.lost_);
}

}  // namespace
}  // namespace governor::kube
