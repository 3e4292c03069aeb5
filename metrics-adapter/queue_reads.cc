// QueueReads; see queue_reads.h.
#include "metrics-adapter/queue_reads.h"

#include <chrono>

namespace governor::adapter {

size_t QueueReads::add(const std::string& source, Resolve resolve, bool counts) {
  queues_.push_back({source, std::move(resolve), counts, std::nullopt});
  sources_[source].queues.push_back(queues_.size() - 1);
  return queues_.size() - 1;
}

const RedisReading& QueueReads::reading(size_t queue) {
  Source& source = sources_.at(queues_.at(queue).source);
  std::call_once(source.once, [&] { readSource(source); });
  return *queues_[queue].reading;
}

void QueueReads::readSource(const Source& source) {
  std::vector<RedisRead> reads;
  std::vector<size_t> read;  // the queue of each of `reads`
  for (size_t i : source.queues) {
    Queue& q = queues_[i];
    kube::Result<RedisQueue> resolved = q.resolve();
    if (resolved) {
      reads.push_back({std::move(resolved).value(), q.counts});
      read.push_back(i);
      continue;
    }
    q.reading = RedisReading{std::chrono::steady_clock::now(), resolved.error(), std::nullopt};
    if (q.counts) q.reading->counts = resolved.error();
  }
  std::vector<RedisReading> readings = redis_.read(reads);
  for (size_t k = 0; k < readings.size(); ++k) queues_[read[k]].reading = std::move(readings[k]);
}

}  // namespace governor::adapter
