// See workloads.h.
#include "api/workloads.h"

namespace governor::api {
namespace {

using kube::Json;

// A workload is large (its pod template) and a page of a list is held whole until the
// transform keeps its replicas: pages of 100, not 500 (docs/benchmarks.md, issue 13).
constexpr int64_t kWorkloadPageSize = 100;

// The field at `part`.`field` when it is an integer, else `absent`.
int32_t integer(const Json& object, const char* part, const char* field, int32_t absent) {
  auto section = object.find(part);
  if (section == object.end() || !section->is_object()) return absent;
  auto it = section->find(field);
  return it != section->end() && it->is_number_integer() ? it->get<int32_t>() : absent;
}

}  // namespace

const kube::Resource& workloadApiResource(const std::string& kind) {
  return kind == "StatefulSet" ? kStatefulSets : kDeployments;
}

Json workloadView(Json object) {
  if (!object.is_object()) return object;
  Json view = {{"metadata", Json::object()}};
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    for (const char* field : {"name", "namespace", "labels"}) {
      if (auto it = md->find(field); it != md->end()) view["metadata"][field] = std::move(*it);
    }
  }
  for (auto [part, field] : {std::pair{"spec", "replicas"}, std::pair{"status", "readyReplicas"}}) {
    auto section = object.find(part);
    if (section == object.end() || !section->is_object()) continue;
    if (auto it = section->find(field); it != section->end()) view[part][field] = std::move(*it);
  }
  return view;
}

void Workloads::watch(kube::Informers& informers, const std::string& ns) {
  for (const auto* r : {&kDeployments, &kStatefulSets}) {
    auto& informer = informers.get(*r, ns);
    informer.setTransform(workloadView);
    informer.setCompact(true);
    informer.setPageSize(kWorkloadPageSize);
  }
}

Workloads::Workloads(kube::Informers& informers, const std::string& ns)
    : deployments_(informers.get(kDeployments, ns)), statefulSets_(informers.get(kStatefulSets, ns)) {}

void Workloads::onChange(Change change,
                         const std::function<void(const std::string& ns, const Workload& workload)>& onChange) {
  for (const auto& watched : {std::pair{&deployments_, "Deployment"}, std::pair{&statefulSets_, "StatefulSet"}}) {
    auto tell = [onChange, kind = std::string(watched.second)](const Json& o) {
      const Json md = o.value("metadata", Json::object());
      onChange(md.value("namespace", ""), Workload{kind, md.value("name", "")});
    };
    auto changed = [tell, change](const Json& before, const Json& after) {
      auto labels = [](const Json& o) { return o.value("metadata", Json::object()).value("labels", Json::object()); };
      // The view's spec is its replicas.
      auto spec = [](const Json& o) { return o.value("spec", Json::object()); };
      if (labels(before) != labels(after) || (change == Change::LabelsOrReplicas && spec(before) != spec(after))) {
        tell(after);
      }
    };
    watched.first->addHandler({tell, changed, tell});
  }
}

kube::Result<Json> Workloads::find(const std::string& ns, const Workload& workload) const {
  const auto& informer = workload.kind == "StatefulSet" ? statefulSets_ : deployments_;
  if (auto found = informer.get(ns + "/" + workload.name)) return *found;
  return kube::Error{kube::Status{404, "NotFound", workload.kind + " " + ns + "/" + workload.name + " does not exist"},
                     ""};
}

kube::Result<WorkloadReplicas> Workloads::replicas(const std::string& ns, const Workload& workload) const {
  auto found = find(ns, workload);
  if (!found) return found.error();
  return WorkloadReplicas{.desired = integer(*found, "spec", "replicas", 1),
                          .ready = integer(*found, "status", "readyReplicas", 0)};
}

kube::Result<Labels> Workloads::labels(const std::string& ns, const Workload& workload) const {
  auto found = find(ns, workload);
  if (!found) return found.error();
  const Json written = found->value("metadata", Json::object()).value("labels", Json::object());
  Labels labels;
  for (const auto& [k, v] : written.items()) {
    if (v.is_string()) labels[k] = v.get<std::string>();
  }
  return labels;
}

}  // namespace governor::api
