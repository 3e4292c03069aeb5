// What integration tests share: a client for the real test cluster (tests run inside its
// network namespace through tests/cluster/exec), a fresh namespace per test, and a way
// to break the cluster on purpose; and, from support/process.h, programs run for a test.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kube/client.h"
#include "support/process.h"  // BackgroundProcess, run, freePort, findProgram

namespace governor::testing {

// A client from $KUBECONFIG; fails the test when the cluster is unreachable.
std::unique_ptr<kube::Client> clusterClient();

// Runs tests/cluster/ctl with `args` ("kill kube-apiserver"); returns its exit status.
int clusterCtl(const std::string& args);

// Compacts etcd at its head revision, as `etcdctl compact $(etcdctl get -w json ...)`, through
// etcd's gRPC gateway: resourceVersions and continue tokens from before it are too old (410).
bool compactEtcd();

// Creates namespace "<prefix>-<random>" and deletes it when destroyed.
class TestNamespace {
 public:
  TestNamespace(kube::Client& client, const std::string& prefix);
  ~TestNamespace();
  const std::string& name() const { return name_; }

 private:
  kube::Client& client_;
  std::string name_;
};

// Applies crds/ and waits until the ServiceLevel CRD is Established.
CommandResult applyServiceLevelCrd();

// A test of ServiceLevels: the CRD applied, a client and a fresh namespace "<prefix>-<random>".
class ServiceLevelTest : public ::testing::Test {
 protected:
  explicit ServiceLevelTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override;
  std::string ns() const { return ns_->name(); }

  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;

 private:
  std::string prefix_;
};

// A Deployment `name` of one replica (pods labelled app=NAME), with `labels` besides
// app=NAME on the Deployment itself. Its pods select a node that does not exist, so they
// never run, with or without the test cluster's node; the HPA scales it all the same.
kube::Json deployment(const std::string& name, const std::map<std::string, std::string>& labels = {});

// The same Deployment whose pods run on the test cluster's node (fixture `node`): an image
// loaded into it (governor/redis:dev), idling in `sleep` until stopped.
// Its pods run `command` (default: sleep) in governor/redis:dev, which has redis-cli and sh.
kube::Json runningDeployment(const std::string& name, const std::map<std::string, std::string>& labels = {},
                             const std::vector<std::string>& command = {"sleep", "infinity"});

// The sum over all labels of metric `name` on the Prometheus page at `url` (a
// governor_..._total counter), or over the series whose labels include `label` (`code="429"`);
// 0 when the page cannot be read.
double metricSum(const std::string& url, const std::string& name, const std::string& label = "");

// How often `needle` occurs in `text` (a log).
int occurrences(const std::string& text, const std::string& needle);

// A ServiceLevel `name` of workload `app` with only a quota of `pods` (and a LimitRange):
// children that need nothing running.
kube::Json quotaServiceLevel(const std::string& name, const std::string& pods);
// The names of the ServiceLevels in `ns` whose Ready is True for their current generation.
std::set<std::string> readyServiceLevels(kube::Client& client, const std::string& ns);

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The resources the tests read and write.
inline const kube::Resource kConfigMaps{"", "v1", "configmaps", true};
inline const kube::Resource kNamespaces{"", "v1", "namespaces", false};
inline const kube::Resource kDeployments{"apps", "v1", "deployments", true};
inline const kube::Resource kEvents{"", "v1", "events", true};
inline const kube::Resource kHpas{"autoscaling", "v2", "horizontalpodautoscalers", true};
inline const kube::Resource kLeases{"coordination.k8s.io", "v1", "leases", true};
inline const kube::Resource kLimitRanges{"", "v1", "limitranges", true};
inline const kube::Resource kQuotas{"", "v1", "resourcequotas", true};
inline const kube::Resource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings", true};
inline const kube::Resource kRoles{"rbac.authorization.k8s.io", "v1", "roles", true};
inline const kube::Resource kSecrets{"", "v1", "secrets", true};
inline const kube::Resource kServiceLevels{"governor.io", "v1alpha1", "servicelevels", true};
inline const kube::Resource kServices{"", "v1", "services", true};
inline const kube::Resource kStatefulSets{"apps", "v1", "statefulsets", true};

}  // namespace governor::testing
