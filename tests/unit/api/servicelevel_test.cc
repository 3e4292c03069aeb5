// Parsing ServiceLevels: defaults, and every problem named by its field.
#include <gtest/gtest.h>

#include "api/servicelevel.h"
#include "kube/yaml.h"

namespace governor::api {
namespace {

// ServiceLevel shop/checkout with this spec (and these metadata.annotations, as YAML flow pairs).
ParseResult parse(const std::string& spec, const std::string& annotations = "") {
  auto docs = kube::parseYamlDocuments(
      "apiVersion: governor.io/v1alpha1\nkind: ServiceLevel\n"
      "metadata: {name: checkout, namespace: shop, uid: u1, generation: 3, "
      "annotations: {" +
      annotations +
      "}}\n"
      "spec:\n" +
      spec);
  EXPECT_TRUE(docs.ok()) << docs.error().what();
  return parseServiceLevel((*docs)[0]);
}

TEST(ParseServiceLevel, MinimalOneGetsDefaults) {
  auto r = parse(
      "  workload: {name: worker}\n"
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
  EXPECT_DOUBLE_EQ(sl.objectives->latency->target.value(), 95);
  EXPECT_EQ(sl.alerting.page.severity, "critical");
  EXPECT_FALSE(sl.quota);
}

TEST(ParsePercent, KeepsTheExactValue) {
  struct Case {
    std::string text;
    int64_t micro;
    std::string canonical;
  };
  for (const auto& c :
       {Case{"99.9", 99900000, "99.9"}, Case{"99.90", 99900000, "99.9"}, Case{"50", 50000000, "50"},
        Case{"0.000001", 1, "0.000001"}, Case{"99.999999", 99999999, "99.999999"}, Case{"07", 7000000, "7"}}) {
    auto p = parsePercent(c.text);
    ASSERT_TRUE(p) << c.text;
    EXPECT_EQ(p->micro, c.micro) << c.text;
    EXPECT_EQ(p->text(), c.canonical) << c.text;
    EXPECT_DOUBLE_EQ(p->value(), std::stod(c.text)) << c.text;
  }
  for (const char* bad : {"100", "0", "0.0", "99.1234567", "99.9%", "1e2", " 99", ".5", "5.", "-1", "", "99,9"}) {
    EXPECT_FALSE(parsePercent(bad)) << bad;
  }
}

TEST(ParseServiceLevel, ADefaultCacheIs256Mi) {
  EXPECT_EQ(Cache{}.maxMemory.canonical(), "256Mi");
  EXPECT_EQ(Cache{}.maxMemory.format(), kube::Quantity::Format::BinarySI);
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
        Invalid{
            "  workload: {name: x}\n  autoscaling: {minReplicas: 5, maxReplicas: 2, queue: {redis: {address: a, key: "
            "k}, targetPerReplica: 5}}\n",
            "spec.autoscaling.maxReplicas: must be >= minReplicas (5), not 2"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2}\n",
                "spec.autoscaling: needs queue, latency or resources"},
        Invalid{"  workload: {name: x}\n  autoscaling: {minReplicas: 0, maxReplicas: 2, resources: {cpu: "
                "{averageUtilization: 70}}}\n",
                "spec.autoscaling.minReplicas: 0 needs a queue"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, resources: {gpu: {averageValue: 1}}}\n",
                "spec.autoscaling.resources.gpu: unknown resource: only cpu and memory"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, resources: {cpu: {averageUtilization: 70, "
                "averageValue: 500m}}}\n",
                "spec.autoscaling.resources.cpu: needs exactly one of averageUtilization"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, resources: {memory: {}}}\n",
                "spec.autoscaling.resources.memory: needs exactly one of"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, resources: {memory: {averageValue: lots}}}\n",
                "spec.autoscaling.resources.memory.averageValue"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, resources: {cpu: {averageUtilization: 0}}}\n",
                "spec.autoscaling.resources.cpu.averageUtilization: must be between 1 and 1000"},
        Invalid{"  workload: {name: x}\n  autoscaling: {minReplicas: 0, maxReplicas: 2, idleFor: soon, queue: {redis: "
                "{address: a, key: k}, targetPerReplica: 5}}\n",
                "spec.autoscaling.idleFor"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, latency: {target: 1s}}\n",
                "spec.autoscaling.latency: needs objectives.latency"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, queue: {redis: {address: a, key: k, type: "
                "stream}, targetPerReplica: 5}}\n",
                "spec.autoscaling.queue.redis.consumerGroup: required for a stream"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 2, queue: {redis: {address: a, key: k}, "
                "targetPerReplica: 0}}\n",
                "spec.autoscaling.queue.targetPerReplica: must be between 1"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "targetPerReplica: 5, fallback: {replicas: 6}}}\n",
                "spec.autoscaling.queue.fallback.replicas: must be <= maxReplicas (4), not 6"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "targetPerReplica: 5, fallback: {afterFailures: 2}}}\n",
                "spec.autoscaling.queue.fallback.replicas: required"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "targetPerReplica: 5, fallback: {replicas: 2, afterFailures: 0}}}\n",
                "spec.autoscaling.queue.fallback.afterFailures: must be between 1 and 100"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}}}\n",
                "spec.autoscaling.queue: needs targetPerReplica (a backlog per replica) or drainWithin"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "drainWithin: 0s, arrivalQuery: a_total}}\n",
                "spec.autoscaling.queue.drainWithin: must be longer than 0"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "drainWithin: soon, arrivalQuery: a_total}}\n",
                "spec.autoscaling.queue.drainWithin"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "drainWithin: 2m}}\n",
                "spec.autoscaling.queue.drainWithin: a list needs arrivalQuery or processedQuery"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "drainWithin: 2m, arrivalQuery: 'rate(a_total[1m])'}}\n",
                "spec.autoscaling.queue.arrivalQuery: must be a counter's series selector"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k}, "
                "drainWithin: 2m, processedQuery: 'a_total} or vector(1'}}\n",
                "spec.autoscaling.queue.processedQuery: must be a counter's series selector"},
        Invalid{
            "  workload: {name: x}\n  autoscaling: {maxReplicas: 4, queue: {redis: {address: a, key: k, type: stream, "
            "consumerGroup: g}, drainWithin: 2m, arrivalQuery: a_total}}\n",
            "spec.autoscaling.queue: arrivalQuery and processedQuery are for lists"},
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
                "spec.autoscaling.queue.redis.address"},
        Invalid{"  workload: {name: x}\n  autoscaling: {maxReplicas: 3, resources: {cpu: {averageUtilization: 70}}, "
                "scaleDownGuard: {whileBurning: page}}\n",
                "spec.autoscaling.scaleDownGuard: needs objectives"},
        Invalid{"  workload: {name: x}\n  objectives: {latency: {threshold: 1s, target: '9', histogram: h_bucket}}\n"
                "  autoscaling: {maxReplicas: 3, resources: {cpu: {averageUtilization: 70}}, "
                "scaleDownGuard: {whileBurning: ticket}}\n",
                "spec.autoscaling.scaleDownGuard.whileBurning: must be one of page"},
        Invalid{"  workload: {name: x}\n  objectives: {latency: {threshold: 1s, target: '9', histogram: h_bucket}}\n"
                "  autoscaling: {maxReplicas: 3, resources: {cpu: {averageUtilization: 70}}, scaleDownGuard: {}}\n",
                "spec.autoscaling.scaleDownGuard.whileBurning: required"}));

TEST(ParseServiceLevel, ScaleDownGuardWhileThePageTierBurns) {
  auto r = parse(
      "  workload: {name: worker}\n"
      "  objectives: {latency: {threshold: 200ms, target: '95', histogram: h_bucket}}\n"
      "  autoscaling: {maxReplicas: 10, resources: {cpu: {averageUtilization: 70}},\n"
      "    scaleDownGuard: {whileBurning: page}}\n");
  ASSERT_TRUE(r.serviceLevel) << (r.problems.empty() ? "" : r.problems[0]);
  ASSERT_TRUE(r.serviceLevel->autoscaling->scaleDownGuard);
  EXPECT_EQ(r.serviceLevel->autoscaling->scaleDownGuard->whileBurning, "page");

  auto without = parse(
      "  workload: {name: worker}\n"
      "  autoscaling: {maxReplicas: 10, resources: {cpu: {averageUtilization: 70}}}\n");
  ASSERT_TRUE(without.serviceLevel);
  EXPECT_FALSE(without.serviceLevel->autoscaling->scaleDownGuard);
}

TEST(ParseServiceLevel, ResourcesScaleToZeroAndIdleFor) {
  auto r = parse(
      "  workload: {name: worker}\n"
      "  autoscaling: {minReplicas: 0, maxReplicas: 10, idleFor: 90s,\n"
      "    queue: {redis: {address: 'r:6379', key: jobs}, targetPerReplica: 10},\n"
      "    resources: {cpu: {averageUtilization: 70}, memory: {averageValue: 512Mi}}}\n");
  ASSERT_TRUE(r.serviceLevel) << (r.problems.empty() ? "" : r.problems[0]);
  const auto& a = *r.serviceLevel->autoscaling;
  EXPECT_EQ(a.minReplicas, 0);
  EXPECT_EQ(a.idleFor, std::chrono::seconds(90));
  EXPECT_EQ(a.resources.at("cpu").averageUtilization, 70);
  EXPECT_FALSE(a.resources.at("cpu").averageValue);
  EXPECT_EQ(a.resources.at("memory").averageValue->canonical(), "512Mi");
  EXPECT_FALSE(r.serviceLevel->paused);
}

TEST(ParseServiceLevel, QueueFallback) {
  auto withFallback = [](const std::string& fallback) {
    return parse(
        "  workload: {name: worker}\n"
        "  autoscaling: {maxReplicas: 10, queue: {redis: {address: 'r:6379', key: jobs}, targetPerReplica: 10" +
        fallback + "}}\n");
  };
  auto none = withFallback("");
  ASSERT_TRUE(none.serviceLevel);
  EXPECT_FALSE(none.serviceLevel->autoscaling->queue->fallback);
  auto defaulted = withFallback(", fallback: {replicas: 4}");
  ASSERT_TRUE(defaulted.serviceLevel) << (defaulted.problems.empty() ? "" : defaulted.problems[0]);
  EXPECT_EQ(defaulted.serviceLevel->autoscaling->queue->fallback->replicas, 4);
  EXPECT_EQ(defaulted.serviceLevel->autoscaling->queue->fallback->afterFailures, 3);
  auto given = withFallback(", fallback: {replicas: 10, afterFailures: 1}");
  ASSERT_TRUE(given.serviceLevel) << (given.problems.empty() ? "" : given.problems[0]);
  EXPECT_EQ(given.serviceLevel->autoscaling->queue->fallback->replicas, 10);
  EXPECT_EQ(given.serviceLevel->autoscaling->queue->fallback->afterFailures, 1);
}

TEST(ParseServiceLevel, QueueDrainWithin) {
  auto list = parse(
      "  workload: {name: worker}\n"
      "  autoscaling: {maxReplicas: 10, queue: {redis: {address: 'r:6379', key: jobs}, drainWithin: 90s, "
      "arrivalQuery: 'jobs_pushed_total{queue=\"jobs\"}'}}\n");
  ASSERT_TRUE(list.serviceLevel) << (list.problems.empty() ? "" : list.problems[0]);
  const auto& q = *list.serviceLevel->autoscaling->queue;
  EXPECT_EQ(q.drainWithin, std::chrono::seconds(90));
  EXPECT_EQ(q.targetPerReplica, 0) << "drainWithin alone: no backlog per replica";
  EXPECT_EQ(q.arrivalQuery, "jobs_pushed_total{queue=\"jobs\"}");
  EXPECT_EQ(q.processedQuery, "");

  auto stream = parse(
      "  workload: {name: worker}\n"
      "  autoscaling: {maxReplicas: 10, queue: {redis: {address: 'r:6379', key: s, type: stream, "
      "consumerGroup: g}, targetPerReplica: 50, drainWithin: 2m}}\n");
  ASSERT_TRUE(stream.serviceLevel) << (stream.problems.empty() ? "" : stream.problems[0]);
  EXPECT_EQ(stream.serviceLevel->autoscaling->queue->drainWithin, std::chrono::minutes(2));
  EXPECT_EQ(stream.serviceLevel->autoscaling->queue->targetPerReplica, 50);

  auto without = parse(
      "  workload: {name: worker}\n"
      "  autoscaling: {maxReplicas: 10, queue: {redis: {address: 'r:6379', key: jobs}, targetPerReplica: 5}}\n");
  ASSERT_TRUE(without.serviceLevel);
  EXPECT_FALSE(without.serviceLevel->autoscaling->queue->drainWithin);
}

// The pause annotations: a number of replicas, or "true" for where the workload is; anything
// else is refused by name rather than ignored.
ParseResult parseAnnotated(const std::string& annotations) {
  return parse(
      "  workload: {name: worker}\n  autoscaling: {maxReplicas: 5, resources: {cpu: {averageUtilization: 70}}}\n",
      annotations);
}

TEST(ParseServiceLevel, PauseAnnotations) {
  EXPECT_EQ(parseAnnotated("governor.io/paused-replicas: '3'").serviceLevel->paused->replicas, 3);
  EXPECT_EQ(parseAnnotated("governor.io/paused-replicas: '0'").serviceLevel->paused->replicas, 0);
  auto here = parseAnnotated("governor.io/paused: 'true'");
  ASSERT_TRUE(here.serviceLevel->paused);
  EXPECT_FALSE(here.serviceLevel->paused->replicas);
  EXPECT_FALSE(parseAnnotated("governor.io/paused: 'false'").serviceLevel->paused);
  EXPECT_FALSE(parseAnnotated("other: x").serviceLevel->paused);
  // Both: the number wins.
  EXPECT_EQ(
      parseAnnotated("governor.io/paused: 'true', governor.io/paused-replicas: '2'").serviceLevel->paused->replicas, 2);
  for (const char* bad : {"governor.io/paused-replicas: 'three'", "governor.io/paused-replicas: '-1'",
                          "governor.io/paused-replicas: '1001'", "governor.io/paused: 'yes'"}) {
    auto r = parseAnnotated(bad);
    ASSERT_FALSE(r.serviceLevel) << bad;
    EXPECT_NE(r.problems[0].find("metadata.annotations[governor.io/paused"), std::string::npos) << r.problems[0];
  }
}

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
  auto r = parse(
      "  workload: {name: x}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
      "'checkout-redis:6379', key: jobs}, targetPerReplica: 1}}\n");
  EXPECT_TRUE(r.serviceLevel) << (r.problems.empty() ? "" : r.problems[0]);
  auto apart = parse(
      "  workload: {name: x}\n  cache: {}\n  autoscaling: {maxReplicas: 3, queue: {redis: {address: "
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
