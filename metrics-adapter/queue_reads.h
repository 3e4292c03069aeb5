// The queue readings of each poll round, shared by its targets: the first target of a source to
// measure in a round reads every queue of that source at once (RedisSource::read: one pipeline
// per connection), the others take their reading from it. So N queues on one Redis cost one round
// trip per poll, not N, and the backlog and the drain-time target of a queue share one reading.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kube/result.h"
#include "metrics-adapter/sources/redis_source.h"

namespace governor::adapter {

// Kept as long as its targets: what to read is added while they are made; each round
// (nextRound()) reads it again, so that a reading is never served to a later round. reading() is
// called by the targets as they are measured (from any thread).
class QueueReads {
 public:
  // The queue to read, with its password, or why it may not be read (the allowlist, its Secret):
  // asked again each time its source is read, so that a changed Secret counts at once.
  using Resolve = std::function<kube::Result<RedisQueue>()>;

  explicit QueueReads(RedisSource& redis) : redis_(redis) {}
  QueueReads(const QueueReads&) = delete;
  QueueReads& operator=(const QueueReads&) = delete;

  // Adds a queue of `source` (its targets' Poller source, "redis <address>": a hung server holds
  // up the reading of its own source only); `counts`: its StreamCounts are needed too. Returns
  // what reading() takes. Not concurrently with reading().
  size_t add(const std::string& source, Resolve resolve, bool counts);
  // Starts a round: the next reading() of each source reads it again.
  void nextRound() { ++round_; }
  // The reading of queue `queue` in the round current when called (or a later one): the first
  // call for a source in a round reads all of its queues, later ones wait for that and take its
  // reading. A call of a round whose reading is under way (a hung server's round, still measured
  // after the next round began) waits for that reading rather than reading again.
  RedisReading reading(size_t queue);

 private:
  struct Source {
    std::vector<size_t> queues;
    std::mutex mutex;
    uint64_t round = 0;                  // of `readings`, 0: none yet; guarded by mutex
    std::vector<RedisReading> readings;  // one per queue, in order; guarded by mutex
  };
  struct Queue {
    Source* source;
    size_t index;  // in its source's queues
    Resolve resolve;
    bool counts = false;
  };
  std::vector<RedisReading> read(const Source& source);

  RedisSource& redis_;
  std::vector<Queue> queues_;
  std::map<std::string, Source> sources_;  // nodes, so that a Queue's pointer stays valid
  std::atomic<uint64_t> round_ = 1;
};

}  // namespace governor::adapter
