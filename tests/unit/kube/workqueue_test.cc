// WorkQueue: dedup, processing semantics, FIFO, delays on a fake clock and on the real
// one, backoff and token bucket, shutdown, and one worker per key under concurrency.
#include "kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::steady_clock::time_point;

// A clock that moves only when told to; tests using it run on one thread.
struct FakeClock {
  Time now{};
  Now<std::chrono::steady_clock> clock() {
    return [this] { return now; };
  }
};

std::vector<std::string> drain(WorkQueue& queue) {
  std::vector<std::string> keys;
  while (queue.size() > 0) {
    keys.push_back(*queue.get());
    queue.done(keys.back());
  }
  return keys;
}

TEST(WorkQueue, AddDeduplicatesQueuedKeys) {
  WorkQueue queue;
  queue.add("a");
  queue.add("b");
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a", "b"}));
}

TEST(WorkQueue, GetIsFifo) {
  WorkQueue queue;
  for (const char* key : {"c", "a", "d", "b"}) queue.add(key);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"c", "a", "d", "b"}));
}

TEST(WorkQueue, KeyAddedWhileProcessingIsQueuedAfterDone) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.size(), 0u) << "a is being processed";
  queue.done("a");
  EXPECT_EQ(queue.size(), 1u);
  ASSERT_EQ(queue.get(), "a");
  queue.done("a");
  EXPECT_EQ(queue.size(), 0u) << "done without a re-add queues nothing";
}

TEST(WorkQueue, DoneForAKeyNotProcessingIsIgnored) {
  WorkQueue queue;
  queue.add("a");
  queue.done("a");
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a"}));
}

TEST(WorkQueue, AddAfterWaitsForTheDelay) {
  FakeClock fake;
  WorkQueue queue({.clock = fake.clock()});
  queue.addAfter("slow", 50ms);
  queue.addAfter("fast", 20ms);
  queue.addAfter("now", 0ms);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"now"}));
  fake.now += 20ms;
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"fast"}));
  fake.now += 29ms;
  EXPECT_EQ(queue.size(), 0u);
  fake.now += 1ms;
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"slow"}));
}

TEST(WorkQueue, AddAfterKeepsTheEarliestDeadline) {
  FakeClock fake;
  WorkQueue queue({.clock = fake.clock()});
  queue.addAfter("a", 100ms);
  queue.addAfter("a", 10ms);
  queue.addAfter("b", 10ms);
  queue.addAfter("b", 100ms);
  fake.now += 10ms;
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a", "b"}));
  fake.now += 100ms;
  EXPECT_EQ(queue.size(), 0u) << "the later deadlines were dropped";
}

TEST(WorkQueue, DueKeyAlreadyQueuedIsNotQueuedTwice) {
  FakeClock fake;
  WorkQueue queue({.clock = fake.clock()});
  queue.add("a");
  queue.addAfter("a", 10ms);
  fake.now += 10ms;
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a"}));
}

TEST(WorkQueue, BlockedGetWakesWhenADelayedKeyIsDue) {
  WorkQueue queue;
  const auto start = std::chrono::steady_clock::now();
  std::thread adder([&] {
    std::this_thread::sleep_for(10ms);
    queue.addAfter("a", 30ms);
  });
  EXPECT_EQ(queue.get(), "a");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  adder.join();
  EXPECT_GE(elapsed, 40ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(WorkQueue, BlockedGetWakesEarlierForAnEarlierDeadline) {
  WorkQueue queue;
  queue.addAfter("late", 10s);
  std::thread adder([&] {
    std::this_thread::sleep_for(10ms);
    queue.addAfter("soon", 20ms);
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(queue.get(), "soon");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  adder.join();
  queue.shutDown();
}

TEST(WorkQueue, BackoffDoublesPerKeyUpToTheCap) {
  WorkQueue queue({.maxDelay = 40ms});
  std::vector<WorkQueue::Duration> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(queue.addRateLimited("a"));
  EXPECT_EQ(delays, (std::vector<WorkQueue::Duration>{5ms, 10ms, 20ms, 40ms, 40ms, 40ms}));
  EXPECT_EQ(queue.numRequeues("a"), 6);
  EXPECT_EQ(queue.addRateLimited("b"), 5ms) << "backoff is per key";
  EXPECT_EQ(queue.numRequeues("never"), 0);
  queue.forget("a");
  EXPECT_EQ(queue.numRequeues("a"), 0);
  EXPECT_EQ(queue.addRateLimited("a"), 5ms);
}

TEST(WorkQueue, BackoffOfManyFailuresStaysAtTheDefaultCap) {
  WorkQueue queue;
  WorkQueue::Duration delay{};
  for (int i = 0; i < 100; ++i) delay = queue.addRateLimited("a");
  EXPECT_EQ(delay, 1000s);
}

TEST(WorkQueue, RateLimitedAddIsQueuedAfterItsDelay) {
  FakeClock fake;
  WorkQueue queue({.clock = fake.clock()});
  queue.addRateLimited("a");
  queue.addRateLimited("a");  // 10ms, later than the pending 5ms
  fake.now += 4ms;
  EXPECT_EQ(queue.size(), 0u);
  fake.now += 1ms;
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a"}));
  fake.now += 10ms;
  EXPECT_EQ(queue.size(), 0u);
}

TEST(WorkQueue, TokenBucketDelaysBeyondTheBurst) {
  FakeClock fake;
  WorkQueue queue({.qps = 10, .burst = 2, .clock = fake.clock()});
  EXPECT_EQ(queue.addRateLimited("a"), 5ms);
  EXPECT_EQ(queue.addRateLimited("b"), 5ms);
  EXPECT_EQ(queue.addRateLimited("c"), 100ms) << "the bucket is empty: one token per 100ms";
  EXPECT_EQ(queue.addRateLimited("d"), 200ms);
  fake.now += 250ms;  // refills the two tokens reserved, plus half of one
  EXPECT_EQ(queue.addRateLimited("e"), 50ms);
  fake.now += 1s;  // refills to the burst, no further
  EXPECT_EQ(queue.addRateLimited("f"), 5ms);
  EXPECT_EQ(queue.addRateLimited("g"), 5ms);
  EXPECT_EQ(queue.addRateLimited("h"), 100ms);
}

TEST(WorkQueue, ShutDownWakesBlockedGetters) {
  WorkQueue queue;
  std::atomic<int> woken = 0;
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back([&] {
      if (!queue.get()) ++woken;
    });
  }
  std::this_thread::sleep_for(20ms);
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(woken, 3);
}

TEST(WorkQueue, ShutDownDrainsQueuedKeysAndDropsTheRest) {
  FakeClock fake;
  WorkQueue queue({.clock = fake.clock()});
  queue.add("a");
  queue.add("b");
  queue.addAfter("delayed", 10ms);
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  queue.shutDown();
  queue.add("c");
  queue.addAfter("d", 1ms);
  queue.addRateLimited("e");
  fake.now += 1s;
  EXPECT_EQ(queue.get(), "b");
  queue.done("a");  // re-added before shutdown: handed out once more, as client-go does
  EXPECT_EQ(queue.get(), "a");
  EXPECT_EQ(queue.get(), std::nullopt);
  EXPECT_EQ(queue.get(), std::nullopt);
}

TEST(WorkQueue, WorkersNeverShareAKey) {
  WorkQueue queue;
  std::map<std::string, std::atomic<int>> active;
  for (int i = 0; i < 8; ++i) active["k" + std::to_string(i)];
  std::atomic<int> overlaps = 0;
  std::atomic<int> processed = 0;
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        if (++active.at(*key) != 1) ++overlaps;
        std::this_thread::yield();
        if (processed++ % 3 == 0) queue.add(*key);
        --active.at(*key);
        queue.done(*key);
      }
    });
  }
  for (int i = 0; i < 3000; ++i) {
    queue.add("k" + std::to_string(i % 8));
    if (i % 100 == 0) std::this_thread::sleep_for(1ms);
  }
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(overlaps, 0);
  EXPECT_GT(processed, 0);
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace governor::kube
