// One reconcile of one ServiceLevel: read it, render what should exist, make it so with
// server-side apply (skipping objects that already hold it), remove children the spec no
// longer implies, and write status. Level-triggered: the same call any number of times
// converges to the same state, and makes no write when nothing changed.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/workloads.h"
#include "kube/informer.h"
#include "kube/prometheus.h"
#include "operator/metrics.h"
#include "operator/reconcile/api_verbs.h"
#include "operator/reconcile/scale_down_guard.h"
#include "operator/reconcile/served_metrics.h"
#include "operator/reconcile/status.h"
#include "operator/render/render.h"

namespace governor::op {

struct Outcome {
  enum class Kind { Done, RequeueAfter, Retry } kind = Kind::Done;
  std::chrono::milliseconds after{0};
  std::string error;  // for Retry

  static Outcome done() { return {}; }
  static Outcome requeueAfter(std::chrono::milliseconds d) { return {Kind::RequeueAfter, d, ""}; }
  static Outcome retry(std::string why) { return {Kind::Retry, {}, std::move(why)}; }
};

// Label selector of every child informer.
inline constexpr const char* kChildSelector = "app.kubernetes.io/managed-by=governor";

class Reconciler {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // Reads from `informers` ("" `ns` = all namespaces), which registerInformers fills.
  Reconciler(
      Api& api, kube::Informers& informers, std::string ns, Metrics& metrics,
      Clock clock = [] { return std::chrono::system_clock::now(); });

  // How often a ServiceLevel with a cache is looked at again so that status.cache.hitRatio
  // follows the measurement (nothing else changes when only the ratio does); 0 = never.
  void setStatusRefreshPeriod(std::chrono::milliseconds period) { statusRefresh_ = period; }
  // Where the HPAs read the backlog (RenderOptions::backlogApi).
  void setBacklogApi(BacklogApi api) { backlogApi_ = api; }
  // Whether the rules read only the ServiceLevel's namespace (withNamespaceMatchers).
  void setRulesNamespaceMatcher(bool on) { rulesNamespaceMatcher_ = on; }
  // The Prometheus that evaluates the rules, where the scale-down guard reads the burn;
  // "" = none, and a ServiceLevel asking for the guard is told it cannot be evaluated.
  void setPrometheusUrl(const std::string& url);

  // Before the informers start: creates those the reconciler reads from (the ServiceLevels,
  // each child kind, the workloads), so that `onKey` is called with the key of a ServiceLevel
  // that changed, whose child changed, or whose workload appeared, went or was scaled.
  // PrometheusRules are watched when their CRD is installed now; else (and when it is
  // installed later, until a restart) each is read with a GET when needed.
  void registerInformers(const std::function<void(const std::string&)>& onKey);

  Outcome reconcile(const std::string& key);

 private:
  struct GroupState {
    bool present = false;
    std::optional<Condition> failure;
    int changed = 0;
  };
  struct Pass;

  bool prometheusRuleCrdInstalled();
  // The child as it is, as cachedChild keeps it: an object, nothing (only when the API says
  // NotFound, or a synced informer does not hold it: see createChild), or the error that left
  // it unknown (403, 429, 5xx, a timeout), on which nothing may be written.
  kube::Result<std::optional<Json>> liveChild(const kube::Resource& r, const std::string& ns, const std::string& name);
  // The same with a GET.
  kube::Result<std::optional<Json>> readChild(const kube::Resource& r, const std::string& ns, const std::string& name);
  void applyChild(Pass& pass, const Child& child);
  // One request, a server-side apply that only creates: an object of that name, whoever made
  // it, answers 409 and is left unchanged (see reconciler.cc).
  kube::Result<Json> createChild(const Child& child);
  // One Event per reconcile for the children it created, one for those it updated.
  void recordChanges(const Pass& pass);
  // Replicas the operator sets itself (replicas.h): pause at 0, scaling to and from none.
  void scaleWorkload(Pass& pass);
  // spec.autoscaling.scaleDownGuard: asks Prometheus whether the page tier burns.
  GuardDecision scaleDownGuard(const Pass& pass);
  void pruneChildren(Pass& pass);
  void writeStatus(Pass& pass);
  // Sends the status patch of the ServiceLevel `object`, whose status is to be `status`
  // (WrittenStatus), and counts the write.
  kube::Result<Json> patchStatus(const Json& object, const Json& patch, const Json& status);
  // `object` with the status last written to it by this process while the informer has not
  // yet seen that write: a pass in between (brought by a child's event) neither writes the
  // same status again, moving its lastTransitionTimes, nor records again the Events of the
  // condition changes it made.
  void withWrittenStatus(const std::string& key, Json& object);
  // What the metrics adapter serves for the ServiceLevel, read through the aggregated
  // APIs as the HPA reads it; nothing when the adapter has no value.
  // The item the adapter serves for `object`, from served_.
  std::optional<Json> servedCustomMetric(const std::string& ns, const std::string& resource, const std::string& object,
                                         const std::string& metric);
  // The backlog item, whose labels say whether it is the fallback (servedAsFallback).
  std::optional<Json> servedBacklog(const ServiceLevel& sl);
  std::optional<std::string> servedLatencyP95(const ServiceLevel& sl);
  std::optional<std::string> servedCacheHitRatio(const ServiceLevel& sl);
  void recordEvent(const Json& sl, const std::string& type, const std::string& reason, const std::string& message);
  // Counts and logs one write request.
  void wrote(const std::string& verb, const Json& object);
  std::string now() const { return rfc3339(clock_()); }

  Api& api_;
  kube::Informers& informers_;
  api::Workloads workloads_;    // the workloads scaled, from informers
  ServedMetrics served_{api_};  // what the adapter serves, for status
  std::string ns_;
  Metrics& metrics_;
  Clock clock_;
  std::chrono::milliseconds statusRefresh_{0};
  BacklogApi backlogApi_ = BacklogApi::External;
  bool rulesNamespaceMatcher_ = false;
  std::unique_ptr<kube::PrometheusClient> prometheus_;  // null without --prometheus-url
  bool rulesWatched_ = false;                           // by an informer (registerInformers)
  // The status last written to a ServiceLevel, by key, and the resourceVersion it was
  // written over; forgotten at the first pass that reads a newer object (the write's own
  // watch event brings one).
  struct WrittenStatus {
    std::string over;
    Json status;
  };
  std::mutex writtenMu_;
  std::map<std::string, WrittenStatus> written_;
  std::mutex crdMu_;
  std::optional<bool> crdInstalled_;
  std::chrono::steady_clock::time_point crdCheckedAt_;
};

}  // namespace governor::op
