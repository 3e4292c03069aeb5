// LiveTargets; see live_targets.h.
#include "metrics-adapter/live_targets.h"

#include <malloc.h>

#include <vector>

namespace governor::adapter {

Poller::Targets LiveTargets::nextRound() {
  // Cleared before making them: a change while they are made makes them again next round.
  if (changed_.exchange(false)) make();
  reads_->nextRound();
  return polled_;
}

void LiveTargets::make() {
  RoundTargets round(sources_, options_, workloadLabels_);
  serviceLevels_([&round](const api::ServiceLevel& sl) { round.add(sl); });
  reads_ = round.reads();
  served_.set(std::move(round).take());
  // The Poller's targets measure those of the snapshot the API serves, which their list keeps.
  struct Polled {
    std::shared_ptr<const TargetSnapshot> snapshot;
    std::vector<Poller::Target> targets;
  };
  auto polled = std::make_shared<Polled>();
  polled->snapshot = served_.snapshot();
  polled->targets.reserve(polled->snapshot->all().size());
  for (const MetricTarget& t : polled->snapshot->all()) {
    polled->targets.push_back(
        {t.key, [target = &t] { return target->measure(); }, t.source, t.namespaceName + "/" + t.serviceLevel});
  }
  polled_ = Poller::Targets(polled, &polled->targets);
  // The targets made before are freed by now (unless a request still reads them): their pages go
  // back to the system rather than stay in the allocator until the next change.
  malloc_trim(0);
}

}  // namespace governor::adapter
