// Fault drill: the operator throttled by a real kube-apiserver (docs/operations.md, Fault
// drills). A second kube-apiserver of the test cluster (tests/cluster/ctl
// throttled-apiserver) admits one request of each kind at a time and answers the others 429
// with Retry-After. The operator talks to it as the chart's ServiceAccount (members of
// system:masters are never throttled), with 4 workers and no client-side limit to speak of,
// and must still make every ServiceLevel Ready and apply every edit.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "adapter_setup.h"
#include "cluster.h"

namespace governor::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kCount = 200;
const std::string kThrottledServer = "https://" + std::string(kAddress) + ":6444";
const std::string kMetrics = "http://127.0.0.1:18680/metrics";

class ThrottlingTest : public ServiceLevelTest {
 protected:
  ThrottlingTest() : ServiceLevelTest("throttled") {}

  void SetUp() override {
    ServiceLevelTest::SetUp();
    if (HasFatalFailure()) return;
    auto rbac = applyChartRbac();
    ASSERT_EQ(rbac.status, 0) << rbac.output;
    auto kubeconfig = writeServiceAccountKubeconfig(tmp_.path().string(), "governor-operator");
    ASSERT_EQ(kubeconfig.status, 0) << kubeconfig.output;
    auto server =
        run("KUBECONFIG=" + quote(kubeconfig_) + " kubectl config set-cluster test --server=" + kThrottledServer);
    ASSERT_EQ(server.status, 0) << server.output;
    ASSERT_EQ(clusterCtl("start throttled-apiserver"), 0);
  }

  void TearDown() override {
    clusterCtl("stop throttled-apiserver");
    unregisterAdapter();  // the chart's RBAC and namespace governor; nothing was registered
  }

  // 429s the throttled kube-apiserver answered, by its own count.
  static double throttledByTheServer() {
    auto out =
        run("kubectl --server " + kThrottledServer +
            " get --raw /metrics | awk '/^apiserver_request_total\\{.*code=\"429\"/ {s += $2} END {print s + 0}'");
    return out.status == 0 ? std::stod(out.output) : -1;
  }

  static std::string name(int i) { return "sl-" + std::to_string(i); }

  TempDir tmp_{"throttled"};
  const std::string kubeconfig_ = tmp_.file("governor-operator.kubeconfig");
};

TEST_F(ThrottlingTest, AThrottledOperatorWaitsAsToldAndLosesNoServiceLevelOrEdit) {
  for (int i = 0; i < kCount; ++i) {
    auto created = client_->create(kServiceLevels, ns(), quotaServiceLevel(name(i), "10"));
    ASSERT_TRUE(created.ok()) << created.error().what();
  }
  const double throttledBefore = throttledByTheServer();
  const std::string log = std::string(GOVERNOR_BINARY_DIR) + "/operator-throttled.log";
  std::filesystem::remove(log);
  const auto startedAt = std::chrono::steady_clock::now();
  BackgroundProcess op({GOVERNOR_OPERATOR_BINARY, "--kubeconfig", kubeconfig_, "--namespace", ns(), "--workers", "4",
                        "--kube-api-qps", "10000", "--kube-api-burst", "10000", "--metrics-bind-address",
                        "127.0.0.1:18680", "--health-probe-bind-address", "127.0.0.1:18681", "--log-format", "text"},
                       log);
  ASSERT_TRUE(eventually([&] { return readyServiceLevels(*client_, ns()).size() == kCount; }, 180s))
      << readyServiceLevels(*client_, ns()).size() << " of " << kCount << " Ready; " << tail(op.logFile());
  const double allReady = std::chrono::duration<double>(std::chrono::steady_clock::now() - startedAt).count();

  // Half of them edited while it is still throttled: the last edit of each reaches its quota.
  for (const char* pods : {"11", "12"}) {
    for (int i = 0; i < kCount; i += 2) {
      auto patched =
          client_->mergePatch(kServiceLevels, ns(), name(i), {{"spec", {{"quota", {{"hard", {{"pods", pods}}}}}}}});
      ASSERT_TRUE(patched.ok()) << patched.error().what();
    }
  }
  auto quotaPods = [&](int i) {
    auto quota = client_->get(kQuotas, ns(), name(i));
    return quota.ok() ? (*quota)["spec"]["hard"].value("pods", "") : "";
  };
  ASSERT_TRUE(eventually(
      [&] {
        for (int i = 0; i < kCount; ++i) {
          if (quotaPods(i) != (i % 2 == 0 ? "12" : "10")) return false;
        }
        return readyServiceLevels(*client_, ns()).size() == kCount;
      },
      180s))
      << tail(op.logFile());

  const double seen = metricSum(kMetrics, "governor_operator_api_requests_total", "code=\"429\"");
  const double requests = metricSum(kMetrics, "governor_operator_api_requests_total");
  const double answered = throttledByTheServer() - throttledBefore;
  // A 429 the client waited out and retried is not logged; one still there after 3 retries
  // fails its reconcile (or list), logged, and is tried again with backoff.
  const auto surfaced = static_cast<double>(occurrences(op.log(), "429 TooManyRequests"));
  std::printf(
      "throttling: %d ServiceLevels Ready %.1fs after the start; %.0f of the operator's %.0f requests "
      "answered 429 (the server counts %.0f); %.0f of them left to the reconciles after 3 retries\n",
      kCount, allReady, seen, requests, answered, surfaced);
  EXPECT_GT(seen, 0) << "the API server throttled the operator";
  EXPECT_GE(answered, seen) << "every 429 the operator counts came from the API server";
  EXPECT_LT(surfaced, seen / 2) << "most 429s are waited out (Retry-After) and retried within the request";
  EXPECT_TRUE(op.running()) << tail(op.logFile());
  EXPECT_EQ(op.stop(), 0);
}

}  // namespace
}  // namespace governor::testing
