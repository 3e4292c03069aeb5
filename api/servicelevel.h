// The ServiceLevel API (governor.io/v1alpha1) as C++ values, parsed and validated from
// the object's JSON. docs/servicelevel.md is the user's reference for the same fields.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/quantity.h"
#include "kube/result.h"

namespace governor::api {

using Json = nlohmann::json;
using Labels = std::map<std::string, std::string>;

inline constexpr const char* kGroup = "governor.io";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "governor.io/v1alpha1";
inline constexpr const char* kKind = "ServiceLevel";
inline constexpr const char* kFieldManager = "governor-operator";
// Labels on every child: who manages it and which ServiceLevel it belongs to.
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "governor";
inline constexpr const char* kServiceLevelLabel = "governor.io/service-level";
// The metrics adapter takes a Redis password (spec.autoscaling.queue.redis.passwordSecretRef)
// only from a Secret carrying this label with value "true", and watches only such Secrets: a
// ServiceLevel cannot make it send any other Secret anywhere (docs/metrics-adapter.md).
inline constexpr const char* kRedisCredentialsLabel = "governor.io/redis-credentials";
inline constexpr const char* kRedisCredentialsValue = "true";
// Annotations on a ServiceLevel that pause its scaling (docs/servicelevel.md#pausing):
// "governor.io/paused-replicas: 3" holds the workload at 3 replicas (0 scales it to none),
// "governor.io/paused: true" holds it where it is. Nothing is deleted; removing them resumes.
inline constexpr const char* kPausedReplicasAnnotation = "governor.io/paused-replicas";
inline constexpr const char* kPausedAnnotation = "governor.io/paused";

// A percentage, exactly: the API writes targets as strings of at most six decimals ("99.9",
// as Pyrra's), so no float is ever stored in spec and none is needed here. parsePercent reads
// the API's form; text() gives it back in its shortest spelling ("99.90" -> "99.9").
struct Percent {
  int64_t micro = 0;  // millionths of a percent: 99.9% is 99'900'000; in (0, 100'000'000)

  double value() const { return static_cast<double>(micro) / 1e6; }  // 99.9
  std::string text() const;                                          // "99.9"
  bool operator==(const Percent&) const = default;
};
// "99.9" -> 99.9%: one or two digits with up to six decimals, above 0 and below 100; nullopt
// for anything else ("100", "99.9%", "0", "1e2", "99.1234567").
std::optional<Percent> parsePercent(const std::string& text);

struct Workload {
  std::string kind = "Deployment";  // Deployment | StatefulSet
  std::string name;
};

struct Availability {
  Percent target;
  std::string errorQuery;  // PromQL; "{{.window}}" stands for the range, e.g. [5m]
  std::string totalQuery;
};

struct LatencyObjective {
  std::chrono::milliseconds threshold{0};  // kube::formatDuration gives its text, "200ms"
  Percent target;                          // percent of requests faster than the threshold
  std::string histogram;                   // the _bucket series with its selector
};

struct Objectives {
  std::chrono::milliseconds window{std::chrono::hours(24 * 30)};  // "30d" by kube::formatDuration
  std::optional<Availability> availability;
  std::optional<LatencyObjective> latency;
};

struct SecretKeyRef {
  std::string name;
  std::string key;
};

struct RedisQueue {
  std::string address;  // host:port
  std::string key;
  std::string type = "list";  // list | stream
  std::string consumerGroup;  // required for streams
  int db = 0;
  bool tls = false;
  std::optional<SecretKeyRef> passwordSecretRef;
};

// What the HPA is given while the backlog cannot be measured (KEDA's fallback): after
// `afterFailures` failed polls in a row, a backlog worth `replicas` replicas.
struct QueueFallback {
  int32_t replicas = 0;
  int32_t afterFailures = 3;
};

struct QueueScaling {
  RedisQueue redis;
  int64_t targetPerReplica = 0;  // 0: not set (drainWithin scales instead)
  // Scale so that the backlog drains within this time at the measured processing rate
  // (governor_queue_drain_replicas; docs/metrics-adapter.md has the formula).
  std::optional<std::chrono::milliseconds> drainWithin;
  // A list's arrival or processed counter (a series selector): the adapter reads
  // sum(rate(<it>[window])) from Prometheus. A list with drainWithin needs one of them; the
  // other follows from the change of its length. Streams count both themselves.
  std::string arrivalQuery;
  std::string processedQuery;
  std::optional<QueueFallback> fallback;  // none: a backlog that cannot be measured is an error
};

struct LatencyScaling {
  int percentile = 95;                  // governor_latency_p<percentile>_seconds
  std::chrono::milliseconds target{0};  // "250ms" by kube::formatDuration
};

// A container resource the HPA scales on beside the queue and latency (metrics.k8s.io, as
// metrics-server serves it): exactly one of a percent of the pods' requests or an amount per pod.
struct ResourceTarget {
  std::optional<int32_t> averageUtilization;   // percent of the containers' requests
  std::optional<kube::Quantity> averageValue;  // per pod
};

// Holds the HPA's floor at the workload's replicas while a burn tier's alert condition holds,
// so the workload never scales in while its SLO burns.
struct ScaleDownGuard {
  std::string whileBurning = "page";  // the tier: page
};

struct Autoscaling {
  // 0: the operator scales the workload to none after idleFor with an empty backlog and back
  // to one when a backlog appears (needs a queue); the HPA's own floor is then 1.
  int32_t minReplicas = 1;
  int32_t maxReplicas = 0;
  std::chrono::milliseconds idleFor{std::chrono::minutes(5)};
  std::optional<QueueScaling> queue;
  std::optional<LatencyScaling> latency;
  std::map<std::string, ResourceTarget> resources;  // "cpu", "memory"
  Json behavior;                                    // passed to the HPA as is; null when absent
  std::optional<ScaleDownGuard> scaleDownGuard;     // needs objectives
};

// Scaling paused by annotation: held at `replicas`, or where the workload is when not set.
struct Pause {
  std::optional<int32_t> replicas;
};

// 256Mi, spec.cache.maxMemory when it is not given.
kube::Quantity defaultCacheMaxMemory();

struct Cache {
  std::string image = "redis:7.2";
  kube::Quantity maxMemory = defaultCacheMaxMemory();  // redis maxmemory; canonical() is its text
  std::string evictionPolicy = "allkeys-lru";
  std::chrono::milliseconds defaultTTL{std::chrono::minutes(5)};  // "5m" by kube::formatDuration
  int ttlJitterPercent = 10;
  std::optional<Percent> hitRatioTarget;
  Json resources;  // corev1.ResourceRequirements; null when absent
};

struct Quota {
  std::map<std::string, std::string> hard;  // resource name -> quantity
  std::map<std::string, std::string> defaultRequest;
  std::map<std::string, std::string> defaultLimit;
};

// A tier of burn-rate alerts: page (fast burn) or ticket (slow burn).
struct AlertTier {
  std::string severity;
  bool enabled = true;
};

struct Alerting {
  Labels labels;
  std::string runbookURL;
  // Requests per second below which burn alerts stay silent ("0.5"); empty = no minimum.
  std::string minRequestRate;
  AlertTier page{"critical", true};
  AlertTier ticket{"warning", true};
};

struct ServiceLevel {
  std::string name;
  std::string namespaceName;
  std::string uid;
  int64_t generation = 0;
  Workload workload;
  std::optional<Objectives> objectives;
  std::optional<Autoscaling> autoscaling;
  std::optional<Pause> paused;  // from the annotations; only with autoscaling
  std::optional<Cache> cache;
  std::optional<Quota> quota;
  Alerting alerting;
};

// Reads a ServiceLevel object. Every problem is listed, each naming its field
// ("spec.autoscaling.maxReplicas: must be >= minReplicas (2)"), so the status can say
// all that is wrong at once. The CRD schema rejects most of these first; this keeps
// the operator safe from objects that predate a schema change.
struct ParseResult {
  std::optional<ServiceLevel> serviceLevel;
  std::vector<std::string> problems;
};
ParseResult parseServiceLevel(const Json& object);

// The cache Governor runs for a ServiceLevel with spec.cache: the Service NAME-redis in the
// ServiceLevel's namespace, on kCachePort. The operator names the cache's objects with these
// and the metrics adapter reads the cache's INFO stats at cacheAddress, so both agree.
inline constexpr int kCachePort = 6379;
// "checkout" -> "checkout-redis".
std::string cacheServiceName(const std::string& serviceLevel);
// ("checkout", "shop") -> "checkout-redis.shop.svc:6379".
std::string cacheAddress(const std::string& serviceLevel, const std::string& ns);
// `addressTemplate` with every {servicelevel} and {namespace} replaced, for an adapter that
// must reach caches some other way than through cluster DNS ("127.0.0.1:6390" in a test);
// an empty template gives cacheAddress.
std::string cacheAddress(const std::string& serviceLevel, const std::string& ns, const std::string& addressTemplate);
// Whether a Redis address ("host:port") names the cache of ServiceLevel `serviceLevel`: its host
// is NAME-redis or starts with "NAME-redis." (any case). The CRD's CEL rule says the same.
bool isCacheAddress(const std::string& address, const std::string& serviceLevel);

// The labels every child carries.
Labels childLabels(const ServiceLevel& sl);
// The owner reference every child carries (controller, blockOwnerDeletion).
Json ownerReference(const ServiceLevel& sl);

}  // namespace governor::api
