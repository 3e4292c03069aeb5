// QueueReads; see queue_reads.h.
#include "metrics-adapter/queue_reads.h"

#include <chrono>
#include <optional>

namespace governor::adapter {

size_t QueueReads::add(const std::string& source, Resolve resolve, bool counts) {
  Source& s = sources_[source];
  queues_.push_back({&s, s.queues.size(), std::move(resolve), counts});
  s.queues.push_back(queues_.size() - 1);
  return queues_.size() - 1;
}

RedisReading QueueReads::reading(size_t queue) {
  const uint64_t round = round_;  // before waiting: a reading under way may be this round's
  const Queue& q = queues_.at(queue);
  std::lock_guard lock(q.source->mutex);
  if (q.source->round < round) {
    q.source->readings = read(*q.source);
    q.source->round = round;
  }
  return q.source->readings[q.index];
}

std::vector<RedisReading> QueueReads::read(const Source& source) {
  std::vector<RedisRead> reads;
  std::vector<std::optional<kube::Error>> refused(source.queues.size());  // why a queue is not read
  for (size_t k = 0; k < source.queues.size(); ++k) {
    const Queue& q = queues_[source.queues[k]];
    kube::Result<RedisQueue> resolved = q.resolve();
    if (resolved) {
      reads.push_back({std::move(resolved).value(), q.counts});
    } else {
      refused[k] = resolved.error();
    }
  }
  std::vector<RedisReading> readings = redis_.read(reads);
  std::vector<RedisReading> out;
  out.reserve(source.queues.size());
  auto next = readings.begin();
  for (size_t k = 0; k < source.queues.size(); ++k) {
    if (!refused[k]) {
      out.push_back(std::move(*next++));
      continue;
    }
    out.push_back({std::chrono::steady_clock::now(), *refused[k], std::nullopt});
    if (queues_[source.queues[k]].counts) out.back().counts = *refused[k];
  }
  return out;
}

}  // namespace governor::adapter
