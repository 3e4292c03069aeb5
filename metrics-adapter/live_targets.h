// The targets of every ServiceLevel, kept from one poll round to the next and made again only
// when something they are made of changes (a ServiceLevel, a workload's labels), not every poll:
// at 5,000 ServiceLevels, making them every poll took about 25 MiB a second that the allocator
// kept (docs/benchmarks.md).
// Each round still reads every queue and queries Prometheus afresh (RoundReads::nextRound).
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "api/servicelevel.h"
#include "metrics-adapter/cache.h"
#include "metrics-adapter/targets.h"

namespace governor::adapter {

class LiveTargets {
 public:
  // Calls `visit` with each ServiceLevel in turn: only one need be parsed at a time.
  using ServiceLevelWalk = std::function<void(const std::function<void(const api::ServiceLevel&)>& visit)>;

  // `served`: where the API reads the targets, replaced each time they are made.
  LiveTargets(Sources sources, TargetOptions options, LabelReader workloadLabels, ServiceLevelWalk serviceLevels,
              Targets& served)
      : sources_(std::move(sources)),
        options_(std::move(options)),
        workloadLabels_(std::move(workloadLabels)),
        serviceLevels_(std::move(serviceLevels)),
        served_(served) {}

  // Something the targets are made of changed: the next round makes them again. From any thread
  // (the informers' handlers).
  void changed() { changed_ = true; }
  // The targets of the next poll round, made again first when changed() was called since they
  // were last made (and at the first call), in a new round of readings: the same list as the
  // round before while nothing changed. The Poller's TargetList.
  Poller::Targets nextRound();

 private:
  void make();

  const Sources sources_;
  const TargetOptions options_;
  const LabelReader workloadLabels_;
  const ServiceLevelWalk serviceLevels_;
  Targets& served_;
  std::atomic<bool> changed_ = true;
  // Used by the Poller's thread only.
  std::shared_ptr<RoundReads> reads_;  // what the current targets read
  Poller::Targets polled_;
};

}  // namespace governor::adapter
