// The queue readings of one poll round, shared by its targets: the first target of a source to
// measure reads every queue of that source at once (RedisSource::read: one pipeline per
// connection), the others take their reading from it. So N queues on one Redis cost one round
// trip per poll, not N, and the backlog and the drain-time target of a queue share one reading.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/result.h"
#include "metrics-adapter/sources/redis_source.h"

namespace governor::adapter {

// Made anew for every round, so that a reading is never served to a later round. add() is called
// while the round's targets are made, reading() by the targets as they are measured (from any
// thread).
class QueueReads {
 public:
  // The queue to read, with its password, or why it may not be read (the allowlist, its Secret):
  // asked once, when its source is read.
  using Resolve = std::function<kube::Result<RedisQueue>()>;

  explicit QueueReads(RedisSource& redis) : redis_(redis) {}
  QueueReads(const QueueReads&) = delete;
  QueueReads& operator=(const QueueReads&) = delete;

  // Adds a queue of `source` (its targets' Poller source, "redis <address>": a hung server holds
  // up the reading of its own source only); `counts`: its StreamCounts are needed too. Returns
  // what reading() takes. Not concurrently with reading().
  size_t add(const std::string& source, Resolve resolve, bool counts);
  // The reading of queue `queue`; the first call for a source reads all of its queues, later ones
  // wait for that and return its reading.
  const RedisReading& reading(size_t queue);

 private:
  struct Queue {
    std::string source;
    Resolve resolve;
    bool counts = false;
    std::optional<RedisReading> reading;  // written once, under its source's `once`
  };
  struct Source {
    std::vector<size_t> queues;
    std::once_flag once;
  };
  void readSource(const Source& source);

  RedisSource& redis_;
  std::vector<Queue> queues_;
  std::map<std::string, Source> sources_;
};

}  // namespace governor::adapter
