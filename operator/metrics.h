// The operator's own Prometheus metrics (governor_operator_*), served on
// --metrics-bind-address.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace governor::op {

class Metrics {
 public:
  Metrics();
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Every request that changes something in the API server, by verb and kind.
  void countWrite(const std::string& verb, const std::string& kind);
  // Every request to the Kubernetes API, by verb and HTTP status code.
  void countRequest(const std::string& verb, int code);
  // A reconcile that failed and was put back with backoff.
  void countRetry() { retries_->Increment(); }
  // One finished reconcile: result is "success" (also for a spec marked invalid in status),
  // "requeue" or "error".
  void countReconcile(const std::string& result, double seconds);
  void setQueueDepth(double depth) { queueDepth_->Set(depth); }
  void setLeader(bool leader) { leader_->Set(leader ? 1 : 0); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* writes_;
  prometheus::Family<prometheus::Counter>* reconciles_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Counter* retries_;
  prometheus::Histogram* duration_;
  prometheus::Gauge* queueDepth_;
  prometheus::Gauge* leader_;
};

}  // namespace governor::op
