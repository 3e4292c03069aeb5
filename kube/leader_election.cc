// See leader_election.h.
#include "kube/leader_election.h"

#include <thread>

#include <spdlog/fmt/fmt.h>

#include "kube/logging.h"
#include "kube/stop.h"
#include "kube/time.h"

namespace governor::kube {
namespace {
const Resource kLeases{"coordination.k8s.io", "v1", "leases", true};

log::Fields leaseFields(const LeaseConfig& c) {
  return {{"namespace", c.namespaceName}, {"kind", "Lease"}, {"name", c.name}};
}
}  // namespace

bool LeaderElector::boundBy(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left <= std::chrono::milliseconds(0)) return false;
  client_.setTimeout(left);
  return true;
}

bool LeaderElector::heldByAnother() const {
  auto holder = observed_.value("holderIdentity", "");
  return !holder.empty() && holder != config_.identity;
}

bool LeaderElector::tryAcquireOrRenew(std::chrono::steady_clock::time_point deadline) {
  auto now = microTime(std::chrono::system_clock::now());
  if (!boundBy(deadline)) return false;
  auto live = client_.get(kLeases, config_.namespaceName, config_.name);
  if (!live) {
    if (!live.error().isNotFound()) {
      log::warn("leader election: " + live.error().what(), leaseFields(config_));
      return false;
    }
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.name}, {"namespace", config_.namespaceName}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", config_.leaseDuration.count()},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    if (!boundBy(deadline)) return false;
    auto created = client_.create(kLeases, config_.namespaceName, lease);
    if (created) {
      observed_ = (*created)["spec"];
      observedAt_ = std::chrono::steady_clock::now();
    }
    return created.ok();
  }
  Json spec = live->value("spec", Json::object());
  if (spec != observed_) {
    observed_ = spec;
    observedAt_ = std::chrono::steady_clock::now();
  }
  auto holder = spec.value("holderIdentity", "");
  auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", config_.leaseDuration.count()));
  bool expired = std::chrono::steady_clock::now() > observedAt_ + duration;
  if (!holder.empty() && holder != config_.identity && !expired) return false;

  Json next = *live;
  next["spec"]["holderIdentity"] = config_.identity;
  next["spec"]["leaseDurationSeconds"] = config_.leaseDuration.count();
  next["spec"]["renewTime"] = now;
  if (holder != config_.identity) {
    next["spec"]["acquireTime"] = now;
    next["spec"]["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  // A PUT with the resourceVersion we read: if another candidate wrote first, 409.
  if (!boundBy(deadline)) return false;
  auto updated = client_.update(kLeases, next);
  if (!updated) {
    log::warn("leader election: " + updated.error().what(), leaseFields(config_));
    return false;
  }
  observed_ = (*updated)["spec"];
  observedAt_ = std::chrono::steady_clock::now();
  return true;
}

void LeaderElector::release() {
  client_.setTimeout(config_.renewDeadline);
  auto live = client_.get(kLeases, config_.namespaceName, config_.name);
  if (!live || (*live)["spec"].value("holderIdentity", "") != config_.identity) return;
  Json next = *live;
  // Another candidate takes over at once instead of waiting out the lease.
  next["spec"]["holderIdentity"] = "";
  next["spec"]["leaseDurationSeconds"] = 1;
  (void)client_.update(kLeases, next);
}

bool LeaderElector::run(const std::stop_token& stop, const std::function<void()>& onStartedLeading,
                        const std::function<void()>& onStoppedLeading) {
  auto attempt = [&] { return tryAcquireOrRenew(std::chrono::steady_clock::now() + config_.renewDeadline); };
  while (!stop.stop_requested() && !attempt()) sleepUnlessStopped(stop, config_.retryPeriod);
  if (stop.stop_requested()) return false;
  log::info(fmt::format("leader election: {} holds lease {}/{}", config_.identity, config_.namespaceName, config_.name),
            leaseFields(config_));
  std::thread leading(onStartedLeading);
  bool lost = false;
  for (auto lastRenew = std::chrono::steady_clock::now(); !lost;) {
    if (sleepUnlessStopped(stop, config_.retryPeriod)) break;
    if (tryAcquireOrRenew(lastRenew + config_.renewDeadline)) {
      lastRenew = std::chrono::steady_clock::now();
    } else if (heldByAnother()) {
      log::error(fmt::format("leader election: lease {}/{} is held by {} now", config_.namespaceName, config_.name,
                             observed_.value("holderIdentity", "")),
                 leaseFields(config_));
      lost = true;
    } else if (std::chrono::steady_clock::now() - lastRenew >= config_.renewDeadline) {
      auto fields = leaseFields(config_);
      fields.emplace_back("duration", std::chrono::duration<double>(config_.renewDeadline).count());
      log::error(fmt::format("leader election: could not renew lease {}/{} for {}s", config_.namespaceName,
                             config_.name, config_.renewDeadline.count()),
                 fields);
      lost = true;
    }
  }
  onStoppedLeading();
  leading.join();
  if (!lost) release();
  return lost;
}

}  // namespace governor::kube
