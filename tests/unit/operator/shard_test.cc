// --shard I/N (operator/shard.h): the flag's grammar, each namespace to exactly one shard,
// and a Lease per shard.
#include "operator/shard.h"

#include <gtest/gtest.h>

#include <map>

namespace governor::op {
namespace {

TEST(Shard, ParsesIOfN) {
  auto s = parseShard("1/3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index, 1);
  EXPECT_EQ(s->count, 3);
  EXPECT_EQ(s->text(), "1/3");
  EXPECT_EQ(s->leaseName(), "governor-operator-shard-1-of-3");
  EXPECT_EQ(parseShard("0/1")->leaseName(), "governor-operator") << "unsharded keeps the Lease it always had";
  for (const char* bad : {"", "1", "/2", "1/", "2/2", "-1/2", "0/0", "0/65", "a/b", "0/2x", " 0/2", "0/2/3"}) {
    auto refused = parseShard(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().status.message.find("is not I/N"), std::string::npos) << refused.error().status.message;
  }
}

TEST(Shard, EveryNamespaceFallsToExactlyOneShardAndTheyShare) {
  std::map<int, int> perShard;
  for (int i = 0; i < 1000; ++i) {
    const std::string ns = "team-" + std::to_string(i);
    int owners = 0;
    for (int index = 0; index < 4; ++index) {
      if (Shard{index, 4}.owns(ns)) {
        ++owners;
        ++perShard[index];
      }
    }
    EXPECT_EQ(owners, 1) << ns;
    EXPECT_TRUE(Shard{}.owns(ns)) << "one shard owns everything";
  }
  for (int index = 0; index < 4; ++index) {
    EXPECT_GT(perShard[index], 180) << "shard " << index << " of 4 got " << perShard[index] << " of 1000 namespaces";
  }
}

}  // namespace
}  // namespace governor::op
