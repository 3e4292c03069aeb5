// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: only
// the holder works; others take over when the holder stops renewing for a lease duration
// (timed on the local clock from when the record last changed, so clock skew is harmless).
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "kube/client.h"

namespace governor::kube {

struct LeaseConfig {
  std::string namespaceName;
  std::string name;
  std::string identity;  // unique per process, e.g. hostname_pid
  std::chrono::seconds leaseDuration{15};
  std::chrono::seconds renewDeadline{10};
  std::chrono::seconds retryPeriod{2};
};

class LeaderElector {
 public:
  LeaderElector(Client& client, LeaseConfig config) : client_(client), config_(std::move(config)) {}

  // Tries to acquire, then keeps renewing every retryPeriod. Once the lease is won it calls
  // onStartedLeading on a thread of its own, so that a slow start (informers syncing) never
  // delays renewing. Returns when a stop is requested (at once, mid-wait too) or when
  // leadership is lost: another holder
  // is seen, or no renewal succeeded for renewDeadline (each renewal's requests are cut
  // off when that time is up, so a stalled connection cannot stretch it). Either way it
  // calls onStoppedLeading at once, which must stop the work (and make a still running
  // onStartedLeading return soon), then waits for onStartedLeading to return; only then,
  // on a stop, it releases the lease so that another candidate takes over at once.
  // Returns true when it held the lease and lost it, false otherwise.
  // The elector sets `client`'s timeout before each request: give it a client of its own.
  bool run(const std::stop_token& stop, const std::function<void()>& onStartedLeading,
           const std::function<void()>& onStoppedLeading);

  // One attempt, its requests ending by `deadline`; true when we hold the lease afterwards.
  bool tryAcquireOrRenew(std::chrono::steady_clock::time_point deadline);
  void release();

 private:
  // Bounds the client's next request by `deadline`; false when no time is left.
  bool boundBy(std::chrono::steady_clock::time_point deadline);
  bool heldByAnother() const;

  Client& client_;
  LeaseConfig config_;
  Json observed_;  // the lease spec as last seen
  std::chrono::steady_clock::time_point observedAt_;
};

}  // namespace governor::kube
