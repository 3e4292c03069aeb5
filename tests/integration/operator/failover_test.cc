// Fault drills of two governor-operator replicas with --leader-elect on the real cluster
// (docs/operations.md, Fault drills): the leader killed with SIGKILL amid 200 ServiceLevels,
// and the leader stopped with SIGTERM. Either way the standby takes over, every ServiceLevel
// ends Ready, an edit made meanwhile is not lost, and only one replica writes at a time.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cluster.h"

namespace governor::testing {
namespace {

using kube::Json;
using namespace std::chrono_literals;

constexpr int kCount = 200;
// Short lease timings, so that a takeover after a kill is quick to wait for.
constexpr auto kLeaseDuration = 6s;
constexpr auto kRetryPeriod = 1s;

// A log file of this run only: its lines are checked.
std::string freshLog(const std::string& name) {
  const std::string path = std::string(GOVERNOR_BINARY_DIR) + "/" + name;
  std::filesystem::remove(path);
  return path;
}

// One operator replica with --leader-elect, its /metrics on port BASE and probes on BASE+1.
class Replica {
 public:
  Replica(const std::string& ns, int base)
      : metrics_("http://127.0.0.1:" + std::to_string(base) + "/metrics"),
        readyz_("http://127.0.0.1:" + std::to_string(base + 1) + "/readyz"),
        process_({GOVERNOR_OPERATOR_BINARY,
                  "--kubeconfig",
                  std::getenv("KUBECONFIG"),
                  "--namespace",
                  ns,
                  "--leader-elect",
                  "--leader-election-namespace",
                  ns,
                  "--leader-elect-lease-duration",
                  std::to_string(kLeaseDuration.count()),
                  "--leader-elect-renew-deadline",
                  "4",
                  "--leader-elect-retry-period",
                  std::to_string(kRetryPeriod.count()),
                  "--metrics-bind-address",
                  "127.0.0.1:" + std::to_string(base),
                  "--health-probe-bind-address",
                  "127.0.0.1:" + std::to_string(base + 1),
                  "--log-format",
                  "text",
                  "--log-level",
                  "debug"},
                 freshLog("operator-failover-" + std::to_string(base) + ".log")) {}

  bool ready() const { return run("curl -sf " + readyz_).status == 0; }
  bool leads() const { return metricSum(metrics_, "governor_operator_leader") == 1; }
  // Writes of children and status this replica's reconciles made (the Lease's not counted).
  double writes() const { return metricSum(metrics_, "governor_operator_api_writes_total"); }
  BackgroundProcess& process() { return process_; }

 private:
  std::string metrics_;
  std::string readyz_;
  BackgroundProcess process_;
};

class FailoverTest : public ServiceLevelTest {
 protected:
  FailoverTest() : ServiceLevelTest("failover") {}

  void createServiceLevels() {
    for (int i = 0; i < kCount; ++i) {
      auto created = client_->create(kServiceLevels, ns(), quotaServiceLevel(name(i), "10"));
      ASSERT_TRUE(created.ok()) << created.error().what();
    }
  }

  std::set<std::string> ready() { return readyServiceLevels(*client_, ns()); }

  // Both replicas started together; returns {leader, standby} once one leads amid its work.
  std::pair<Replica*, Replica*> leaderMidWay() {
    replicas_.push_back(std::make_unique<Replica>(ns(), 18580));
    replicas_.push_back(std::make_unique<Replica>(ns(), 18590));
    Replica* leader = nullptr;
    EXPECT_TRUE(eventually([&] {
      for (auto& r : replicas_) {
        if (r->leads()) leader = r.get();
      }
      return leader != nullptr;
    })) << tail(replicas_[0]->process().logFile())
        << tail(replicas_[1]->process().logFile());
    if (!leader) return {nullptr, nullptr};
    Replica* standby = leader == replicas_[0].get() ? replicas_[1].get() : replicas_[0].get();
    EXPECT_TRUE(eventually([&] { return standby->ready(); })) << "a standby is ready";
    EXPECT_TRUE(eventually([&] { return ready().size() >= kCount / 5; }, 60s)) << tail(leader->process().logFile());
    return {leader, standby};
  }

  static std::string name(int i) { return "sl-" + std::to_string(i); }

  std::vector<std::unique_ptr<Replica>> replicas_;
};

// kill -9 of the leader amid 200 ServiceLevels. The standby, which wrote nothing while it
// stood by, takes the Lease once it expires, finishes the work, does not write again what
// the old leader finished, and applies the last of the edits made while no one led.
TEST_F(FailoverTest, ALeaderKilledMidReconcileIsReplacedWithinTheLeaseAndNothingIsLostOrWrittenTwice) {
  ASSERT_NO_FATAL_FAILURE(createServiceLevels());
  auto [leader, standby] = leaderMidWay();
  ASSERT_TRUE(leader && standby);

  EXPECT_EQ(standby->writes(), 0) << "a standby writes nothing";
  EXPECT_GT(leader->writes(), 0);
  leader->process().signal(SIGKILL);
  const auto killedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return !leader->process().running(); }, 5s));
  const auto finished = ready();
  EXPECT_LT(finished.size(), kCount) << "killed mid-way, not after the work was done";
  std::map<std::string, Json> limitRangeVersions;
  for (const auto& sl : finished) {
    auto lr = client_->get(kLimitRanges, ns(), sl);
    ASSERT_TRUE(lr.ok()) << sl << ": " << lr.error().what();
    limitRangeVersions[sl] = (*lr)["metadata"]["resourceVersion"];
  }

  // While no one leads: two edits of ten ServiceLevels, finished ones and others.
  std::set<std::string> edited;
  for (int i = 0; edited.size() < 10 && i < kCount; ++i) {
    if (finished.contains(name(i)) == (edited.size() % 2 == 0)) edited.insert(name(i));
  }
  for (const char* pods : {"11", "12"}) {
    for (const auto& sl : edited) {
      auto patched =
          client_->mergePatch(kServiceLevels, ns(), sl, {{"spec", {{"quota", {{"hard", {{"pods", pods}}}}}}}});
      ASSERT_TRUE(patched.ok()) << patched.error().what();
    }
  }

  ASSERT_TRUE(eventually([&] { return standby->leads(); }, kLeaseDuration + 5s)) << tail(standby->process().logFile());
  const auto takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killedAt).count();
  EXPECT_LE(takeover, std::chrono::duration<double>(kLeaseDuration + 2 * kRetryPeriod).count())
      << "the standby takes over once the Lease it saw renewed last expires";
  ASSERT_TRUE(eventually([&] { return ready().size() == kCount; }, 90s))
      << ready().size() << " of " << kCount << " Ready; " << tail(standby->process().logFile());
  std::printf(
      "failover: %zu of %d ServiceLevels Ready at the kill; takeover %.1fs after it; all Ready %.1fs after it\n",
      finished.size(), kCount, takeover,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killedAt).count());

  for (const auto& sl : edited) {
    auto quota = client_->get(kQuotas, ns(), sl);
    ASSERT_TRUE(quota.ok()) << quota.error().what();
    EXPECT_EQ((*quota)["spec"]["hard"]["pods"], "12") << sl << ": the last edit wins";
  }
  for (const auto& [sl, version] : limitRangeVersions) {
    if (edited.contains(sl)) continue;
    auto lr = client_->get(kLimitRanges, ns(), sl);
    ASSERT_TRUE(lr.ok());
    EXPECT_EQ((*lr)["metadata"]["resourceVersion"], version)
        << sl << " was finished by the old leader: the new one must not write it again";
  }
  EXPECT_EQ(standby->process().stop(), 0);
}

// SIGTERM of the leader amid its work: it takes no more ServiceLevels, finishes those in
// flight (no write of theirs is cut off), releases the Lease so that the standby takes over
// at once, and exits 0 well within a pod's grace period.
TEST_F(FailoverTest, OnSigtermTheLeaderFinishesItsReconcilesReleasesTheLeaseAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(createServiceLevels());
  auto [leader, standby] = leaderMidWay();
  ASSERT_TRUE(leader && standby);

  const auto stoppedAt = std::chrono::steady_clock::now();
  EXPECT_EQ(leader->process().stop(30s), 0);
  const auto exitSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stoppedAt).count();
  EXPECT_LT(exitSeconds, 10) << "seconds to exit";
  EXPECT_LT(ready().size(), kCount) << "stopped mid-way, not after the work was done";
  const auto log = leader->process().log();
  EXPECT_EQ(log.find("no longer writes"), std::string::npos) << "a reconcile in flight was cut off: " << log;

  ASSERT_TRUE(eventually([&] { return standby->leads(); }, 5s))
      << "the released Lease is taken at once, not after " << kLeaseDuration.count() << "s";
  const auto takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - stoppedAt).count();
  ASSERT_TRUE(eventually([&] { return ready().size() == kCount; }, 90s))
      << ready().size() << " of " << kCount << " Ready; " << tail(standby->process().logFile());
  std::printf("sigterm: the leader exited 0 in %.1fs, the standby led %.1fs after the SIGTERM\n", exitSeconds,
              takeover);
  EXPECT_EQ(standby->process().stop(), 0);
}

}  // namespace
}  // namespace governor::testing
