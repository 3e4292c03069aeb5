// See metrics.h.
#include "api/metrics.h"

namespace governor::api {

std::string latencyMetric(int percentile) { return "governor_latency_p" + std::to_string(percentile) + "_seconds"; }

std::string workloadResource(const std::string& kind) {
  return kind == "StatefulSet" ? "statefulsets.apps" : "deployments.apps";
}

std::string externalMetricPath(const std::string& ns, const std::string& metric) {
  return "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + ns + "/" + metric;
}

std::string backlogPath(const std::string& ns, const std::string& serviceLevel) {
  return externalMetricPath(ns, kBacklogMetric) + "?labelSelector=governor.io%2Fservice-level%3D" + serviceLevel;
}

std::string customMetricPath(const std::string& ns, const std::string& resource, const std::string& object,
                             const std::string& metric) {
  return "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns + "/" + resource + "/" + object + "/" + metric;
}

}  // namespace governor::api
