// A deduplicating, rate-limited work queue of string keys ("namespace/name"), as
// client-go's: a key is processed by one worker at a time, re-added keys wait their turn,
// failures back off exponentially per key, and shutdown wakes every waiting worker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "kube/clock.h"
#include "kube/rate_limit.h"

namespace governor::kube {

struct WorkQueueOptions {
  // Per key: the n-th addRateLimited since forget() waits baseDelay * 2^(n-1), at most maxDelay.
  std::chrono::steady_clock::duration baseDelay = std::chrono::milliseconds(5);
  std::chrono::steady_clock::duration maxDelay = std::chrono::seconds(1000);
  // Over all keys: a token bucket of addRateLimited calls (qps > 0).
  double qps = 10;
  int burst = 100;
  Now<std::chrono::steady_clock> clock = std::chrono::steady_clock::now;
};

// Thread-safe. Workers loop: `while (auto key = q.get()) { ...; q.done(*key); }`.
// Destroy only after shutDown() and after every worker has returned from get().
class WorkQueue {
 public:
  using Duration = std::chrono::steady_clock::duration;

  explicit WorkQueue(WorkQueueOptions options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already queued; a key being processed is queued again only
  // when its worker calls done(). Ignored after shutDown().
  void add(const std::string& key);
  // add(key) once `delay` has passed; of several pending delays for a key the earliest wins.
  void addAfter(const std::string& key, Duration delay);
  // addAfter with the larger of the key's exponential backoff and the token bucket's
  // delay; counts a requeue. Returns the delay chosen.
  Duration addRateLimited(const std::string& key);
  // Resets the key's backoff (call when it was processed successfully).
  void forget(const std::string& key);
  // addRateLimited calls for `key` since its last forget().
  int numRequeues(const std::string& key) const;

  // Blocks until a key is ready and marks it processing. After shutDown() it still hands
  // out the keys already queued (client-go's ShutDown), then returns nullopt.
  std::optional<std::string> get();
  // Ends the processing of a key returned by get(), queueing it again if it was re-added.
  void done(const std::string& key);
  // Drops delayed adds, ignores later adds and wakes every worker blocked in get().
  void shutDown();
  // Keys ready for get() (delayed keys whose time has come included).
  std::size_t size();

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

  // All private functions expect mutex_ held.
  void addLocked(const std::string& key);
  void addAfterLocked(const std::string& key, Duration delay);
  void addDue();
  Duration backoff(const std::string& key);

  const WorkQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // a key was queued, a delay changed, or shutdown
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;  // queued, or re-added while processing
  std::unordered_set<std::string> processing_;
  std::set<std::pair<TimePoint, std::string>> waiting_;   // delayed adds by deadline
  std::unordered_map<std::string, TimePoint> deadlines_;  // the same, by key
  std::unordered_map<std::string, int> failures_;
  TokenBucket bucket_;
  bool shuttingDown_ = false;
};

}  // namespace governor::kube
