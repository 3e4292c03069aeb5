// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: only
// the holder works; others take over when the holder stops renewing for a lease duration
// (timed on the local clock from when the record last changed, so clock skew is harmless).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
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
  // delays renewing. Returns when `stop` is set or when renewing has failed for
  // renewDeadline (leadership lost; the caller should exit). Either way it first waits for
  // onStartedLeading to return and calls onStoppedLeading, which must stop the work; only
  // then, on `stop`, it releases the lease so that another candidate takes over at once.
  // Returns true when it held the lease and lost it, false otherwise.
  bool run(const std::atomic<bool>& stop, const std::function<void()>& onStartedLeading,
           const std::function<void()>& onStoppedLeading);

  // One attempt; true when we hold the lease afterwards.
  bool tryAcquireOrRenew();
  void release();

 private:
  Client& client_;
  LeaseConfig config_;
  Json observed_;  // the lease spec as last seen
  std::chrono::steady_clock::time_point observedAt_;
};

// "2026-01-02T15:04:05.000000Z", metav1.MicroTime's wire form.
std::string microTime(std::chrono::system_clock::time_point t);

}  // namespace governor::kube
