// Parsing ServiceLevels: defaults, and every problem named by its field.
#include <gtest/gtest.h>

#include "kube/yaml.h"
#include "api/servicelevel.h"

namespace governor::api {
namespace {

ParseResult parse(const std::string& spec) {
  auto docs = kube::parseYamlDocuments("apiVersion: governor.io/v1alpha1\nkind: ServiceLevel\n"
                                       "metadata: {name: checkout, namespace: shop, uid: u1, generation: 3}\n"
                                       "spec:\n" + spec);
  EXPECT_TRUE(docs.ok()) << docs.error().what();
  return parseServiceLevel((*docs)[0]);
}

TEST(ParseServiceLevel, MinimalOneGetsDefaults) {
  auto r = parse("  workload: {name: worker}\n"
                 "  autoscaling: {maxReplicas: 10, queue: {redis: {address: 'r:6379', key: jobs}, targetPerReplica: 10}}\n"
                 "  cache: {}\n"
                 "  objectives: {latency: {threshold: 200ms, target: '95', histogram: h_bucket}}\n");
  ASSERT_TRUE(r.serviceLevel) << (r.problems.empty() ? "" : r.problems[0]);
  const auto& sl = *r.serviceLevel;
  EXPECT_EQ(sl.name, "checkout");
  EXPECT_EQ(sl.namespaceName, "shop");
  EXPECT_EQ(sl.generation, 3);
  EXPECT_EQ(sl.workload.kind, "Deployment");
  EXPECT_EQ(sl.autoscaling->minReplicas, 1);
  EXPECT_EQ(sl.autoscaling->queue->redis.type, "list");
  EXPECT_EQ(sl.cache->maxMemory.value(), 256 * 1024 * 1024);
  EXPECT_EQ(sl.cache->evictionPolicy, "allkeys-lru");
  EXPECT_EQ(sl.cache->defaultTTL, std::chrono::minutes(5));
  EXPECT_EQ(sl.cache->ttlJitterPercent, 10);
  EXPECT_EQ(sl.objectives->window, std::chrono::hours(24 * 30));
  EXPECT_EQ(sl.objectives->latency->threshold, std::chrono::milliseconds(200));
  EXPECT_DOUBLE_EQ(sl.objectives->latency->target.value, 95);
  EXPECT_EQ(sl.alerting.page.severity, "critical");
  EXPECT_FALSE(sl.quota);
}

struct Invalid {
  std::string spec;
  std::string problem;  // a substring of one reported problem
};

class ParseInvalid : public ::testing::TestWithParam<Invalid> {};

TEST_P(ParseInvalid, NamesTheField) {
  auto r = parse(GetParam().spec);
  ASSERT_FALSE(r.serviceLevel);
  std::string all;
  for (const auto& p : r.problems) all += p + "\n";
  EXPECT_NE(all.find(GetParam().problem), std::string::npos) << all;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseInvalid,
    ::testing::Values(
        Invalid{"  autoscaling: {maxReplicas: 3}\n", "spec.workload: required"},
        Invalid{"  workload: {kind: Job, name: x}\n", "spec.workload.kind: must be one of Deployment, StatefulSet"},
        Invalid{"  workload: {name: x}\n  autoscaling: {minReplicas: 5, maxReplicas: 2, queue: {redis: {address: a, key: "
                "k}, targetPerReplica: 5}}\n",
                "spec.autoscaling.maxReplicas: must be >= minReplicas (5), not 2"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2}\n", "spec.autoscaling: needs queue or latency"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, latency: {target: 1s}}\n",
                "spec.autoscaling.latency: needs objectives.latency"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, queue: {redis: {address: a, key: k, type: "
                "stream}, targetPerReplica: 5}}\n",
                "spec.autoscaling.queue.redis.consumerGroup: required for a stream"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, queue: {redis: {address: a, key: k}, "
                "targetPerReplica: 0}}\n",
                "spec.autoscaling.queue.targetPerReplica: must be between 1"},
        Invalid{"  workload: {name: x}\n  objectives: {availability: {target: '100', errorQuery: e, totalQuery: t}}\n",
                "spec.objectives.availability.target: must be a percentage"},
        Invalid{"  workload: {name: x}\n  objectives: {availability: {target: 99.9, errorQuery: e, totalQuery: t}}\n",
                "spec.objectives.availability.target: must be a string"},
        Invalid{"  workload: {name: x}\n  objectives: {window: 30 days, latency: {threshold: 1s, target: '9', "
                "histogram: h_bucket}}\n",
                "spec.objectives.window"},
        Invalid{"  workload: {name: x}\n  objectives: {latency: {threshold: 1s, target: '9', histogram: h_count}}\n",
                "spec.objectives.latency.histogram: must be a histogram's _bucket series"},
        Invalid{"  workload: {name: x}\n  cache: {evictionPolicy: noeviction}\n",
                "spec.cache.evictionPolicy: must be one of"},
        Invalid{"  workload: {name: x}\n  cache: {maxMemory: lots}\n", "spec.cache.maxMemory"},
        Invalid{"  workload: {name: x}\n  cache: {ttlJitter: 150%}\n", "spec.cache.ttlJitter: must be a percentage"},
        Invalid{"  workload: {name: x}\n  quota: {hard: {pods: many}}\n", "spec.quota.hard.pods"},
        Invalid{"  workload: {name: x}\n  alerting: {minRequestRate: fast}\n", "spec.alerting.minRequestRate"},
        // The queue on the ServiceLevel's own cache (checkout-redis), by short or long name.
        Invalid{"  workload: {name: x}\n  cache: {}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
                "'checkout-redis:6379', key: jobs}, targetPerReplica: 1}}\n",
                "spec.autoscaling.queue.redis.address: must not be this ServiceLevel's own cache"},
        Invalid{"  workload: {name: x}\n  cache: {}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
                "'checkout-redis.shop.svc.cluster.local:6379', key: jobs}, targetPerReplica: 1}}\n",
                "Redis counts in the cache's hits and misses"},
        Invalid{"  workload: {name: x}\n  cache: {}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
                "'Checkout-Redis.shop:6379', key: jobs}, targetPerReplica: 1}}\n",
                "spec.autoscaling.queue.redis.address"}));

TEST(ParseServiceLevel, ReportsEveryProblemAtOnce) {
  auto r = parse("  workload: {kind: Job}\n  cache: {evictionPolicy: x, ttlJitter: '-1%'}\n");
  EXPECT_EQ(r.problems.size(), 4u);
}

// The cache's address is its Service's, as both the operator and the adapter compute it.
TEST(CacheAddress, IsTheServiceNameRedisInTheNamespace) {
  EXPECT_EQ(cacheServiceName("checkout"), "checkout-redis");
  EXPECT_EQ(cacheAddress("checkout", "shop"), "checkout-redis.shop.svc:6379");
  EXPECT_EQ(cacheAddress("checkout", "shop", ""), "checkout-redis.shop.svc:6379");
  EXPECT_EQ(cacheAddress("checkout", "shop", "{servicelevel}-redis.{namespace}.svc.cluster.local:6379"),
            "checkout-redis.shop.svc.cluster.local:6379");
  EXPECT_EQ(cacheAddress("checkout", "shop", "127.0.0.1:6390"), "127.0.0.1:6390");
  EXPECT_EQ(cacheAddress("a", "b", "{namespace}/{servicelevel}/{other}{servicelevel"), "b/a/{other}{servicelevel");
}

TEST(CacheAddress, WhichQueueAddressesNameTheCache) {
  for (const char* address : {"checkout-redis:6379", "checkout-redis.shop:6379", "checkout-redis.shop.svc:6379",
                              "checkout-redis.shop.svc.cluster.local:6380", "CHECKOUT-REDIS.shop:6379"}) {
    EXPECT_TRUE(isCacheAddress(address, "checkout")) << address;
  }
  for (const char* address : {"redis.shop:6379", "checkout-redis-queue:6379", "checkout-redis-queue.shop:6379",
                              "my-checkout-redis.shop:6379", "10.0.0.1:6379", "[fd00::1]:6379", "cart-redis:6379"}) {
    EXPECT_FALSE(isCacheAddress(address, "checkout")) << address;
  }
}

TEST(ParseServiceLevel, AQueueNamedLikeTheCacheIsFineWithoutACache) {
  // Without spec.cache Governor runs no checkout-redis: that one is the user's own.
  auto r = parse("  workload: {name: x}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
                 "'checkout-redis:6379', key: jobs}, targetPerReplica: 1}}\n");
  EXPECT_TRUE(r.serviceLevel) << (r.problems.empty() ? "" : r.problems[0]);
  auto apart = parse("  workload: {name: x}\n  cache: {}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
                     "'checkout-queue.shop:6379', key: jobs}, targetPerReplica: 1}}\n");
  EXPECT_TRUE(apart.serviceLevel) << (apart.problems.empty() ? "" : apart.problems[0]);
}

TEST(ParseServiceLevel, ChildrenCarryOwnerAndLabels) {
  auto r = parse("  workload: {name: x}\n");
  ASSERT_TRUE(r.serviceLevel);
  auto ref = ownerReference(*r.serviceLevel);
  EXPECT_EQ(ref["uid"], "u1");
  EXPECT_EQ(ref["kind"], "ServiceLevel");
  EXPECT_EQ(ref["controller"], true);
  EXPECT_EQ(childLabels(*r.serviceLevel).at("governor.io/service-level"), "checkout");
}

}  // namespace
}  // namespace governor::api
