// The replicas that drain a queue within spec.autoscaling.queue.drainWithin, served as
// governor_queue_drain_replicas with an AverageValue target of 1, so that the HPA asks for
//
//   ceil((arrival + backlog / drainWithin) / perReplica)
//
// where arrival is the rate entries are added at and perReplica the rate one ready replica
// processes them at. Both come from two readings of the queue a poll apart: a stream counts
// what was added and acknowledged itself (Redis 7); a list's rates come from Prometheus
// (arrivalQuery, processedQuery), one of them derived from the other and the change of the
// list's length when only one is given. The rate per replica is learnt only from polls in
// which the workers were busy (the backlog at the first reading at least what they took off
// until the second) and the workload settled (the same ready replicas at both readings, as
// many as it asks for): an idle worker's rate says nothing about what it could do. It is a time-weighted
// average whose weight halves every `halfLife`. The arithmetic is in pure functions;
// DrainEstimator keeps the state between polls. docs/metrics-adapter.md explains the limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "api/workloads.h"
#include "kube/result.h"

namespace governor::adapter {

using api::WorkloadReplicas;

// One poll's look at a queue.
struct QueueReading {
  std::chrono::steady_clock::time_point at;
  double backlog = 0;
  WorkloadReplicas replicas;  // the workload's, when the queue was read
  // A stream: counts since the stream was made (StreamCounts).
  std::optional<double> added;
  std::optional<double> acknowledged;
  // A list: per-second rates from Prometheus.
  std::optional<double> arrivalRate;
  std::optional<double> processedRate;
};

struct QueueRates {
  double arrival = 0;    // entries per second added
  double processed = 0;  // entries per second taken off, by all replicas
};

// The rates between two readings of one queue: a stream's from its counts, a list's from
// Prometheus, the missing one (added - processed = the change of the backlog) derived. An error
// when the readings cannot give them (no time between them, counts that went down: the stream
// was made again).
kube::Result<QueueRates> ratesBetween(const QueueReading& before, const QueueReading& now);

// (arrival + backlog / drainWithin) / perReplica: the replicas, fractional, that take entries
// off as fast as they arrive and the backlog within drainWithin besides. perReplica > 0.
double drainReplicas(double arrival, double backlog, std::chrono::milliseconds drainWithin, double perReplica);

// Thread-safe. Queues are keyed by their ServiceLevel's namespace and name.
class DrainEstimator {
 public:
  using Key = std::pair<std::string, std::string>;

  explicit DrainEstimator(std::chrono::seconds halfLife = std::chrono::seconds(60)) : halfLife_(halfLife) {}
  DrainEstimator(const DrainEstimator&) = delete;
  DrainEstimator& operator=(const DrainEstimator&) = delete;

  // One reading of a queue; returns the replicas to serve, or why there are none yet: the first
  // reading (rates need two), or no rate per replica measured yet while there is work. An empty
  // queue with nothing arriving needs none, measured or not.
  kube::Result<double> observe(const Key& queue, const QueueReading& reading, std::chrono::milliseconds drainWithin);
  // The rate per ready replica learnt so far (entries per second), for status and tests.
  std::optional<double> perReplicaRate(const Key& queue) const;
  // Forgets every queue not in `keep` (deleted ServiceLevels, queues no longer drained by time).
  void retain(const std::set<Key>& keep);

 private:
  struct State {
    std::optional<QueueReading> last;
    double work = 0;            // entries processed while busy, weighted by age
    double replicaSeconds = 0;  // ready replicas x seconds while busy, weighted alike
  };

  const std::chrono::seconds halfLife_;
  mutable std::mutex mu_;
  std::map<Key, State> queues_;  // guarded by mu_
};

}  // namespace governor::adapter
