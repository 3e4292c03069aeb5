// The workloads that ServiceLevels name (spec.workload), as both binaries read them: from an
// informer per kind that keeps only the fields read here, so that a reconcile or a poll round
// makes no API round trip for them, and a change to one is an event, not something polled.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "api/servicelevel.h"
#include "kube/informer.h"

namespace governor::api {

inline const kube::Resource kDeployments{"apps", "v1", "deployments", true};
inline const kube::Resource kStatefulSets{"apps", "v1", "statefulsets", true};

// The API resource of a workload kind: Deployment or StatefulSet.
const kube::Resource& workloadApiResource(const std::string& kind);

// A workload's replicas: how many it asks for (spec.replicas, 1 when absent) and how many
// are ready (status.readyReplicas, 0 when absent).
struct WorkloadReplicas {
  int32_t desired = 1;
  int32_t ready = 0;
  bool operator==(const WorkloadReplicas&) const = default;
};

// What the informers keep of a workload: its name, namespace and labels, spec.replicas and
// status.readyReplicas (a Deployment's pod template is most of it).
kube::Json workloadView(kube::Json object);

class Workloads {
 public:
  // Makes `informers` watch both kinds in `ns` ("" for all namespaces) keeping only
  // workloadView; before informers.startAll().
  static void watch(kube::Informers& informers, const std::string& ns);

  // Reads through the informers that watch() set up.
  Workloads(kube::Informers& informers, const std::string& ns);

  // What counts as a change of a workload, besides its appearing or going; never its status.
  // The operator reads its replicas; the adapter's targets are made of its labels alone (its
  // replicas it reads when it measures), so a scale would only make them again for nothing.
  enum class Change { Labels, LabelsOrReplicas };
  // Calls onChange(namespace, workload) when a workload appears, goes, or changes as `change` says.
  void onChange(Change change, const std::function<void(const std::string& ns, const Workload& workload)>& onChange);

  // 404 NotFound ("Deployment shop/app does not exist") when there is none.
  kube::Result<WorkloadReplicas> replicas(const std::string& ns, const Workload& workload) const;
  kube::Result<Labels> labels(const std::string& ns, const Workload& workload) const;

 private:
  kube::Result<kube::Json> find(const std::string& ns, const Workload& workload) const;

  kube::Informer& deployments_;
  kube::Informer& statefulSets_;
};

}  // namespace governor::api
