// QueueReads without a Redis: queues that may not be read, and ports nobody listens on, show
// which queues one reading covers and how often each is resolved.
#include "metrics-adapter/queue_reads.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;

struct Counted {
  int resolves = 0;
};

// A queue at `address` that resolves as itself, counting how often it is asked.
QueueReads::Resolve resolving(const std::string& address, const std::string& key, Counted& counted) {
  return [address, key, &counted]() -> kube::Result<RedisQueue> {
    ++counted.resolves;
    return RedisQueue{.address = address, .key = key};
  };
}

TEST(QueueReadsTest, EachQueueIsReadOncePerRoundWithTheOtherQueuesOfItsSourceOnly) {
  RedisSource redis({.timeout = 300ms});
  const std::string nobody = "127.0.0.1:1", other = "127.0.0.1:2";  // nobody listens there
  auto reads = std::make_shared<QueueReads>(redis);
  Counted jobs, events, elsewhere;
  const size_t j = reads->add("redis " + nobody, resolving(nobody, "jobs", jobs), false);
  const size_t e = reads->add("redis " + nobody, resolving(nobody, "events", events), true);
  const size_t x = reads->add("redis " + other, resolving(other, "jobs", elsewhere), false);

  const RedisReading& first = reads->reading(j);
  EXPECT_EQ(first.backlog.error().what(), "redis " + nobody + " key jobs: Unavailable: connection refused");
  EXPECT_EQ(jobs.resolves, 1);
  EXPECT_EQ(events.resolves, 1) << "read with the first queue of its source";
  EXPECT_EQ(elsewhere.resolves, 0) << "another source is read by its own targets, apart";

  const RedisReading& again = reads->reading(e);
  EXPECT_EQ(again.backlog.error().what(), "redis " + nobody + " key events: Unavailable: connection refused");
  ASSERT_TRUE(again.counts);
  EXPECT_EQ(again.counts->error().what(), again.backlog.error().what());
  EXPECT_EQ(&reads->reading(j), &first) << "the same reading for the backlog and the drain-time target";
  EXPECT_EQ(jobs.resolves + events.resolves, 2);

  EXPECT_FALSE(reads->reading(x).backlog.ok());
  EXPECT_EQ(elsewhere.resolves, 1);
}

TEST(QueueReadsTest, AQueueThatMayNotBeReadIsItsOwnErrorWithoutAConnection) {
  RedisSource redis({.timeout = 300ms});
  QueueReads reads(redis);
  const kube::Error refused{kube::Status{0, "Forbidden", "address 10.0.0.9:6379 is not allowed"},
                            "redis 10.0.0.9:6379 key jobs"};
  const size_t q = reads.add(
      "redis 10.0.0.9:6379", [&]() -> kube::Result<RedisQueue> { return refused; }, true);
  const RedisReading& r = reads.reading(q);
  EXPECT_EQ(r.backlog.error().what(), refused.what());
  ASSERT_TRUE(r.counts);
  EXPECT_EQ(r.counts->error().what(), refused.what());
  EXPECT_EQ(redis.openConnections(), 0u);
}

// The Poller's workers measure a source's targets at once: they wait for the one reading.
TEST(QueueReadsTest, TargetsMeasuredAtOnceShareTheOneReadingOfTheirSource) {
  RedisSource redis({.timeout = 300ms});
  auto reads = std::make_shared<QueueReads>(redis);
  std::vector<Counted> counted(8);
  std::vector<size_t> queues;
  for (size_t i = 0; i < counted.size(); ++i) {
    queues.push_back(
        reads->add("redis 127.0.0.1:1", resolving("127.0.0.1:1", "q" + std::to_string(i), counted[i]), i % 2 == 0));
  }
  std::vector<const RedisReading*> seen(2 * queues.size());
  std::vector<std::thread> workers;
  for (size_t t = 0; t < seen.size(); ++t) {
    workers.emplace_back([&, t] { seen[t] = &reads->reading(queues[t % queues.size()]); });
  }
  for (auto& w : workers) w.join();
  for (size_t i = 0; i < counted.size(); ++i) EXPECT_EQ(counted[i].resolves, 1) << i;
  for (size_t t = 0; t < seen.size(); ++t) {
    EXPECT_EQ(seen[t], seen[t % queues.size()]) << t;
    EXPECT_EQ(seen[t]->backlog.error().status.message, "connection refused") << t;
  }
}

}  // namespace
}  // namespace governor::adapter
