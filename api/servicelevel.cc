// Reads a ServiceLevel's JSON into the C++ model, collecting every problem with the
// path of the field it concerns.
#include "api/servicelevel.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <regex>

#include "api/series_selector.h"
#include "kube/duration.h"

namespace governor::api {
namespace {

// The same words as the CRD's CEL rule on spec.autoscaling.queue.redis.address.
constexpr const char* kQueueOnCacheMessage =
    "must not be this ServiceLevel's own cache (NAME-redis): the adapter's polls of the queue are key lookups"
    " that Redis counts in the cache's hits and misses (a miss every poll while the queue is empty), so the"
    " cache hit ratio would measure the polling; keep the queue on a Redis of its own";

// Walks the spec, reading typed fields and recording problems by path.
class Reader {
 public:
  std::vector<std::string> problems;

  void problem(const std::string& path, const std::string& what) { problems.push_back(path + ": " + what); }

  const Json* field(const Json& obj, const std::string& key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }

  std::string string(const Json& obj, const std::string& key, const std::string& path, bool required,
                     const std::string& fallback = "") {
    const Json* v = field(obj, key);
    if (!v) {
      if (required) problem(path, "required");
      return fallback;
    }
    if (!v->is_string()) {
      problem(path, "must be a string");
      return fallback;
    }
    return v->get<std::string>();
  }

  int64_t integer(const Json& obj, const std::string& key, const std::string& path, bool required, int64_t fallback,
                  int64_t min, int64_t max) {
    const Json* v = field(obj, key);
    if (!v) {
      if (required) problem(path, "required");
      return fallback;
    }
    if (!v->is_number_integer()) {
      problem(path, "must be an integer");
      return fallback;
    }
    auto n = v->get<int64_t>();
    if (n < min || n > max) {
      problem(path,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", not " + std::to_string(n));
    }
    return n;
  }

  bool boolean(const Json& obj, const std::string& key, const std::string& path, bool fallback) {
    const Json* v = field(obj, key);
    if (!v) return fallback;
    if (!v->is_boolean()) {
      problem(path, "must be true or false");
      return fallback;
    }
    return v->get<bool>();
  }

  Percent percent(const Json& obj, const std::string& key, const std::string& path) {
    std::string text = string(obj, key, path, true);
    if (text.empty()) return Percent{};
    auto p = parsePercent(text);
    if (!p) {
      problem(path,
              "must be a percentage above 0 and below 100 written as a string, like \"99.9\"; got \"" + text + "\"");
      return Percent{};
    }
    return *p;
  }

  std::chrono::milliseconds duration(const std::string& text, const std::string& path) {
    auto d = kube::parseDuration(text);
    if (!d) {
      problem(path, d.error().status.message);
      return std::chrono::milliseconds(0);
    }
    if (d->count() <= 0) problem(path, "must be longer than 0");
    return *d;
  }

  std::map<std::string, std::string> quantities(const Json& obj, const std::string& key, const std::string& path) {
    std::map<std::string, std::string> out;
    const Json* m = field(obj, key);
    if (!m) return out;
    if (!m->is_object()) {
      problem(path, "must be a map of resource names to quantities");
      return out;
    }
    for (const auto& [name, value] : m->items()) {
      std::string text = value.is_string() ? value.get<std::string>() : value.is_number() ? value.dump() : "";
      if (auto q = kube::parseQuantity(text); !q) {
        problem(path + "." + name, q.error().status.message);
      } else {
        out[name] = q->canonical();
      }
    }
    return out;
  }

  Labels labels(const Json& obj, const std::string& key, const std::string& path) {
    Labels out;
    const Json* m = field(obj, key);
    if (!m) return out;
    if (!m->is_object()) {
      problem(path, "must be a map of strings");
      return out;
    }
    for (const auto& [k, v] : m->items()) {
      if (!v.is_string()) {
        problem(path + "." + k, "must be a string");
      } else {
        out[k] = v.get<std::string>();
      }
    }
    return out;
  }

  void oneOf(const std::string& value, const std::vector<std::string>& allowed, const std::string& path) {
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    problem(path, "must be one of " + list + "; got \"" + value + "\"");
  }
};

Workload readWorkload(Reader& r, const Json& spec) {
  Workload w;
  const Json* j = r.field(spec, "workload");
  if (!j) {
    r.problem("spec.workload", "required");
    return w;
  }
  w.kind = r.string(*j, "kind", "spec.workload.kind", false, "Deployment");
  r.oneOf(w.kind, {"Deployment", "StatefulSet"}, "spec.workload.kind");
  w.name = r.string(*j, "name", "spec.workload.name", true);
  return w;
}

std::optional<Objectives> readObjectives(Reader& r, const Json& spec) {
  const Json* j = r.field(spec, "objectives");
  if (!j) return std::nullopt;
  Objectives o;
  o.window = r.duration(r.string(*j, "window", "spec.objectives.window", false, "30d"), "spec.objectives.window");
  if (const Json* a = r.field(*j, "availability")) {
    Availability av;
    av.target = r.percent(*a, "target", "spec.objectives.availability.target");
    av.errorQuery = r.string(*a, "errorQuery", "spec.objectives.availability.errorQuery", true);
    av.totalQuery = r.string(*a, "totalQuery", "spec.objectives.availability.totalQuery", true);
    // Each alert window puts its own range where {{.window}} stands; a query without it
    // measures the same in every window, and the burn-rate alerts mean nothing.
    static const std::regex window(R"(\{\{\s*\.window\s*\}\})");
    for (auto [name, query] : {std::pair{"errorQuery", &av.errorQuery}, std::pair{"totalQuery", &av.totalQuery}}) {
      if (!query->empty() && !std::regex_search(*query, window)) {
        r.problem(std::string("spec.objectives.availability.") + name,
                  std::string(name) +
                      " must use {{.window}} as its range, as in rate(http_requests_total[{{.window}}]):"
                      " each alert window puts its own range there");
      }
    }
    o.availability = av;
  }
  if (const Json* l = r.field(*j, "latency")) {
    LatencyObjective lat;
    const std::string threshold = r.string(*l, "threshold", "spec.objectives.latency.threshold", true);
    if (!threshold.empty()) lat.threshold = r.duration(threshold, "spec.objectives.latency.threshold");
    lat.target = r.percent(*l, "target", "spec.objectives.latency.target");
    lat.histogram = r.string(*l, "histogram", "spec.objectives.latency.histogram", true);
    if (!lat.histogram.empty()) {
      // Only a selector: the adapter and the rules put it inside their own PromQL.
      const std::string want =
          "must be a histogram's _bucket series with an optional selector, like "
          "http_request_duration_seconds_bucket{job=\"x\"}";
      auto selector = parseSeriesSelector(lat.histogram);
      if (!selector) {
        r.problem("spec.objectives.latency.histogram", want + ": " + selector.error().status.message);
      } else if (!selector->metric.ends_with("_bucket")) {
        r.problem("spec.objectives.latency.histogram", want);
      }
    }
    o.latency = lat;
  }
  if (!o.availability && !o.latency) r.problem("spec.objectives", "needs availability or latency");
  return o;
}

std::map<std::string, ResourceTarget> readResourceTargets(Reader& r, const Json& autoscaling) {
  std::map<std::string, ResourceTarget> out;
  const Json* j = r.field(autoscaling, "resources");
  if (!j) return out;
  const std::string p = "spec.autoscaling.resources";
  if (!j->is_object()) {
    r.problem(p, "must be an object with cpu, memory or both");
    return out;
  }
  for (const auto& [name, target] : j->items()) {
    const std::string at = p + "." + name;
    if (name != "cpu" && name != "memory") {
      r.problem(at, "unknown resource: only cpu and memory");
      continue;
    }
    ResourceTarget t;
    if (r.field(target, "averageUtilization")) {
      t.averageUtilization =
          static_cast<int32_t>(r.integer(target, "averageUtilization", at + ".averageUtilization", true, 0, 1, 1000));
    }
    if (const Json* v = r.field(target, "averageValue")) {
      auto q = kube::parseQuantity(v->is_string() ? v->get<std::string>() : v->dump());
      if (!q) {
        r.problem(at + ".averageValue", q.error().status.message);
      } else if (q->value() <= 0) {
        r.problem(at + ".averageValue", "must be more than 0");
      } else {
        t.averageValue = *q;
      }
    }
    if ((r.field(target, "averageUtilization") != nullptr) == (r.field(target, "averageValue") != nullptr)) {
      r.problem(at, "needs exactly one of averageUtilization (percent of the requests) and averageValue (per pod)");
    }
    out[name] = t;
  }
  return out;
}

std::optional<Autoscaling> readAutoscaling(Reader& r, const Json& spec) {
  const Json* j = r.field(spec, "autoscaling");
  if (!j) return std::nullopt;
  Autoscaling a;
  a.minReplicas = static_cast<int32_t>(r.integer(*j, "minReplicas", "spec.autoscaling.minReplicas", false, 1, 0, 1000));
  a.maxReplicas = static_cast<int32_t>(r.integer(*j, "maxReplicas", "spec.autoscaling.maxReplicas", true, 0, 1, 1000));
  if (a.maxReplicas > 0 && a.minReplicas > a.maxReplicas) {
    r.problem("spec.autoscaling.maxReplicas",
              "must be >= minReplicas (" + std::to_string(a.minReplicas) + "), not " + std::to_string(a.maxReplicas));
  }
  if (const Json* q = r.field(*j, "queue")) {
    QueueScaling qs;
    const std::string p = "spec.autoscaling.queue";
    if (const Json* redis = r.field(*q, "redis")) {
      qs.redis.address = r.string(*redis, "address", p + ".redis.address", true);
      qs.redis.key = r.string(*redis, "key", p + ".redis.key", true);
      qs.redis.type = r.string(*redis, "type", p + ".redis.type", false, "list");
      r.oneOf(qs.redis.type, {"list", "stream"}, p + ".redis.type");
      qs.redis.consumerGroup = r.string(*redis, "consumerGroup", p + ".redis.consumerGroup", false);
      if (qs.redis.type == "stream" && qs.redis.consumerGroup.empty()) {
        r.problem(p + ".redis.consumerGroup", "required for a stream");
      }
      qs.redis.db = static_cast<int>(r.integer(*redis, "db", p + ".redis.db", false, 0, 0, 15));
      qs.redis.tls = r.boolean(*redis, "tls", p + ".redis.tls", false);
      if (const Json* s = r.field(*redis, "passwordSecretRef")) {
        qs.redis.passwordSecretRef = SecretKeyRef{r.string(*s, "name", p + ".redis.passwordSecretRef.name", true),
                                                  r.string(*s, "key", p + ".redis.passwordSecretRef.key", true)};
      }
    } else {
      r.problem(p + ".redis", "required");
    }
    qs.targetPerReplica = r.integer(*q, "targetPerReplica", p + ".targetPerReplica", false, 0, 1, INT64_MAX);
    if (const Json* d = r.field(*q, "drainWithin")) {
      if (!d->is_string()) {
        r.problem(p + ".drainWithin", "must be a duration string, like \"2m\"");
      } else if (auto within = r.duration(d->get<std::string>(), p + ".drainWithin"); within.count() > 0) {
        qs.drainWithin = within;
      } else {
        r.problem(p + ".drainWithin", "must be longer than 0");
      }
    }
    if (!qs.targetPerReplica && !r.field(*q, "drainWithin")) {
      r.problem(p, "needs targetPerReplica (a backlog per replica) or drainWithin (a time to drain it in)");
    }
    for (auto [field, into] :
         {std::pair{"arrivalQuery", &qs.arrivalQuery}, std::pair{"processedQuery", &qs.processedQuery}}) {
      *into = r.string(*q, field, p + "." + field, false);
      if (into->empty()) continue;
      if (auto selector = parseSeriesSelector(*into); !selector) {
        r.problem(p + "." + field, "must be a counter's series selector, like jobs_total{queue=\"jobs\"}: " +
                                       selector.error().status.message);
      }
    }
    if (qs.redis.type == "stream" && (!qs.arrivalQuery.empty() || !qs.processedQuery.empty())) {
      r.problem(p, "arrivalQuery and processedQuery are for lists: a stream's consumer group counts both itself");
    }
    if (qs.drainWithin && qs.redis.type == "list" && qs.arrivalQuery.empty() && qs.processedQuery.empty()) {
      r.problem(p + ".drainWithin",
                "a list needs arrivalQuery or processedQuery to measure its rates: its length "
                "alone tells only their difference");
    }
    if (const Json* f = r.field(*q, "fallback")) {
      QueueFallback fb;
      fb.replicas = static_cast<int32_t>(r.integer(*f, "replicas", p + ".fallback.replicas", true, 0, 1, 1000));
      fb.afterFailures =
          static_cast<int32_t>(r.integer(*f, "afterFailures", p + ".fallback.afterFailures", false, 3, 1, 100));
      if (a.maxReplicas > 0 && fb.replicas > a.maxReplicas) {
        r.problem(p + ".fallback.replicas",
                  "must be <= maxReplicas (" + std::to_string(a.maxReplicas) + "), not " + std::to_string(fb.replicas));
      }
      qs.fallback = fb;
    }
    a.queue = qs;
  }
  if (const Json* l = r.field(*j, "latency")) {
    LatencyScaling ls;
    ls.percentile =
        static_cast<int>(r.integer(*l, "percentile", "spec.autoscaling.latency.percentile", false, 95, 50, 99));
    const std::string target = r.string(*l, "target", "spec.autoscaling.latency.target", true);
    if (!target.empty()) ls.target = r.duration(target, "spec.autoscaling.latency.target");
    a.latency = ls;
  }
  a.resources = readResourceTargets(r, *j);
  if (!a.queue && !a.latency && a.resources.empty()) {
    r.problem("spec.autoscaling", "needs queue, latency or resources to scale on");
  }
  if (a.minReplicas == 0 && !a.queue) {
    r.problem("spec.autoscaling.minReplicas",
              "0 needs a queue: its backlog is what brings the workload back from none");
  }
  if (const Json* idle = r.field(*j, "idleFor")) {
    if (!idle->is_string()) {
      r.problem("spec.autoscaling.idleFor", "must be a duration string, like \"5m\"");
    } else {
      a.idleFor = r.duration(idle->get<std::string>(), "spec.autoscaling.idleFor");
    }
  }
  if (const Json* b = r.field(*j, "behavior")) a.behavior = *b;
  if (const Json* g = r.field(*j, "scaleDownGuard")) {
    ScaleDownGuard guard;
    guard.whileBurning = r.string(*g, "whileBurning", "spec.autoscaling.scaleDownGuard.whileBurning", true);
    if (!guard.whileBurning.empty())
      r.oneOf(guard.whileBurning, {"page"}, "spec.autoscaling.scaleDownGuard.whileBurning");
    a.scaleDownGuard = guard;
  }
  return a;
}

// The pause annotations. A value that is not understood is a problem, never ignored: a user
// who meant to pause must not find the workload scaling.
std::optional<Pause> readPause(Reader& r, const Json& metadata) {
  const Json* annotations = r.field(metadata, "annotations");
  if (!annotations) return std::nullopt;
  std::optional<Pause> pause;
  const std::string at = std::string("metadata.annotations[") + kPausedReplicasAnnotation + "]";
  if (const Json* v = r.field(*annotations, kPausedReplicasAnnotation)) {
    static const std::regex count(R"(^[0-9]{1,4}$)");
    std::string text = v->is_string() ? v->get<std::string>() : "";
    if (!std::regex_match(text, count) || std::stoi(text) > 1000) {
      r.problem(at, "must be a number of replicas from 0 to 1000, like \"3\"; got \"" + text + "\"");
    } else {
      pause = Pause{std::stoi(text)};
    }
  }
  if (const Json* v = r.field(*annotations, kPausedAnnotation)) {
    std::string text = v->is_string() ? v->get<std::string>() : "";
    if (text != "true" && text != "false") {
      r.problem(std::string("metadata.annotations[") + kPausedAnnotation + "]",
                "must be \"true\" or \"false\"; got \"" + text + "\"");
    } else if (text == "true" && !pause) {
      pause = Pause{};
    }
  }
  return pause;
}

std::optional<Cache> readCache(Reader& r, const Json& spec) {
  const Json* j = r.field(spec, "cache");
  if (!j) return std::nullopt;
  Cache c;
  const std::string p = "spec.cache";
  c.image = r.string(*j, "image", p + ".image", false, c.image);
  if (const Json* m = r.field(*j, "maxMemory")) {
    if (auto q = kube::parseQuantity(m->is_string() ? m->get<std::string>() : m->dump()); !q) {
      r.problem(p + ".maxMemory", q.error().status.message);
    } else if (q->value() <= 0) {
      r.problem(p + ".maxMemory", "must be more than 0");
    } else {
      c.maxMemory = *q;
    }
  }
  c.evictionPolicy = r.string(*j, "evictionPolicy", p + ".evictionPolicy", false, c.evictionPolicy);
  r.oneOf(c.evictionPolicy,
          {"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
           "volatile-ttl"},
          p + ".evictionPolicy");
  c.defaultTTL = r.duration(r.string(*j, "defaultTTL", p + ".defaultTTL", false, "5m"), p + ".defaultTTL");
  auto jitter = r.string(*j, "ttlJitter", p + ".ttlJitter", false, "10%");
  static const std::regex percent(R"(^([0-9]|[1-9][0-9]|100)%$)");
  if (std::regex_match(jitter, percent)) {
    c.ttlJitterPercent = std::stoi(jitter);
  } else {
    r.problem(p + ".ttlJitter", "must be a percentage from 0% to 100%, like \"10%\"; got \"" + jitter + "\"");
  }
  if (r.field(*j, "hitRatioTarget")) c.hitRatioTarget = r.percent(*j, "hitRatioTarget", p + ".hitRatioTarget");
  if (const Json* res = r.field(*j, "resources")) c.resources = *res;
  return c;
}

std::optional<Quota> readQuota(Reader& r, const Json& spec) {
  const Json* j = r.field(spec, "quota");
  if (!j) return std::nullopt;
  Quota q;
  q.hard = r.quantities(*j, "hard", "spec.quota.hard");
  if (const Json* lr = r.field(*j, "limitRange")) {
    q.defaultRequest = r.quantities(*lr, "defaultRequest", "spec.quota.limitRange.defaultRequest");
    q.defaultLimit = r.quantities(*lr, "default", "spec.quota.limitRange.default");
  }
  return q;
}

Alerting readAlerting(Reader& r, const Json& spec) {
  Alerting a;
  const Json* j = r.field(spec, "alerting");
  if (!j) return a;
  const std::string p = "spec.alerting";
  a.labels = r.labels(*j, "labels", p + ".labels");
  static const std::regex labelName(R"(^[a-zA-Z_][a-zA-Z0-9_]*$)");
  for (const auto& [name, value] : a.labels) {
    if (name.size() > 128 || !std::regex_match(name, labelName)) {
      r.problem(p + ".labels",
                "alerting label names must be Prometheus label names of at most 128 characters"
                " (letters, digits and '_', not starting with a digit); got \"" +
                    name + "\"");
    }
  }
  a.runbookURL = r.string(*j, "runbookURL", p + ".runbookURL", false);
  static const std::regex url(R"(^https?://[^/?#\s]+[^\s]*$)", std::regex::icase);
  if (!a.runbookURL.empty() && !std::regex_match(a.runbookURL, url)) {
    r.problem(p + ".runbookURL", "runbookURL must be an absolute http or https URL");
  }
  a.minRequestRate = r.string(*j, "minRequestRate", p + ".minRequestRate", false);
  static const std::regex decimal(R"(^[0-9]+(\.[0-9]+)?$)");
  if (!a.minRequestRate.empty() && !std::regex_match(a.minRequestRate, decimal)) {
    r.problem(p + ".minRequestRate", "must be a decimal number of requests per second, like \"0.5\"");
  }
  for (auto [key, tier] : {std::pair{"page", &a.page}, std::pair{"ticket", &a.ticket}}) {
    if (const Json* t = r.field(*j, key)) {
      tier->severity = r.string(*t, "severity", p + "." + key + ".severity", false, tier->severity);
      tier->enabled = r.boolean(*t, "enabled", p + "." + key + ".enabled", true);
    }
  }
  return a;
}

}  // namespace

std::optional<Percent> parsePercent(const std::string& text) {
  static const std::regex pattern(R"(^([0-9]{1,2})(?:\.([0-9]{1,6}))?$)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern)) return std::nullopt;
  std::string fraction = m[2].str();
  fraction.append(6 - fraction.size(), '0');
  Percent p{std::stoll(m[1].str()) * 1000000 + std::stoll(fraction)};
  if (p.micro <= 0) return std::nullopt;
  return p;
}

std::string Percent::text() const {
  std::string fraction = std::to_string(micro % 1000000);
  fraction.insert(0, 6 - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return std::to_string(micro / 1000000) + (fraction.empty() ? "" : "." + fraction);
}

kube::Quantity defaultCacheMaxMemory() {
  static const kube::Quantity q = kube::parseQuantity("256Mi").value();
  return q;
}

ParseResult parseServiceLevel(const Json& object) {
  Reader r;
  ServiceLevel sl;
  const Json empty = Json::object();
  // Read as the spec is: json::value() would throw on a field of another type.
  const Json* metadata = r.field(object, "metadata");
  if (metadata && !metadata->is_object()) r.problem("metadata", "must be an object");
  const Json& md = metadata && metadata->is_object() ? *metadata : empty;
  sl.name = r.string(md, "name", "metadata.name", false);
  sl.namespaceName = r.string(md, "namespace", "metadata.namespace", false);
  sl.uid = r.string(md, "uid", "metadata.uid", false);
  sl.generation = r.integer(md, "generation", "metadata.generation", false, 0, 0, INT64_MAX);
  if (sl.name.empty()) r.problem("metadata.name", "required");
  const Json* spec = r.field(object, "spec");
  if (!spec || !spec->is_object()) {
    r.problem("spec", "required");
    return {std::nullopt, r.problems};
  }
  sl.workload = readWorkload(r, *spec);
  sl.objectives = readObjectives(r, *spec);
  sl.autoscaling = readAutoscaling(r, *spec);
  sl.paused = readPause(r, md);
  sl.cache = readCache(r, *spec);
  sl.quota = readQuota(r, *spec);
  sl.alerting = readAlerting(r, *spec);
  // The cache's Service and StatefulSet are called NAME-redis: a DNS-1035 label of 63 at most.
  static const std::regex cacheName(R"(^[a-z]([-a-z0-9]*[a-z0-9])?$)");
  if (sl.cache && (sl.name.size() > 46 || !std::regex_match(sl.name, cacheName))) {
    r.problem("metadata.name",
              "with a cache, the name must start with a letter, hold only lower-case letters, digits"
              " and '-', and be at most 46 characters: the cache's Service and StatefulSet are"
              " called NAME-redis");
  }
  if (sl.autoscaling && sl.autoscaling->latency && !(sl.objectives && sl.objectives->latency)) {
    r.problem("spec.autoscaling.latency", "needs objectives.latency: its histogram is where the percentile comes from");
  }
  if (sl.autoscaling && sl.autoscaling->scaleDownGuard && !sl.objectives) {
    r.problem("spec.autoscaling.scaleDownGuard", "needs objectives: their burn-rate alerts are what it waits on");
  }
  if (sl.cache && sl.autoscaling && sl.autoscaling->queue &&
      isCacheAddress(sl.autoscaling->queue->redis.address, sl.name)) {
    r.problem("spec.autoscaling.queue.redis.address", kQueueOnCacheMessage);
  }
  if (!r.problems.empty()) return {std::nullopt, r.problems};
  return {sl, {}};
}

std::string cacheServiceName(const std::string& serviceLevel) { return serviceLevel + "-redis"; }

std::string cacheAddress(const std::string& serviceLevel, const std::string& ns) {
  return cacheServiceName(serviceLevel) + "." + ns + ".svc:" + std::to_string(kCachePort);
}

std::string cacheAddress(const std::string& serviceLevel, const std::string& ns, const std::string& addressTemplate) {
  if (addressTemplate.empty()) return cacheAddress(serviceLevel, ns);
  std::string out;
  for (size_t i = 0; i < addressTemplate.size();) {
    if (addressTemplate.compare(i, 14, "{servicelevel}") == 0) {
      out += serviceLevel;
      i += 14;
    } else if (addressTemplate.compare(i, 11, "{namespace}") == 0) {
      out += ns;
      i += 11;
    } else {
      out += addressTemplate[i++];
    }
  }
  return out;
}

bool isCacheAddress(const std::string& address, const std::string& serviceLevel) {
  std::string lower = address;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string service = cacheServiceName(serviceLevel);
  return lower.starts_with(service + ":") || lower.starts_with(service + ".");
}

Labels childLabels(const ServiceLevel& sl) {
  return {{kManagedByLabel, kManagedByValue}, {kServiceLevelLabel, sl.name}};
}

Json ownerReference(const ServiceLevel& sl) {
  return {{"apiVersion", kApiVersion}, {"kind", kKind}, {"name", sl.name}, {"uid", sl.uid}, {"controller", true},
          {"blockOwnerDeletion", true}};
}

}  // namespace governor::api
