// See reconciler.h. Every write goes through applyChild, scaleWorkload, pruneChildren,
// writeStatus or recordEvent, and each counts itself in the metrics.
#include "operator/reconcile/reconciler.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include "api/metrics.h"
#include "api/workloads.h"
#include "kube/duration.h"
#include "kube/logging.h"
#include "kube/quantity.h"
#include "operator/promql_check.h"
#include "operator/reconcile/cached_child.h"
#include "operator/reconcile/replicas.h"

namespace governor::op {
namespace {

constexpr ChildGroup kGroups[] = {ChildGroup::Autoscaler, ChildGroup::Cache, ChildGroup::Quota, ChildGroup::Rules};

std::string childKey(const kube::Resource& r, const std::string& name) { return r.plural + "/" + name; }

std::string describeChild(const Json& object) { return object.value("kind", "") + " " + kube::objectKey(object); }

void setOrErase(Json& obj, const std::string& field, const std::optional<std::string>& value) {
  if (value) {
    obj[field] = *value;
  } else {
    obj.erase(field);
  }
}

// The log fields of a line about ServiceLevel `sl` (its object); more may follow.
kube::log::Fields serviceLevelFields(const Json& sl) {
  const auto& md = sl["metadata"];
  return {{"namespace", md.value("namespace", "")}, {"servicelevel", md.value("name", "")}};
}

// "namespace/name" of the ServiceLevel a child is labelled with; "" without the label.
std::string owningServiceLevel(const Json& child) {
  const auto& md = child.value("metadata", Json::object());
  auto name = md.value("labels", Json::object()).value(kServiceLevelLabel, "");
  return name.empty() ? "" : md.value("namespace", "") + "/" + name;
}

// The index of the ServiceLevels by the workload they name: "namespace/Kind/name".
std::string workloadKey(const Json& sl) {
  const Json md = sl.value("metadata", Json::object());
  const Json workload = sl.value("spec", Json::object()).value("workload", Json::object());
  return md.value("namespace", "") + "/" + workload.value("kind", "Deployment") + "/" + workload.value("name", "");
}

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// The API server's answer to a create in a namespace that is being deleted (its
// NamespaceLifecycle admission): 403, "unable to create new content in namespace NS because it
// is being terminated".
bool namespaceTerminating(const kube::Error& error) {
  return error.status.code == 403 && error.status.message.find("because it is being terminated") != std::string::npos;
}

}  // namespace

struct Reconciler::Pass {
  Json object;
  ServiceLevel sl;
  std::map<ChildGroup, GroupState> groups;
  std::set<std::string> desired;
  bool crdInstalled = true;
  bool rulesRendered = false;               // alert rules, not only the dashboard
  std::optional<int32_t> workloadReplicas;  // spec.replicas, when the workload was read
  std::optional<std::string> backlog;       // as the adapter serves it
  bool fallback = false;                    // the adapter serves spec.autoscaling.queue.fallback instead
  std::optional<int32_t> paused;            // the replicas a pause holds
  std::optional<TimePoint> idleSince;       // of an empty backlog, with minReplicas 0
  std::optional<GuardDecision> guard;       // with spec.autoscaling.scaleDownGuard
  std::vector<std::string> created;         // children written, as describeChild says
  std::vector<std::string> updated;
};

Reconciler::Reconciler(Api& api, kube::Informers& informers, std::string ns, Metrics& metrics, Clock clock)
    : api_(api),
      informers_(informers),
      workloads_(informers, ns),
      ns_(std::move(ns)),
      metrics_(metrics),
      clock_(std::move(clock)) {}

void Reconciler::setPrometheusUrl(const std::string& url) {
  prometheus_ = url.empty() ? nullptr : std::make_unique<kube::PrometheusClient>(url);
}

void Reconciler::registerInformers(const std::function<void(const std::string&)>& onKey) {
  auto& informers = informers_;
  const auto& ns = ns_;
  prometheusRuleCrdInstalled();
  {
    std::lock_guard lock(crdMu_);
    rulesWatched_ = crdInstalled_.value_or(false);  // not when unknown: an informer of no CRD never syncs
  }
  // The caches are most of the operator's memory: they keep their objects compact, parsed
  // again on each read, which the reconciler does a few at a time (get, byIndex).
  auto own = [onKey](const Json& o) { onKey(kube::objectKey(o)); };
  auto& serviceLevels = informers.get(resources::kServiceLevel, ns);
  serviceLevels.setCompact(true);
  serviceLevels.setIndex(workloadKey);
  serviceLevels.addHandler({own, [own](const Json&, const Json& o) { own(o); }, own});
  // A workload that appears, goes or is scaled brings back the ServiceLevels that name it.
  api::Workloads::watch(informers, ns);
  api::Workloads(informers, ns)
      .onChange(api::Workloads::Change::LabelsOrReplicas,
                [onKey, &serviceLevels](const std::string& workloadNs, const Workload& w) {
                  for (const auto& sl : serviceLevels.byIndex(workloadNs + "/" + w.kind + "/" + w.name))
                    onKey(kube::objectKey(sl));
                });
  auto owner = [onKey](const Json& o) {
    if (auto key = owningServiceLevel(o); !key.empty()) onKey(key);
  };
  for (const auto& r : childResources()) {
    if (r.plural == resources::kPrometheusRule.plural && !rulesWatched_) continue;
    auto& informer = informers.get(r, ns, kChildSelector);
    informer.setTransform(cachedChild);  // the rules and dashboards as digests
    informer.setCompact(true);
    informer.setIndex(owningServiceLevel);  // pruneChildren's
    informer.addHandler({owner, [owner](const Json&, const Json& o) { owner(o); }, owner});
  }
}

bool Reconciler::prometheusRuleCrdInstalled() {
  std::lock_guard lock(crdMu_);
  auto age = std::chrono::steady_clock::now() - crdCheckedAt_;
  if (!crdInstalled_ || age > std::chrono::seconds(30)) {
    auto res = api_.getPath("/apis/monitoring.coreos.com/v1");
    bool installed = false;
    if (res) {
      for (const auto& r : res->value("resources", Json::array()))
        installed |= r.value("name", "") == "prometheusrules";
    }
    if (res || res.error().isNotFound()) {
      crdInstalled_ = installed;
      crdCheckedAt_ = std::chrono::steady_clock::now();
    }
  }
  return crdInstalled_.value_or(true);
}

kube::Result<std::optional<Json>> Reconciler::liveChild(const kube::Resource& r, const std::string& ns,
                                                        const std::string& name) {
  if (r.plural != resources::kPrometheusRule.plural || rulesWatched_) {
    auto& informer = informers_.get(r, ns_, kChildSelector);
    if (auto cached = informer.get(ns + "/" + name)) return cached;
    // Absent from a synced cache: created with createChild, whose request itself is refused
    // when an object of that name exists (someone else's, or ours not seen yet).
    if (informer.hasSynced()) return std::optional<Json>();
  }
  return readChild(r, ns, name);
}

kube::Result<std::optional<Json>> Reconciler::readChild(const kube::Resource& r, const std::string& ns,
                                                        const std::string& name) {
  auto res = api_.get(r, ns, name);
  if (res) return std::optional<Json>(cachedChild(std::move(*res)));
  if (res.error().isNotFound()) return std::optional<Json>();
  return res.error();
}

kube::Result<Json> Reconciler::createChild(const Child& child) {
  // A server-side apply creates what is absent, and its fields belong to the Apply entry of
  // kFieldManager from the start (so that later applies own them and remove what the spec
  // drops). Its resourceVersion is a precondition that no existing object can meet: etcd
  // starts at revision 1 and stores every write at a later one, so an object of that name
  // (made by someone else, or by us and not in the cache yet) is left as it is and the API
  // server answers 409. Not "0", which means no precondition; not a uid, with which an apply
  // never creates ("uid mismatch: ... no existing object was found").
  Json object = child.object;
  object["metadata"]["resourceVersion"] = "1";
  auto res = api_.apply(child.resource, object["metadata"].value("namespace", ""), object["metadata"].value("name", ""),
                        object, {.fieldManager = kFieldManager, .force = true});
  wrote("create", child.object);
  return res;
}

void Reconciler::applyChild(Pass& pass, const Child& child) {
  auto& group = pass.groups[child.group];
  if (group.failure) return;
  const auto& name = child.object["metadata"]["name"].get_ref<const std::string&>();
  auto conflict = [&] {
    group.failure = Condition{conditionType(child.group), false, "Conflict",
                              describeChild(child.object) + " already exists and is not owned by ServiceLevel " +
                                  pass.sl.name + "; Governor leaves it alone: delete or rename it"};
  };
  auto readFailed = [&](const kube::Error& error) {
    // Unknown is not absent: writing now could take over an object someone else made.
    group.failure =
        Condition{conditionType(child.group), false, "ReadFailed",
                  "cannot read " + describeChild(child.object) + ", so Governor writes nothing to it: " + error.what()};
  };
  auto applyFailed = [&](const kube::Error& error) {
    if (namespaceTerminating(error)) {
      // Nothing can be made there any more, an Event no more than a child, and the namespace's
      // deletion deletes this ServiceLevel too: no retry.
      group.failure = Condition{conditionType(child.group), false, "NamespaceTerminating", error.what()};
      return;
    }
    group.failure = Condition{conditionType(child.group), false, "ApplyFailed", error.what()};
    recordEvent(pass.object, "Warning", "ApplyFailed", error.what());
  };
  auto live = liveChild(child.resource, pass.sl.namespaceName, name);
  if (!live) return readFailed(live.error());
  if (!*live) {
    auto created = createChild(child);
    if (created) {
      ++group.changed;
      pass.created.push_back(describeChild(child.object));
      return;
    }
    if (!created.error().isConflict()) return applyFailed(created.error());
    // An object of that name exists: read it, and treat it as any existing child.
    live = readChild(child.resource, pass.sl.namespaceName, name);
    if (!live) return readFailed(live.error());
    if (!*live) return applyFailed(created.error());  // gone since: the retry creates it
  }
  if (!ownedBy(**live, pass.sl.uid)) return conflict();
  if (holds(**live, cachedChild(child.object))) return;
  // Applied only to the object just read: one that replaced it meanwhile has another uid
  // and the API server refuses the apply.
  Json object = child.object;
  object["metadata"]["uid"] = (**live)["metadata"].value("uid", "");
  auto res =
      api_.apply(child.resource, pass.sl.namespaceName, name, object, {.fieldManager = kFieldManager, .force = true});
  wrote("apply", child.object);
  if (!res) return applyFailed(res.error());
  ++group.changed;
  pass.updated.push_back(describeChild(child.object));
}

void Reconciler::recordChanges(const Pass& pass) {
  auto list = [](const std::vector<std::string>& children) {
    std::string out;
    for (size_t i = 0; i < children.size(); ++i) {
      out += (i == 0 ? "" : i + 1 == children.size() ? " and " : ", ") + children[i];
    }
    return out;
  };
  if (!pass.created.empty()) recordEvent(pass.object, "Normal", "Created", list(pass.created) + " created");
  if (!pass.updated.empty()) recordEvent(pass.object, "Normal", "Updated", list(pass.updated) + " updated");
}

void Reconciler::scaleWorkload(Pass& pass) {
  const auto& sl = pass.sl;
  if (!sl.autoscaling || !pass.workloadReplicas) return;
  std::optional<double> backlog;
  if (pass.backlog) {
    if (auto q = kube::parseQuantity(*pass.backlog)) backlog = q->asDouble();
  }
  const Json oldStatus = pass.object.value("status", Json::object());
  std::optional<int32_t> pausedBefore;
  if (auto it = oldStatus.find("pausedReplicas"); it != oldStatus.end() && it->is_number_integer()) {
    pausedBefore = it->get<int32_t>();
  }
  auto decision = decideReplicas(*sl.autoscaling, {.replicas = *pass.workloadReplicas,
                                                   .paused = pass.paused,
                                                   .pausedBefore = pausedBefore,
                                                   .backlog = backlog,
                                                   .idleSince = parseRfc3339(oldStatus.value("idleSince", "")),
                                                   .now = clock_()});
  pass.idleSince = decision.idleSince;
  if (!decision.scaleTo) return;
  // Going to none after idleFor is scaling in too; a pause at 0 is the user's own word.
  if (!pass.paused && pass.guard && pass.guard->floor && *decision.scaleTo < *pass.guard->floor) return;
  auto res = api_.mergePatch(api::workloadApiResource(sl.workload.kind), sl.namespaceName, sl.workload.name,
                             {{"spec", {{"replicas", *decision.scaleTo}}}}, "scale");
  wrote("patch scale",
        {{"kind", sl.workload.kind}, {"metadata", {{"namespace", sl.namespaceName}, {"name", sl.workload.name}}}});
  if (!res) {
    pass.groups[ChildGroup::Autoscaler].failure =
        Condition{"AutoscalerReady", false, "ScaleFailed",
                  "cannot scale " + sl.workload.kind + " " + sl.workload.name + ": " + res.error().what()};
    recordEvent(pass.object, "Warning", "ScaleFailed", res.error().what());
    return;
  }
  pass.workloadReplicas = *decision.scaleTo;
  recordEvent(pass.object, "Normal", decision.reason,
              sl.workload.kind + " " + sl.workload.name + " " + decision.message);
}

GuardDecision Reconciler::scaleDownGuard(const Pass& pass) {
  const ServiceLevel& sl = pass.sl;
  // The very condition of the tier's alerts, from the same ServiceLevel the rules are written from.
  const BurnConditions burn = burnConditions(sl, sl.autoscaling->scaleDownGuard->whileBurning);
  const Json before = findCondition(pass.object.value("status", Json::object()).value("conditions", Json::array()),
                                    kScaleDownGuardCondition);
  GuardInputs in{.prometheusConfigured = prometheus_ != nullptr,
                 .windows = burn.words,
                 .replicas = pass.workloadReplicas,
                 .heldBefore = before.value("status", "") == "True"};
  if (prometheus_) {
    auto series = prometheus_->series(burn.expr);
    if (series) {
      std::vector<std::string> slos;
      for (const auto& s : *series) {
        std::string slo = s.value("metric", Json::object()).value("slo", "");
        if (std::find(slos.begin(), slos.end(), slo) == slos.end()) slos.push_back(slo);
      }
      in.burning = slos;
    } else {
      in.error = series.error().what();
    }
  }
  return decideScaleDownGuard(in);
}

void Reconciler::pruneChildren(Pass& pass) {
  auto prune = [&](const kube::Resource& r, const Json& obj) {
    const auto& md = obj["metadata"];
    auto name = md.value("name", "");
    if (pass.desired.contains(childKey(r, name)) || !ownedBy(obj, pass.sl.uid)) return;
    // Only the object seen as ours: one of the same name made since is left alone.
    auto out = api_.remove(r, pass.sl.namespaceName, name, md.value("uid", ""));
    wrote("delete", obj);
    if (out) {
      recordEvent(pass.object, "Normal", "Deleted", describeChild(obj) + " deleted: the spec no longer asks for it");
    } else if (!out.error().isNotFound()) {
      auto fields = serviceLevelFields(pass.object);
      fields.insert(fields.end(), {{"kind", obj.value("kind", "")}, {"name", name}});
      kube::log::warn(fmt::format("servicelevel {}/{}: {}", pass.sl.namespaceName, pass.sl.name, out.error().what()),
                      fields);
    }
  };
  for (const auto& r : childResources()) {
    if (r.plural == resources::kPrometheusRule.plural && !rulesWatched_) continue;
    auto children = informers_.get(r, ns_, kChildSelector).byIndex(pass.sl.namespaceName + "/" + pass.sl.name);
    for (const auto& obj : children) prune(r, obj);
  }
  if (!rulesWatched_ && pass.crdInstalled &&
      !pass.desired.contains(childKey(resources::kPrometheusRule, pass.sl.name))) {
    if (auto live = api_.get(resources::kPrometheusRule, pass.sl.namespaceName, pass.sl.name)) {
      prune(resources::kPrometheusRule, *live);
    }
  }
}

void Reconciler::writeStatus(Pass& pass) {
  const Json oldStatus = pass.object.value("status", Json::object());
  Json status = oldStatus;
  Json conditions = status.value("conditions", Json::array());
  auto gen = pass.sl.generation;
  std::optional<Condition> firstFailure;
  int present = 0;
  for (auto g : kGroups) {
    const auto& state = pass.groups[g];
    if (!state.present) {
      conditions = removeCondition(conditions, conditionType(g));
      continue;
    }
    ++present;
    Condition c{conditionType(g), true, "Reconciled", "up to date"};
    if (state.failure) {
      c = *state.failure;
      if (!firstFailure) firstFailure = c;
    } else if (g == ChildGroup::Rules && pass.rulesRendered && !pass.crdInstalled) {
      // Degraded, not failed: the rules exist, in a ConfigMap instead.
      c = {conditionType(g), false, "PrometheusRuleCRDMissing",
           "monitoring.coreos.com/v1 PrometheusRule is not installed; the rules are in ConfigMap " +
               pass.sl.namespaceName + "/" + pass.sl.name + "-rules for Prometheus to load as a rule file"};
    }
    conditions = setCondition(conditions, c, gen, now());
  }
  // The HPA's own word on whether it scales; Ready may not be True while it cannot.
  std::optional<Json> hpa;
  if (pass.sl.autoscaling) {
    hpa = informers_.get(resources::kHpa, ns_, kChildSelector).get(pass.sl.namespaceName + "/" + pass.sl.name);
  }
  auto scaling = hpa ? scalingActive(hpa->value("status", Json::object())) : std::nullopt;
  if (scaling) {
    conditions = setCondition(conditions, *scaling, gen, now());
    if (!firstFailure && scalingBroken(*scaling)) firstFailure = scaling;
    auto before = findCondition(oldStatus.value("conditions", Json::array()), "ScalingActive");
    if (before.value("status", "") != (scaling->status ? "True" : "False") ||
        before.value("reason", "") != scaling->reason) {
      recordEvent(pass.object, scalingBroken(*scaling) ? "Warning" : "Normal", scaling->reason,
                  "HorizontalPodAutoscaler " + pass.sl.name + ": " + scaling->message);
    }
  } else {
    conditions = removeCondition(conditions, "ScalingActive");
  }
  // The HPA reads a value, so ScalingActive stays True: Ready says the backlog is not measured.
  const auto& autoscaling = pass.sl.autoscaling;
  const bool fallback = pass.fallback && autoscaling && autoscaling->queue && autoscaling->queue->fallback;
  const bool fallbackBefore = findCondition(oldStatus.value("conditions", Json::array()), "Fallback").contains("type");
  if (fallback) {
    const auto& f = *autoscaling->queue->fallback;
    auto c = fallbackCondition(f.afterFailures, f.replicas);
    conditions = setCondition(conditions, c, gen, now());
    if (!firstFailure) firstFailure = c;
    if (!fallbackBefore) recordEvent(pass.object, "Warning", "FallbackStarted", c.message);
  } else {
    conditions = removeCondition(conditions, "Fallback");
    if (fallbackBefore) {
      recordEvent(pass.object, "Normal", "FallbackEnded", "the backlog is measured again; the HPA scales on it");
    }
  }
  if (pass.paused) {
    conditions = setCondition(conditions,
                              {"Paused", true, "PausedByAnnotation",
                               "scaling is paused at " + std::to_string(*pass.paused) + " replicas by the annotation " +
                                   (pass.sl.paused->replicas ? kPausedReplicasAnnotation : kPausedAnnotation) +
                                   "; remove the annotation to resume"},
                              gen, now());
  } else {
    conditions = removeCondition(conditions, "Paused");
  }
  if (pass.guard) {
    conditions = setCondition(conditions, pass.guard->condition, gen, now());
    if (!pass.guard->event.empty()) recordEvent(pass.object, "Normal", pass.guard->event, pass.guard->eventMessage);
  } else {
    conditions = removeCondition(conditions, kScaleDownGuardCondition);
  }
  Condition ready{"Ready", true, "Reconciled", "all " + std::to_string(present) + " parts are up to date"};
  if (firstFailure) ready = {"Ready", false, firstFailure->reason, firstFailure->message};
  conditions = setCondition(conditions, ready, gen, now());
  status["conditions"] = conditions;
  status["observedGeneration"] = gen;
  for (const auto& c : conditions) {
    auto before = findCondition(oldStatus.value("conditions", Json::array()), c.value("type", ""));
    if (before.value("status", "") == c.value("status", "") && before.value("reason", "") == c.value("reason", "")) {
      continue;
    }
    auto fields = serviceLevelFields(pass.object);
    fields.insert(fields.end(), {{"condition", c.value("type", "")}, {"reason", c.value("reason", "")}});
    kube::log::info(
        fmt::format("servicelevel {}/{}: {} is {} ({}): {}", pass.sl.namespaceName, pass.sl.name, c.value("type", ""),
                    c.value("status", ""), c.value("reason", ""), c.value("message", "")),
        fields);
  }

  Json replicas = nullptr;
  if (hpa && hpa->contains("status")) {
    replicas = {{"current", (*hpa)["status"].value("currentReplicas", 0)},
                {"desired", (*hpa)["status"].value("desiredReplicas", 0)}};
  }
  if (replicas.is_null()) {
    status.erase("replicas");
  } else {
    status["replicas"] = replicas;
  }
  setOrErase(status, "backlog", pass.backlog);
  if (pass.paused) {
    status["pausedReplicas"] = *pass.paused;
  } else {
    status.erase("pausedReplicas");
  }
  setOrErase(status, "idleSince", pass.idleSince ? std::optional(rfc3339(*pass.idleSince)) : std::nullopt);
  if (pass.paused && !oldStatus.contains("pausedReplicas")) {
    recordEvent(pass.object, "Normal", "Paused", "scaling paused at " + std::to_string(*pass.paused) + " replicas");
  } else if (!pass.paused && oldStatus.contains("pausedReplicas")) {
    recordEvent(pass.object, "Normal", "Resumed", "scaling resumed: the pause annotation is gone");
  }
  setOrErase(status, "latencyP95", servedLatencyP95(pass.sl));
  if (auto ratio = servedCacheHitRatio(pass.sl)) {
    status["cache"] = {{"hitRatio", *ratio}};
  } else {
    status.erase("cache");
  }
  if (status == oldStatus) return;
  Json patch = {{"status", status}};
  // A merge patch removes a field only when told null.
  for (const char* field : {"replicas", "backlog", "latencyP95", "cache", "pausedReplicas", "idleSince"}) {
    if (!status.contains(field) && oldStatus.contains(field)) patch["status"][field] = nullptr;
  }
  auto res = patchStatus(pass.object, patch, status);
  if (!res) {
    kube::log::warn(
        fmt::format("servicelevel {}/{}: status: {}", pass.sl.namespaceName, pass.sl.name, res.error().what()),
        serviceLevelFields(pass.object));
  }
}

std::optional<Json> Reconciler::servedCustomMetric(const std::string& ns, const std::string& resource,
                                                   const std::string& object, const std::string& metric) {
  return served_.item(api::customMetricPath(ns, resource, "*", metric), object,
                      api::customMetricPath(ns, resource, object, metric));
}

std::optional<Json> Reconciler::servedBacklog(const ServiceLevel& sl) {
  if (!sl.autoscaling || !sl.autoscaling->queue) return std::nullopt;
  if (backlogApi_ == BacklogApi::Custom) {
    return servedCustomMetric(sl.namespaceName, api::kServiceLevelResource, sl.name, api::kBacklogMetric);
  }
  return served_.item(api::externalMetricPath(sl.namespaceName, api::kBacklogMetric), sl.name,
                      api::backlogPath(sl.namespaceName, sl.name));
}

std::optional<std::string> Reconciler::servedLatencyP95(const ServiceLevel& sl) {
  if (!sl.objectives || !sl.objectives->latency) return std::nullopt;
  auto item = servedCustomMetric(sl.namespaceName, api::workloadResource(sl.workload.kind), sl.workload.name,
                                 api::latencyMetric(95));
  if (!item) return std::nullopt;
  auto seconds = kube::parseQuantity(item->value("value", ""));
  if (!seconds) return std::nullopt;
  return kube::formatDuration(std::chrono::milliseconds(std::llround(seconds->asDouble() * 1000)));
}

std::optional<std::string> Reconciler::servedCacheHitRatio(const ServiceLevel& sl) {
  if (!sl.cache) return std::nullopt;
  auto item = servedCustomMetric(sl.namespaceName, api::kServiceLevelResource, sl.name, api::kCacheHitRatioMetric);
  if (!item) return std::nullopt;
  auto ratio = kube::parseQuantity(item->value("value", ""));
  if (!ratio) return std::nullopt;
  return formatRatio(ratio->asDouble());
}

void Reconciler::recordEvent(const Json& sl, const std::string& type, const std::string& reason,
                             const std::string& message) {
  const auto& md = sl["metadata"];
  auto ts = now();
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"generateName", md.value("name", "") + "."}, {"namespace", md.value("namespace", "")}}},
                {"involvedObject",
                 {{"apiVersion", kApiVersion},
                  {"kind", kKind},
                  {"name", md.value("name", "")},
                  {"namespace", md.value("namespace", "")},
                  {"uid", md.value("uid", "")}}},
                {"type", type},
                {"reason", reason},
                {"message", message},
                {"source", {{"component", kFieldManager}}},
                {"reportingComponent", kFieldManager},
                {"reportingInstance", hostname()},
                {"firstTimestamp", ts},
                {"lastTimestamp", ts},
                {"count", 1}};
  auto fields = serviceLevelFields(sl);
  fields.emplace_back("reason", reason);
  kube::log::write(type == "Warning" ? spdlog::level::warn : spdlog::level::info,
                   fmt::format("servicelevel {}: {}: {}", kube::objectKey(sl), reason, message), fields);
  auto res = api_.create({"", "v1", "events", true}, md.value("namespace", ""), event, /*fieldManager=*/"");
  wrote("create", event);
  if (!res) {
    kube::log::warn(fmt::format("event {} for {}: {}", reason, md.value("name", ""), res.error().what()), fields);
  }
}

void Reconciler::wrote(const std::string& verb, const Json& object) {
  auto kind = object.value("kind", "");
  metrics_.countWrite(verb, kind);
  const auto& md = object.at("metadata");
  kube::log::Fields fields = {{"namespace", md.value("namespace", "")}, {"kind", kind}, {"name", md.value("name", "")}};
  // Whose: a ServiceLevel itself, the one an Event is about, or the one a child is labelled with.
  std::string serviceLevel = kind == kKind     ? md.value("name", "")
                             : kind == "Event" ? object.value("involvedObject", Json::object()).value("name", "")
                                               : md.value("labels", Json::object()).value(kServiceLevelLabel, "");
  if (!serviceLevel.empty()) fields.emplace_back("servicelevel", serviceLevel);
  kube::log::debug(fmt::format("{} {} {}", verb, kind, kube::objectKey(object)), fields);
}

kube::Result<Json> Reconciler::patchStatus(const Json& object, const Json& patch, const Json& status) {
  const Json& md = object.at("metadata");
  auto res =
      api_.mergePatch(resources::kServiceLevel, md.value("namespace", ""), md.value("name", ""), patch, "status");
  wrote("patch status", object);
  std::lock_guard lock(writtenMu_);
  const auto key = kube::objectKey(object);
  if (res) {
    written_[key] = {md.value("resourceVersion", ""), status};
  } else {
    written_.erase(key);  // it may or may not have been written: the informer will tell
  }
  return res;
}

void Reconciler::withWrittenStatus(const std::string& key, Json& object) {
  std::lock_guard lock(writtenMu_);
  auto it = written_.find(key);
  if (it == written_.end()) return;
  if (it->second.over == object["metadata"].value("resourceVersion", "")) {
    object["status"] = it->second.status;
  } else {
    written_.erase(it);
  }
}

Outcome Reconciler::reconcile(const std::string& key) {
  auto object = informers_.get(resources::kServiceLevel, ns_).get(key);
  // Gone: the garbage collector removes the children through their owner references.
  if (!object || object->at("metadata").contains("deletionTimestamp")) {
    std::lock_guard lock(writtenMu_);
    written_.erase(key);
    return Outcome::done();
  }
  withWrittenStatus(key, *object);

  auto parsed = parseServiceLevel(*object);
  if (!parsed.serviceLevel) {
    std::string message;
    for (const auto& p : parsed.problems) message += (message.empty() ? "" : "; ") + p;
    Json status = object->value("status", Json::object());
    auto gen = object->at("metadata").value("generation", int64_t{0});
    auto before = findCondition(status.value("conditions", Json::array()), "Ready");
    status["conditions"] =
        setCondition(status.value("conditions", Json::array()), {"Ready", false, "InvalidSpec", message}, gen, now());
    status["observedGeneration"] = gen;
    if (status != object->value("status", Json::object())) {
      auto res = patchStatus(*object, {{"status", status}}, status);
      if (!res) return Outcome::retry(res.error().what());
      if (before.value("message", "") != message) {
        recordEvent(*object, "Warning", "InvalidSpec", message);
      }
    }
    return Outcome::done();
  }

  Pass pass{*object,
            rulesNamespaceMatcher_ ? withNamespaceMatchers(*parsed.serviceLevel) : *parsed.serviceLevel,
            {},
            {},
            prometheusRuleCrdInstalled()};
  const auto& sl = pass.sl;
  pass.groups[ChildGroup::Autoscaler].present = sl.autoscaling.has_value();
  pass.groups[ChildGroup::Cache].present = sl.cache.has_value();
  pass.groups[ChildGroup::Quota].present = sl.quota.has_value();
  pass.rulesRendered = sl.objectives.has_value() || (sl.cache && sl.cache->hitRatioTarget.has_value());

  if (sl.autoscaling) {
    // From the workloads' informer; its creation brings the ServiceLevel back.
    auto live = workloads_.replicas(sl.namespaceName, sl.workload);
    if (live) pass.workloadReplicas = live->desired;
    if (!live) {
      pass.groups[ChildGroup::Autoscaler].failure =
          Condition{"AutoscalerReady", false, "WorkloadNotFound", live.error().status.message};
    }
  }

  if (auto item = servedBacklog(sl)) {
    // A fallback is not a backlog: status shows none, and scaling to or from none waits.
    pass.fallback = servedAsFallback(*item);
    if (!pass.fallback) pass.backlog = item->value("value", "");
  }
  if (sl.autoscaling && sl.autoscaling->scaleDownGuard) pass.guard = scaleDownGuard(pass);
  const RenderOptions options{.prometheusRuleCrd = pass.crdInstalled,
                              .backlogApi = backlogApi_,
                              .workloadReplicas = pass.workloadReplicas,
                              .guardFloor = pass.guard ? pass.guard->floor : std::nullopt};
  pass.paused = pausedReplicas(sl, options);
  auto children = render(sl, options);
  // Everything rendered counts as desired, also what a failed group skips, so that
  // pruning never deletes a child because of an unrelated problem.
  for (const auto& child : children) {
    pass.desired.insert(childKey(child.resource, child.object["metadata"]["name"]));
    // A group with any child has a condition (the dashboard alone makes RulesReady).
    pass.groups[child.group].present = true;
  }
  // Broken PromQL never reaches Prometheus: the rules (and the dashboard) stay as they were.
  if (auto problems = queryProblems(sl); !problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
    auto before =
        findCondition(object->value("status", Json::object()).value("conditions", Json::array()), "RulesReady");
    if (before.value("message", "") != message) recordEvent(*object, "Warning", "InvalidQuery", message);
    pass.groups[ChildGroup::Rules].failure = Condition{"RulesReady", false, "InvalidQuery", message};
  }
  for (const auto& child : children) applyChild(pass, child);
  recordChanges(pass);
  scaleWorkload(pass);
  pruneChildren(pass);
  writeStatus(pass);

  for (const auto& [group, state] : pass.groups) {
    // Failures of a call, which another try may not meet.
    static const std::set<std::string> kRetried = {"ApplyFailed", "ReadFailed", "ScaleFailed"};
    if (state.failure && kRetried.contains(state.failure->reason)) {
      return Outcome::retry(state.failure->message);
    }
  }
  const bool scalesToZero = sl.autoscaling && sl.autoscaling->minReplicas == 0;
  // The burn changes in Prometheus, which nothing watches.
  const bool guarded = sl.autoscaling && sl.autoscaling->scaleDownGuard;
  if ((sl.cache || scalesToZero || guarded) && statusRefresh_.count() > 0) return Outcome::requeueAfter(statusRefresh_);
  return Outcome::done();
}

}  // namespace governor::op
