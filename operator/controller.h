// Wires informers, the work queue and the reconciler together: events enqueue
// ServiceLevel keys; workers reconcile them one key at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "kube/client.h"
#include "kube/informer.h"
#include "kube/workqueue.h"
#include "operator/metrics.h"
#include "operator/reconcile/reconciler.h"

namespace governor::op {

struct ControllerOptions {
  std::string namespaceName;  // "" = all namespaces
  int workers = 2;
  std::chrono::milliseconds resyncPeriod{std::chrono::minutes(10)};
  std::chrono::milliseconds statusRefreshPeriod{std::chrono::seconds(30)};
  bool rulesNamespaceMatcher = false;  // Reconciler::setRulesNamespaceMatcher
};

class Controller {
 public:
  Controller(kube::Client& client, Metrics& metrics, ControllerOptions options);
  ~Controller();

  // Starts informers and workers; returns once the caches have synced (or after
  // `timeout`, returning false).
  bool start(std::chrono::milliseconds timeout);
  void stop();
  bool synced() const { return synced_; }

 private:
  void work();

  ControllerOptions options_;
  Metrics& metrics_;
  kube::Informers informers_;
  kube::WorkQueue queue_;
  Reconciler reconciler_;
  std::vector<std::thread> workers_;
  std::atomic<bool> synced_{false};
};

}  // namespace governor::op
