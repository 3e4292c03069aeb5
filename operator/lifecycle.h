// What governor-operator does between wiring and exit: it starts the controller when it
// leads (at once without leader election), stops it writing on SIGTERM or a lost lease, ends
// on informers that do not sync in time, and answers /readyz meanwhile. main.cc wires.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "operator/metrics.h"

namespace governor::op {

// What the lifecycle starts and stops: op::Controller, or a test's fake.
class Work {
 public:
  virtual ~Work() = default;
  // Controller::start, stopped, stopWriting, synced and unsynced.
  virtual bool start(std::chrono::milliseconds timeout) = 0;
  virtual bool stopped() const = 0;
  virtual void stopWriting(bool lost, std::chrono::milliseconds grace) = 0;
  virtual bool synced() const = 0;
  virtual std::vector<std::string> unsynced() const = 0;
};

struct LifecycleOptions {
  bool leaderElect = false;  // standing by for the lease until run() wins it
  std::chrono::seconds cacheSyncTimeout{120};
  std::chrono::seconds renewDeadline{10};  // the grace of a stop's reconciles in flight
  std::string namespaceName;               // for the log: "" = all
  std::string shard = "0/1";               // for the log: Shard::text()
};

class Lifecycle {
 public:
  // kube::LeaderElector::run: calls onStartedLeading once it holds the lease, onStoppedLeading
  // when it must stop; true when it held the lease and lost it.
  using Elect = std::function<bool(const std::stop_token& stop, const std::function<void()>& onStartedLeading,
                                   const std::function<void()>& onStoppedLeading)>;

  Lifecycle(Work& work, Metrics& metrics, LifecycleOptions options);

  // /readyz: "" when ready, else why not. A replica standing by for the lease is ready: were
  // it not, a rolling update of one replica would wait forever for the new pod while the old
  // one holds the lease.
  std::string unready() const;

  // Runs until `stopping` is requested (SIGTERM) or, with leader election (`elect`, which
  // options.leaderElect asks for; empty without), until the lease is lost, or until the
  // informers do not sync within options.cacheSyncTimeout. Returns "" on a stop, else why it
  // ended (main exits 1 with it).
  std::string run(std::stop_source stopping, const Elect& elect);

 private:
  Work& work_;
  Metrics& metrics_;
  LifecycleOptions options_;
  std::atomic<bool> standingBy_;
};

// The identity of this process in a Lease: hostname_pid.
std::string leaseIdentity();

}  // namespace governor::op
