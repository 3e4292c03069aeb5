// QueueReads without a Redis: queues that may not be read, and ports nobody listens on, show
// which queues one reading covers, how often each is resolved, and in which round.
#include "metrics-adapter/queue_reads.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
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
  EXPECT_EQ(reads->reading(j).at, first.at) << "the same reading for the backlog and the drain-time target";
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
  std::vector<std::optional<RedisReading>> seen(2 * queues.size());
  std::vector<std::thread> workers;
  for (size_t t = 0; t < seen.size(); ++t) {
    workers.emplace_back([&, t] { seen[t] = reads->reading(queues[t % queues.size()]); });
  }
  for (auto& w : workers) w.join();
  for (size_t i = 0; i < counted.size(); ++i) EXPECT_EQ(counted[i].resolves, 1) << i;
  for (size_t t = 0; t < seen.size(); ++t) {
    EXPECT_EQ(seen[t]->at, seen[t % queues.size()]->at) << t;
    EXPECT_EQ(seen[t]->backlog.error().status.message, "connection refused") << t;
  }
}

// Each round reads a source again, once for all of its queues: never a reading of the round before.
TEST(QueueReadsTest, EachRoundReadsItsSourcesAgainOnce) {
  RedisSource redis({.timeout = 300ms});
  QueueReads reads(redis);
  Counted jobs, events;
  const size_t j = reads.add("redis 127.0.0.1:1", resolving("127.0.0.1:1", "jobs", jobs), false);
  const size_t e = reads.add("redis 127.0.0.1:1", resolving("127.0.0.1:1", "events", events), false);
  const RedisReading first = reads.reading(j);
  reads.reading(e);
  EXPECT_EQ(jobs.resolves + events.resolves, 2);

  reads.nextRound();
  const RedisReading second = reads.reading(e);
  EXPECT_EQ(jobs.resolves, 2);
  EXPECT_EQ(events.resolves, 2);
  EXPECT_GT(reads.reading(j).at, first.at) << "a reading of this round";
  EXPECT_EQ(jobs.resolves + events.resolves, 4) << "one read of the source per round";
}

// A source still read for a round when the next begins (a hung server, its round still
// measured): the targets of that round waiting for the reading take it, rather than reading again.
TEST(QueueReadsTest, ACallWaitingForItsRoundsReadingTakesItAfterTheNextRoundBegan) {
  RedisSource redis({.timeout = 300ms});
  QueueReads reads(redis);
  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;
  std::atomic<int> resolves = 0;
  const size_t hung = reads.add(
      "redis 127.0.0.1:1",
      [&]() -> kube::Result<RedisQueue> {
        ++resolves;
        std::unique_lock lock(mutex);
        opened.wait(lock, [&] { return open; });
        return RedisQueue{.address = "127.0.0.1:1", .key = "jobs"};
      },
      false);
  std::thread reading([&] { reads.reading(hung); });  // reads the source, held up
  std::thread waiting([&] { reads.reading(hung); });  // of the same round: waits for that reading
  while (resolves == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);  // `waiting` has asked by now
  reads.nextRound();
  {
    std::lock_guard lock(mutex);
    open = true;
  }
  opened.notify_all();
  reading.join();
  waiting.join();
  EXPECT_EQ(resolves, 1) << "one read for the round both asked in";
  reads.reading(hung);
  EXPECT_EQ(resolves, 2) << "the next round's own read";
}

}  // namespace
}  // namespace governor::adapter
