// What the adapter reads from the Kubernetes API by name: a workload's labels (custom metrics
// selected with a labelSelector match them) and its ready replicas (drainWithin). Each answer is kept for a while, so
// that a poll round costs one GET per object and `ttl`, not one per metric per round. Failures are not kept: the next
// round asks again. (Redis passwords come from an informer over the Secrets labelled governor.io/redis-credentials=true
// instead: metrics-adapter/redis_access.h.)
#pragma once

#include <chrono>
#include <string>

#include "api/servicelevel.h"
#include "kube/client.h"
#include "metrics-adapter/drain.h"
#include "metrics-adapter/expiring_cache.h"

namespace governor::adapter {

class ObjectReads {
 public:
  ObjectReads(kube::Client& client, std::chrono::milliseconds ttl, size_t capacity = 10'000)
      : client_(client), ttl_(ttl), labels_(capacity) {}

  // The labels of workload `name` ("deployments.apps" or "statefulsets.apps"), or an error.
  kube::Result<api::Labels> workloadLabels(const std::string& resource, const std::string& ns, const std::string& name);
  // spec.replicas and status.readyReplicas of workload `name`, read afresh every time: the
  // drain-time target divides what the workload processed by the ready ones, once they are
  // as many as it asks for.
  kube::Result<WorkloadReplicas> replicas(const std::string& resource, const std::string& ns, const std::string& name);

 private:
  kube::Client& client_;
  kube::Result<kube::Json> workload(const std::string& resource, const std::string& ns, const std::string& name);

  const std::chrono::milliseconds ttl_;
  ExpiringCache<api::Labels> labels_;
};

}  // namespace governor::adapter
