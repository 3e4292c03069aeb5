// Wires informers, the work queue and the reconciler together: events enqueue
// ServiceLevel keys; workers reconcile them one key at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/informer.h"
#include "kube/workqueue.h"
#include "operator/lifecycle.h"
#include "operator/metrics.h"
#include "operator/reconcile/reconciler.h"
#include "operator/shard.h"

namespace governor::op {

struct ControllerOptions {
  std::string namespaceName;  // "" = all namespaces
  int workers = 2;
  std::chrono::milliseconds resyncPeriod{std::chrono::minutes(10)};
  std::chrono::milliseconds statusRefreshPeriod{std::chrono::seconds(30)};
  BacklogApi backlogApi = BacklogApi::External;
  bool rulesNamespaceMatcher = false;  // Reconciler::setRulesNamespaceMatcher
  std::string prometheusUrl;           // Reconciler::setPrometheusUrl
  Shard shard;                         // only the ServiceLevels of the namespaces it owns
};

class Controller final : public Work {
 public:
  Controller(kube::Client& client, Metrics& metrics, ControllerOptions options);
  ~Controller() override;

  // Starts the informers, waits for their caches, then starts the workers and returns
  // true. Returns false when the caches did not sync within `timeout` or stop() came
  // first (stop() may be called from another thread while start() waits).
  bool start(std::chrono::milliseconds timeout) override;
  // Stops the workers (each finishes its reconcile first) and the informers; for good.
  void stop();
  // stop(), with no write going out after it. A lost lease (`lost`) refuses every write at
  // once, even those of a reconcile in the middle of its work. A stop (SIGTERM), still holding
  // the lease, lets the reconciles in flight finish first, for at most `grace`: the lease is
  // no longer renewed, and once it expires another replica may lead.
  void stopWriting(bool lost, std::chrono::milliseconds grace) override;
  bool stopped() const override { return stopping_.stop_requested(); }
  bool synced() const override { return synced_; }
  // The informers that have not synced, and why (Informers::unsynced).
  std::vector<std::string> unsynced() const override { return informers_.unsynced(); }

 private:
  void work();

  kube::Client& client_;
  ControllerOptions options_;
  Metrics& metrics_;
  kube::Informers informers_;
  kube::WorkQueue queue_;
  KubeApi api_;
  Reconciler reconciler_;
  std::mutex mu_;  // guards workers_ and the start of the informers against stop()
  std::vector<std::thread> workers_;
  std::atomic<bool> synced_{false};
  std::stop_source stopping_;
};

}  // namespace governor::op
