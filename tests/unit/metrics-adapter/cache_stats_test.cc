// The cache hit ratio's pieces without a server: parsing INFO stats (any bytes), the counter
// and ratio arithmetic, CacheStats' exported counters and served ratio, the target targetsFor
// makes for a ServiceLevel with a cache, and a poll round's targets (RoundTargets).
#include "metrics-adapter/cache_stats.h"

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "metrics-adapter/sources/redis_info.h"
#include "metrics-adapter/sources/redis_source.h"
#include "metrics-adapter/targets.h"

namespace governor::adapter {
namespace {

// ---- parseKeyspaceStats -----------------------------------------------------------------

// The shape of Redis 7.2's INFO stats (abridged).
constexpr const char* kInfoStats =
    "# Stats\r\n"
    "total_connections_received:3\r\n"
    "total_commands_processed:12\r\n"
    "expired_keys:0\r\n"
    "evicted_keys:0\r\n"
    "keyspace_hits:7\r\n"
    "keyspace_misses:3\r\n"
    "pubsub_channels:0\r\n"
    "total_active_defrag_time:0\r\n";

TEST(RedisReplies, AreReadAsTheMeasurementsReadThem) {
  EXPECT_EQ(readRedisCount(":42\r\n", "LLEN").value(), 42);
  EXPECT_EQ(readRedisCount(":-1\r\n", "LLEN").error().status.reason, "InvalidResponse");
  EXPECT_EQ(readRedisCount("-WRONGTYPE no\r\n", "LLEN").error().status.reason, "Invalid");
  EXPECT_EQ(readRedisCount(":4", "LLEN").error().status.message, "LLEN: incomplete reply");
  // hiredis 0.14 would allocate the element table of 2e9 entries (16 GB) before any arrived.
  EXPECT_EQ(readRedisEntries("*2000000000\r\n").error().status.message,
            "XRANGE: reply too large (an array of more than 1048576 elements)");
  EXPECT_EQ(readRedisEntries("*2\r\n*0\r\n*0\r\n").value(), 2);

  auto group =
      readRedisGroup("*1\r\n*6\r\n$4\r\nname\r\n$1\r\ng\r\n$7\r\npending\r\n:3\r\n$3\r\nlag\r\n:5\r\n", "s", "g");
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(groupBacklogOf(*group, std::nullopt).value(), 8);
  EXPECT_EQ(readRedisGroup("*0\r\n", "s", "g").error().status.reason, "NotFound");
  auto noLag = readRedisGroup(
      "*1\r\n*6\r\n$4\r\nname\r\n$1\r\ng\r\n$7\r\npending\r\n:3\r\n"
      "$17\r\nlast-delivered-id\r\n$3\r\n5-9\r\n",
      "s", "g");
  ASSERT_TRUE(noLag.ok());
  EXPECT_EQ(noLag->entriesAfter, "5-10");
  EXPECT_EQ(groupBacklogOf(*noLag, 4).value(), 7);
  // Counts from a server are not trusted: a sum past int64 is an error, not overflow.
  RedisGroup huge{std::numeric_limits<int64_t>::max(), 1, std::nullopt};
  EXPECT_FALSE(groupBacklogOf(huge, std::nullopt).ok());
  // An error reply that is not UTF-8 is quoted with U+FFFD: it is served in JSON.
  EXPECT_EQ(readRedisCount("-ERR caf\xE9\r\n", "LLEN").error().status.message, "LLEN: ERR caf\xEF\xBF\xBD");
}

TEST(ParseKeyspaceStats, ReadsInfoStats) {
  auto stats = parseKeyspaceStats(kInfoStats);
  ASSERT_TRUE(stats) << stats.error().what();
  EXPECT_EQ(*stats, (KeyspaceStats{7, 3}));
}

TEST(ParseKeyspaceStats, ReadsFullInfoWithBareNewlinesAndHugeCounts) {
  auto stats = parseKeyspaceStats(
      "# Server\nredis_version:7.2.4\n\n# Stats\nkeyspace_misses:0\nkeyspace_hits:18446744073709551615\n"
      "# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0\n");
  ASSERT_TRUE(stats) << stats.error().what();
  EXPECT_EQ(*stats, (KeyspaceStats{std::numeric_limits<uint64_t>::max(), 0}));
}

TEST(ParseKeyspaceStats, LastLineWithoutNewline) {
  auto stats = parseKeyspaceStats("keyspace_hits:1\r\nkeyspace_misses:2");
  ASSERT_TRUE(stats) << stats.error().what();
  EXPECT_EQ(*stats, (KeyspaceStats{1, 2}));
}

TEST(ParseKeyspaceStats, RefusesWhatIsNotTwoCounts) {
  const std::map<std::string, std::string> cases{
      {"", "no keyspace_hits"},
      {"keyspace_hits:1\r\n", "no keyspace_misses"},
      {"keyspace_misses:1\r\n", "no keyspace_hits"},
      {"keyspace_hits:\r\nkeyspace_misses:1\r\n", "keyspace_hits is not a count"},
      {"keyspace_hits:-1\r\nkeyspace_misses:1\r\n", "keyspace_hits is not a count"},
      {"keyspace_hits:+1\r\nkeyspace_misses:1\r\n", "keyspace_hits is not a count"},
      {"keyspace_hits:1.5\r\nkeyspace_misses:1\r\n", "keyspace_hits is not a count"},
      {"keyspace_hits: 1\r\nkeyspace_misses:1\r\n", "keyspace_hits is not a count"},
      {"keyspace_hits:1\r\nkeyspace_misses:18446744073709551616\r\n", "keyspace_misses is not a count"},
      {"keyspace_hits:1\r\nkeyspace_hits:2\r\nkeyspace_misses:1\r\n", "keyspace_hits is given twice"},
      {"-ERR unknown command 'INFO'", "no keyspace_hits"},
      {std::string("keyspace_hits:1\0\r\nkeyspace_misses:1\r\n", 33), "keyspace_hits is not a count"},
  };
  for (const auto& [text, problem] : cases) {
    auto stats = parseKeyspaceStats(text);
    ASSERT_FALSE(stats) << text;
    EXPECT_EQ(stats.error().status.reason, "InvalidResponse");
    EXPECT_NE(stats.error().status.message.find(problem), std::string::npos)
        << text << " -> " << stats.error().status.message;
  }
}

TEST(ParseKeyspaceStats, FieldsThatOnlyLookAlikeAreIgnored) {
  auto stats = parseKeyspaceStats(
      "xkeyspace_hits:9\nkeyspace_hits_x:9\nkeyspace_hits:4\n#keyspace_misses:9\n"
      "keyspace_misses:5\nno colon here\n:\n");
  ASSERT_TRUE(stats) << stats.error().what();
  EXPECT_EQ(*stats, (KeyspaceStats{4, 5}));
}

// Every prefix and every one-byte change of a real reply: an answer or an error, never a
// crash (what a fuzzer would try first).
TEST(ParseKeyspaceStats, AnyMangledReplyIsAnAnswerOrAnError) {
  const std::string info = kInfoStats;
  for (size_t n = 0; n <= info.size(); ++n) (void)parseKeyspaceStats(std::string_view(info).substr(0, n));
  for (size_t i = 0; i < info.size(); ++i) {
    for (int byte : {0, int{'\n'}, int{':'}, int{'9'}, 0xff}) {
      std::string mangled = info;
      mangled[i] = static_cast<char>(byte);
      auto stats = parseKeyspaceStats(mangled);
      if (stats) {
        EXPECT_LE(stats->hits + stats->misses, 99ull + 99ull);
      }
    }
  }
}

// ---- arithmetic ---------------------------------------------------------------------------

TEST(CounterIncrease, DifferenceOrAllOfItAfterARestart) {
  EXPECT_EQ(counterIncrease(10, 15), 5u);
  EXPECT_EQ(counterIncrease(10, 10), 0u);
  EXPECT_EQ(counterIncrease(10, 4), 4u) << "Redis restarted and counted 4 since";
  EXPECT_EQ(counterIncrease(10, 0), 0u);
  EXPECT_EQ(counterIncrease(0, 7), 7u);
  EXPECT_EQ(statsIncrease({100, 50}, {130, 20}), (KeyspaceStats{30, 20}));
}

TEST(HitRatio, HitsOverLookupsOfTheWindow) {
  EXPECT_EQ(hitRatio({3, 1}), 0.75);
  EXPECT_EQ(hitRatio({0, 5}), 0.0);
  EXPECT_EQ(hitRatio({5, 0}), 1.0);
  EXPECT_EQ(hitRatio({0, 0}), std::nullopt) << "no lookup: 0/0 is no ratio, not 0";
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(hitRatio({max, 1}), std::nullopt) << "lookups beyond 64 bits";
}

// ---- CacheStats ---------------------------------------------------------------------------

// The value of `family`'s counter with these labels in the registry's exposition; NaN when
// absent.
double counterValue(prometheus::Registry& registry, const std::string& family, const std::string& ns,
                    const std::string& sl) {
  for (const auto& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& l : m.label) labels[l.name] = l.value;
      if (labels == std::map<std::string, std::string>{{"namespace", ns}, {"servicelevel", sl}}) return m.counter.value;
    }
  }
  return std::nan("");
}

class CacheStatsTest : public ::testing::Test {
 protected:
  double hits(const std::string& sl = "checkout") { return counterValue(registry, kCacheHitsCounter, "shop", sl); }
  double misses(const std::string& sl = "checkout") { return counterValue(registry, kCacheMissesCounter, "shop", sl); }

  prometheus::Registry registry;
  CacheStats stats{registry};
  const CacheStats::Key checkout{"shop", "checkout"};
};

TEST_F(CacheStatsTest, FirstReadingExportsTheCountsButNoRatio) {
  EXPECT_TRUE(std::isnan(hits())) << "nothing exported before a reading";
  EXPECT_EQ(stats.observe(checkout, {70, 30}), std::nullopt) << "one reading is no window";
  EXPECT_EQ(hits(), 70);
  EXPECT_EQ(misses(), 30);
  EXPECT_EQ(stats.ratio(checkout), std::nullopt);
}

TEST_F(CacheStatsTest, RatioOfTheWindowBetweenTwoReadings) {
  stats.observe(checkout, {70, 30});
  EXPECT_EQ(stats.observe(checkout, {78, 32}), 0.8) << "8 hits and 2 misses since the last poll";
  EXPECT_EQ(hits(), 78);
  EXPECT_EQ(misses(), 32);
  EXPECT_EQ(stats.observe(checkout, {79, 35}), 0.25);
  EXPECT_EQ(stats.ratio(checkout), 0.25);
}

TEST_F(CacheStatsTest, IdleWindowsKeepTheLastRatio) {
  stats.observe(checkout, {0, 0});
  EXPECT_EQ(stats.observe(checkout, {0, 0}), std::nullopt) << "no window with lookups yet";
  EXPECT_EQ(stats.observe(checkout, {9, 1}), 0.9);
  EXPECT_EQ(stats.observe(checkout, {9, 1}), 0.9) << "idle: the last value stays";
  EXPECT_EQ(stats.observe(checkout, {9, 1}), 0.9);
  EXPECT_EQ(hits(), 9);
  EXPECT_EQ(misses(), 1);
}

TEST_F(CacheStatsTest, ARestartAddsTheNewCountsAndTheCountersNeverGoDown) {
  stats.observe(checkout, {1000, 500});
  // Redis restarted between polls and has counted 3 hits and 1 miss since.
  EXPECT_EQ(stats.observe(checkout, {3, 1}), 0.75);
  EXPECT_EQ(hits(), 1003);
  EXPECT_EQ(misses(), 501);
  EXPECT_EQ(stats.observe(checkout, {5, 1}), 1.0);
  EXPECT_EQ(hits(), 1005);
}

TEST_F(CacheStatsTest, CachesAreApartAndRetainForgetsTheDeletedOnes) {
  const CacheStats::Key cart{"shop", "cart"};
  stats.observe(checkout, {1, 1});
  stats.observe(cart, {5, 5});
  stats.observe(checkout, {2, 1});
  stats.observe(cart, {5, 9});
  EXPECT_EQ(stats.ratio(checkout), 1.0);
  EXPECT_EQ(stats.ratio(cart), 0.0);

  stats.retain({checkout});
  EXPECT_EQ(stats.ratio(cart), std::nullopt);
  EXPECT_TRUE(std::isnan(hits("cart"))) << "a deleted ServiceLevel's cache leaves /metrics";
  EXPECT_TRUE(std::isnan(misses("cart")));
  EXPECT_EQ(hits(), 2);
  EXPECT_EQ(stats.ratio(checkout), 1.0);

  // Made again later (the ServiceLevel is recreated): it starts afresh.
  stats.observe(cart, {5, 9});
  EXPECT_EQ(stats.ratio(cart), std::nullopt);
  EXPECT_EQ(hits("cart"), 5);
}

// ---- targetsFor ---------------------------------------------------------------------------

api::ServiceLevel withCache(const std::string& name) {
  api::ServiceLevel sl;
  sl.name = name;
  sl.namespaceName = "shop";
  sl.workload.name = "web";
  sl.cache = api::Cache{};
  return sl;
}

// What targets measure with; nothing is measured here.
class CacheTarget : public ::testing::Test {
 protected:
  Sources sources() { return Sources{redis, prometheus, caches, drains, secrets, {}}; }

  prometheus::Registry registry;
  CacheStats caches{registry};
  DrainEstimator drains;
  RedisSource redis;
  kube::PrometheusClient prometheus{"http://127.0.0.1:1", std::chrono::milliseconds(100)};
  SecretReader secrets = [](const std::string&, const api::SecretKeyRef&) -> kube::Result<std::string> {
    return std::string();
  };
};

TEST_F(CacheTarget, OneForAServiceLevelWithACache) {
  auto none = targetsFor(api::ServiceLevel{.name = "bare", .namespaceName = "shop"}, sources(), {});
  EXPECT_TRUE(none.empty());

  auto targets = targetsFor(withCache("checkout"), sources(), {});
  ASSERT_EQ(targets.size(), 1u);
  const MetricTarget& t = targets[0];
  EXPECT_EQ(t.api, MetricTarget::Api::Custom);
  EXPECT_EQ(t.metric, "governor_cache_hit_ratio");
  EXPECT_EQ(t.resource, "servicelevels.governor.io");
  EXPECT_EQ(t.objectKind, "ServiceLevel");
  EXPECT_EQ(t.objectApiVersion, "governor.io/v1alpha1");
  EXPECT_EQ(t.objectName, "checkout");
  EXPECT_EQ(t.namespaceName, "shop");
  EXPECT_EQ(t.source, "redis checkout-redis.shop.svc:6379") << "the cache's Service, as the operator names it";
  ASSERT_TRUE(t.served);
  EXPECT_EQ(t.served(), std::nullopt);
  caches.observe({"shop", "checkout"}, {1, 1});
  caches.observe({"shop", "checkout"}, {4, 2});
  EXPECT_EQ(t.served(), 0.75);

  auto local = targetsFor(withCache("checkout"), sources(), {.cacheAddressTemplate = "127.0.0.1:6390"});
  EXPECT_EQ(local[0].source, "redis 127.0.0.1:6390");
}

// A poll round: a workload's latency carries the workload's labels, the ServiceLevel's hit
// ratio is asked of no workload, and the cache of a ServiceLevel no longer there is forgotten.
TEST_F(CacheTarget, ARoundLabelsWorkloadMetricsAndForgetsDeletedServiceLevels) {
  caches.observe({"shop", "gone"}, {1, 1});
  caches.observe({"shop", "gone"}, {4, 2});
  ASSERT_EQ(caches.ratio({"shop", "gone"}), 0.75);

  auto checkout = withCache("checkout");
  checkout.objectives = api::Objectives{};
  checkout.objectives->latency =
      api::LatencyObjective{.histogram = "http_request_duration_seconds_bucket{job=\"web\"}"};
  std::vector<std::string> asked;
  RoundTargets round(sources(), {},
                     [&](const std::string& ns, const api::Workload& workload) -> kube::Result<api::Labels> {
                       asked.push_back(workload.kind + " " + ns + "/" + workload.name);
                       return api::Labels{{"app", "web"}};
                     });
  round.add(checkout);
  auto targets = std::move(round).take();
  size_t latencies = 0;
  for (const auto& t : targets) {
    if (t.resource != "deployments.apps") continue;
    ++latencies;
    EXPECT_EQ(t.labels.at("app"), "web") << t.key;
  }
  EXPECT_EQ(latencies, 4u) << "p50, p90, p95 and p99";
  EXPECT_EQ(targets.size(), latencies + 1) << "and the hit ratio";
  EXPECT_EQ(asked, std::vector<std::string>(latencies, "Deployment shop/web"));
  EXPECT_EQ(caches.ratio({"shop", "gone"}), std::nullopt);
}

}  // namespace
}  // namespace governor::adapter
