#include "operator/metrics.h"

namespace governor::op {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  writes_ = &prometheus::BuildCounter()
                 .Name("governor_operator_api_writes_total")
                 .Help("Write requests sent to the Kubernetes API, by verb and kind")
                 .Register(*registry_);
  reconciles_ = &prometheus::BuildCounter()
                     .Name("governor_operator_reconcile_total")
                     .Help("Finished reconciles of ServiceLevels, by result")
                     .Register(*registry_);
  requests_ = &prometheus::BuildCounter()
                   .Name("governor_operator_api_requests_total")
                   .Help("Requests to the Kubernetes API, by verb and HTTP status code (0: no answer)")
                   .Register(*registry_);
  retries_ = &prometheus::BuildCounter()
                  .Name("governor_operator_workqueue_retries_total")
                  .Help("Reconciles that failed and were queued again with backoff")
                  .Register(*registry_)
                  .Add({});
  duration_ = &prometheus::BuildHistogram()
                   .Name("governor_operator_reconcile_duration_seconds")
                   .Help("Time one reconcile of a ServiceLevel took")
                   .Register(*registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  queueDepth_ = &prometheus::BuildGauge()
                     .Name("governor_operator_workqueue_depth")
                     .Help("ServiceLevels waiting to be reconciled")
                     .Register(*registry_)
                     .Add({});
  leader_ = &prometheus::BuildGauge()
                 .Name("governor_operator_leader")
                 .Help("1 while this replica holds the leader lease")
                 .Register(*registry_)
                 .Add({});
}

void Metrics::countWrite(const std::string& verb, const std::string& kind) {
  writes_->Add({{"verb", verb}, {"kind", kind}}).Increment();
}

void Metrics::countRequest(const std::string& verb, int code) {
  requests_->Add({{"verb", verb}, {"code", std::to_string(code)}}).Increment();
}

void Metrics::countReconcile(const std::string& result, double seconds) {
  reconciles_->Add({{"result", result}}).Increment();
  duration_->Observe(seconds);
}

}  // namespace governor::op
