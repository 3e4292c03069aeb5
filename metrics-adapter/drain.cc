// DrainEstimator and its arithmetic; see drain.h.
#include "metrics-adapter/drain.h"

#include <algorithm>
#include <cmath>

namespace governor::adapter {
namespace {

using kube::Error;
using kube::Status;

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

Error unavailable(std::string message) { return Error{Status{0, "Unavailable", std::move(message)}, ""}; }

}  // namespace

kube::Result<QueueRates> ratesBetween(const QueueReading& before, const QueueReading& now) {
  const double dt = seconds(now.at - before.at);
  if (dt <= 0) return unavailable("two readings of the queue at the same time give no rate");
  if (now.added && now.acknowledged && before.added && before.acknowledged) {
    if (*now.added < *before.added || *now.acknowledged < *before.acknowledged) {
      return unavailable("the stream's counts went down (it was made again): measuring afresh");
    }
    return QueueRates{(*now.added - *before.added) / dt, (*now.acknowledged - *before.acknowledged) / dt};
  }
  // A list: entries added minus entries taken off is what its length grew by.
  const double growth = (now.backlog - before.backlog) / dt;
  if (now.arrivalRate && now.processedRate) return QueueRates{*now.arrivalRate, *now.processedRate};
  if (now.arrivalRate) return QueueRates{*now.arrivalRate, std::max(0.0, *now.arrivalRate - growth)};
  if (now.processedRate) return QueueRates{std::max(0.0, *now.processedRate + growth), *now.processedRate};
  return unavailable("the queue has neither a stream's counts nor a list's rates from Prometheus");
}

double drainReplicas(double arrival, double backlog, std::chrono::milliseconds drainWithin, double perReplica) {
  return (arrival + backlog / std::chrono::duration<double>(drainWithin).count()) / perReplica;
}

kube::Result<double> DrainEstimator::observe(const Key& queue, const QueueReading& reading,
                                             std::chrono::milliseconds drainWithin) {
  std::lock_guard lock(mu_);
  State& s = queues_[queue];
  const std::optional<QueueReading> before = std::exchange(s.last, reading);
  if (!before) return unavailable("the first reading of the queue: its rates need a second poll");
  auto rates = ratesBetween(*before, reading);
  if (!rates) return rates.error();
  // Busy for the whole interval: the queue held at its start at least what the workers took
  // off during it, so none of them ever found it empty, however the arrivals fell; a backlog
  // at both ends alone is not enough (workers that keep up with a short list idle between
  // entries). And the workload settled: no replica came or went, and none was on its way
  // (a pod works a moment before the workload's status counts it ready: one CI run learnt
  // 6.7/s for workers that take 5/s off, dividing three pods' work by two).
  const double dt = seconds(reading.at - before->at);
  const auto settled = [](const WorkloadReplicas& r) { return r.ready > 0 && r.ready == r.desired; };
  if (before->backlog > 0 && reading.backlog > 0 && before->backlog >= rates->processed * dt &&
      settled(before->replicas) && settled(reading.replicas) && before->replicas.ready == reading.replicas.ready) {
    const double keep = std::exp2(-dt / static_cast<double>(halfLife_.count()));
    s.work = s.work * keep + rates->processed * dt;
    s.replicaSeconds = s.replicaSeconds * keep + reading.replicas.ready * dt;
  }
  if (rates->arrival == 0 && reading.backlog == 0) return 0.0;
  if (s.replicaSeconds == 0) {
    return unavailable(
        "the rate per replica is not measured yet: it is learnt over a poll in which the backlog "
        "stays above zero with the same ready replicas");
  }
  if (s.work == 0) return unavailable("the ready replicas took nothing off the queue while it had a backlog");
  return drainReplicas(rates->arrival, reading.backlog, drainWithin, s.work / s.replicaSeconds);
}

std::optional<double> DrainEstimator::perReplicaRate(const Key& queue) const {
  std::lock_guard lock(mu_);
  auto it = queues_.find(queue);
  if (it == queues_.end() || it->second.replicaSeconds == 0) return std::nullopt;
  return it->second.work / it->second.replicaSeconds;
}

void DrainEstimator::retain(const std::set<Key>& keep) {
  std::lock_guard lock(mu_);
  std::erase_if(queues_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

}  // namespace governor::adapter
