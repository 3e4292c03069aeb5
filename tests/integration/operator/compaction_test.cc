// Fault drill: etcd compacted while 1,000 ServiceLevels change (docs/operations.md, Fault
// drills). `etcdctl compact` of the head revision, through etcd's gRPC gateway, three times
// while every ServiceLevel is edited, and once more with the kube-apiserver killed: a watch
// resuming from a compacted revision gets 410 Gone and must relist, and no edit may be lost
// on the way. The operator runs with 4 workers and the default --kube-api-qps (500), so
// that 1,000 fit in a CI run.
#include <gtest/gtest.h>

#include <cstdio>

#include "cluster.h"

namespace governor::testing {
namespace {

using namespace std::chrono_literals;
using kube::Json;

constexpr int kCount = 1000;

class CompactionTest : public ServiceLevelTest {
 protected:
  CompactionTest() : ServiceLevelTest("compaction") {}

  static std::string name(int i) { return "c" + std::to_string(i); }

  // How many quotas in the namespace hold `pods`.
  int quotasWith(const std::string& pods) {
    auto list = client_->list(kQuotas, ns(), {});
    if (!list) return -1;
    return static_cast<int>(std::ranges::count_if(
        list->items, [&](const Json& q) { return q["spec"].value("hard", Json::object()).value("pods", "") == pods; }));
  }
};

TEST_F(CompactionTest, EtcdCompactedWhileAThousandServiceLevelsChangeLosesNoChange) {
  for (int i = 0; i < kCount; ++i) {
    auto created = client_->create(kServiceLevels, ns(), quotaServiceLevel(name(i), "10"));
    ASSERT_TRUE(created.ok()) << created.error().what();
  }
  auto started = std::chrono::steady_clock::now();
  auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  BackgroundProcess op({GOVERNOR_OPERATOR_BINARY, "--kubeconfig", std::getenv("KUBECONFIG"), "--namespace", ns(),
                        "--workers", "4", "--metrics-bind-address", "127.0.0.1:18690", "--health-probe-bind-address",
                        "127.0.0.1:18691", "--log-format", "text"},
                       std::string(GOVERNOR_BINARY_DIR) + "/operator-compaction.log");
  ASSERT_TRUE(eventually([&] { return quotasWith("10") == kCount; }, 300s))
      << quotasWith("10") << " of " << kCount << " quotas; " << tail(op.logFile());
  std::printf("compaction: %d ServiceLevels with their quotas %.1f s after the operator started\n", kCount, since());

  const size_t logged = op.log().size();
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    if (i == kCount / 3 || i == 2 * kCount / 3) {
      ASSERT_TRUE(compactEtcd()) << "etcd refused the compaction";
    }
    if (i == kCount / 2) {
      // The API server's watch cache absorbs a compaction. One killed (-9) and started
      // while etcd moves on and is compacted past what the operator has seen begins its
      // cache there, so the operator's watches resume too old: 410 Gone, relist.
      ASSERT_EQ(clusterCtl("kill kube-apiserver"), 0);
      ASSERT_EQ(
          run(R"(curl -sf -X POST http://127.0.0.1:2379/v3/kv/put -d '{"key":"ZHJpbGw=","value":"MQ=="}')").status, 0);
      ASSERT_TRUE(compactEtcd());
      ASSERT_EQ(clusterCtl("start kube-apiserver"), 0);
    }
    auto patched =
        client_->mergePatch(kServiceLevels, ns(), name(i), {{"spec", {{"quota", {{"hard", {{"pods", "11"}}}}}}}});
    ASSERT_TRUE(patched.ok()) << patched.error().what();
  }
  ASSERT_TRUE(compactEtcd());
  EXPECT_TRUE(eventually([&] { return quotasWith("11") == kCount; }, 300s))
      << quotasWith("11") << " of " << kCount << " quotas have the edit; " << tail(op.logFile());
  EXPECT_TRUE(eventually([&] { return readyServiceLevels(*client_, ns()).size() == kCount; }, 60s))
      << readyServiceLevels(*client_, ns()).size() << " of " << kCount << " Ready";
  const int relists = occurrences(op.log().substr(logged), "expired, relisting");
  EXPECT_GT(relists, 0) << "the operator's watches resumed from a compacted revision";
  std::printf(
      "compaction: all %d edits in their quotas %.1f s after the first; the operator's informers relisted %d "
      "times\n",
      kCount, since(), relists);
  EXPECT_TRUE(op.running()) << tail(op.logFile());
  EXPECT_EQ(op.stop(), 0);
}

}  // namespace
}  // namespace governor::testing
