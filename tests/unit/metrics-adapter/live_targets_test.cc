// LiveTargets with a Poller, without a Redis (nobody listens on 127.0.0.1:1): the targets are made
// again only after a change, and every round reads each source's queues again, once.
#include "metrics-adapter/live_targets.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace governor::adapter {
namespace {

// A ServiceLevel whose queue is read with a password: each read of its source reads the Secret.
api::ServiceLevel withQueue(const std::string& name) {
  api::ServiceLevel sl{.name = name, .namespaceName = "shop"};
  api::QueueScaling q;
  q.redis.address = "127.0.0.1:1";
  q.redis.key = name;
  q.redis.passwordSecretRef = api::SecretKeyRef{"creds", "password"};
  q.targetPerReplica = 10;
  sl.autoscaling = api::Autoscaling{.maxReplicas = 3, .queue = q};
  return sl;
}

// Options that allow queues on 127.0.0.1.
TargetOptions allowingLocalQueues() {
  auto allowed = parseRedisAllowlist("127.0.0.0/8", "");
  EXPECT_TRUE(allowed.ok());
  return {.redisAllowlist = allowed.ok() ? *allowed : RedisAllowlist{}};
}

class LiveTargetsTest : public ::testing::Test {
 protected:
  std::vector<api::ServiceLevel> serviceLevels{withQueue("a"), withQueue("b")};
  int walks = 0;
  int secretReads = 0;
  prometheus::Registry registry;
  CacheStats caches{registry};
  DrainEstimator drains;
  RedisSource redis{{.timeout = std::chrono::milliseconds(300)}};
  kube::PrometheusClient prometheus{"http://127.0.0.1:1", std::chrono::milliseconds(100)};
  Targets served;
  LiveTargets live{Sources{redis,
                           prometheus,
                           caches,
                           drains,
                           [this](const std::string&, const api::SecretKeyRef&) -> kube::Result<std::string> {
                             ++secretReads;
                             return std::string("secret");
                           },
                           {}},
                   allowingLocalQueues(), [](const std::string&, const api::Workload&) { return api::Labels{}; },
                   [this](const auto& visit) {
                     ++walks;
                     for (const auto& sl : serviceLevels) visit(sl);
                   },
                   served};
};

TEST_F(LiveTargetsTest, TargetsAreMadeAgainOnlyAfterAChange) {
  const Poller::Targets first = live.nextRound();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ(walks, 1);
  EXPECT_EQ(live.nextRound(), first) << "nothing changed: the same targets";
  EXPECT_EQ(walks, 1);
  EXPECT_EQ(served.snapshot()->all().size(), 2u);

  serviceLevels.push_back(withQueue("c"));
  live.changed();
  const Poller::Targets second = live.nextRound();
  EXPECT_NE(second, first);
  EXPECT_EQ(walks, 2);
  EXPECT_EQ(second->size(), 3u);
  EXPECT_EQ(served.snapshot()->all().size(), 3u) << "the API serves the targets made again";
  EXPECT_EQ(live.nextRound(), second);
}

TEST_F(LiveTargetsTest, EachRoundReadsTheQueuesOfASourceAgainInOneRead) {
  MetricCache cache;
  // One worker: the first log lines of a test process are not written from two threads at once
  // (spdlog makes its logger then, out of ThreadSanitizer's sight).
  Poller poller(
      cache, [this] { return live.nextRound(); }, std::chrono::hours(1));
  poller.pollOnce();
  EXPECT_EQ(secretReads, 2) << "one read of the source: each queue resolved once";
  poller.pollOnce();
  EXPECT_EQ(secretReads, 4) << "read again, once, in the second round";
  EXPECT_EQ(walks, 1) << "with the same targets";
  for (const char* sl : {"a", "b"}) {
    auto entry = cache.get(std::string("external/shop/governor_queue_backlog/") + sl);
    ASSERT_TRUE(entry && entry->error) << sl;
    EXPECT_EQ(entry->error->status.message, "connection refused") << sl;
  }
}

}  // namespace
}  // namespace governor::adapter
