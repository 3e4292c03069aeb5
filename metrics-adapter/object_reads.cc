#include "metrics-adapter/object_reads.h"

namespace governor::adapter {

kube::Result<api::Labels> ObjectReads::workloadLabels(const std::string& resource, const std::string& ns,
                                                      const std::string& name) {
  const std::string key = resource + "/" + ns + "/" + name;
  const auto now = std::chrono::steady_clock::now();
  if (auto kept = labels_.get(key, now)) return *kept;
  auto workload = this->workload(resource, ns, name);
  if (!workload) return workload.error();
  api::Labels labels;
  const auto found = (*workload)["metadata"].value("labels", kube::Json::object());
  for (const auto& [k, v] : found.items()) {
    if (v.is_string()) labels[k] = v.get<std::string>();
  }
  labels_.put(key, labels, ttl_, now);
  return labels;
}

kube::Result<WorkloadReplicas> ObjectReads::replicas(const std::string& resource, const std::string& ns,
                                                     const std::string& name) {
  auto workload = this->workload(resource, ns, name);
  if (!workload) return workload.error();
  // An absent field is its default: spec.replicas 1, status.readyReplicas 0.
  auto number = [&](const char* part, const char* field, int32_t absent) {
    const kube::Json section = workload->is_object() ? workload->value(part, kube::Json::object()) : kube::Json();
    const auto it = section.is_object() ? section.find(field) : section.end();
    return it != section.end() && it->is_number_integer() ? it->get<int32_t>() : absent;
  };
  return WorkloadReplicas{.desired = number("spec", "replicas", 1), .ready = number("status", "readyReplicas", 0)};
}

kube::Result<kube::Json> ObjectReads::workload(const std::string& resource, const std::string& ns,
                                               const std::string& name) {
  return client_.get({"apps", "v1", resource.substr(0, resource.find('.')), true}, ns, name);
}

}  // namespace governor::adapter
