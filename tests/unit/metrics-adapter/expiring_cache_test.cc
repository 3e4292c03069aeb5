#include "metrics-adapter/expiring_cache.h"

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
using Clock = ExpiringCache<int>::Clock;
const Clock::time_point t0{std::chrono::hours(1)};

TEST(ExpiringCacheTest, KeepsEachValueForItsOwnTtl) {
  ExpiringCache<int> cache(100);
  cache.put("long", 1, 10s, t0);
  cache.put("short", 2, 3s, t0);
  EXPECT_EQ(cache.get("long", t0 + 9s), 1);
  EXPECT_EQ(cache.get("short", t0 + 2s), 2);
  EXPECT_FALSE(cache.get("short", t0 + 3s)) << "expired at put time + ttl";
  EXPECT_FALSE(cache.get("long", t0 + 10s));
  EXPECT_FALSE(cache.get("unknown", t0));

  cache.put("short", 3, 10s, t0 + 5s);  // a new value replaces the old one, with its own ttl
  EXPECT_EQ(cache.get("short", t0 + 14s), 3);
}

TEST(ExpiringCacheTest, StaysWithinItsCapacityDroppingExpiredEntriesFirst) {
  ExpiringCache<int> cache(3);
  cache.put("a", 1, 10s, t0);
  cache.put("b", 2, 10s, t0 + 5s);
  cache.put("c", 3, 10s, t0 + 5s);
  cache.put("d", 4, 10s, t0 + 12s);  // full: "a" has expired and goes
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.get("b", t0 + 12s) && cache.get("c", t0 + 12s) && cache.get("d", t0 + 12s));

  cache.put("e", 5, 10s, t0 + 13s);  // full, nothing expired: one entry goes all the same
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.get("e", t0 + 13s), 5);
  cache.put("e", 6, 10s, t0 + 13s);  // replacing a key never evicts another
  EXPECT_EQ(cache.size(), 3u);
}

}  // namespace
}  // namespace governor::adapter
