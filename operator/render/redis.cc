// The Redis cache of spec.cache: a one-replica StatefulSet running redis-server in cache
// mode (no persistence, bounded memory, an eviction policy), its Service, the ConfigMap
// with redis.conf, and ConfigMap NAME-cache that tells the application where the cache is
// and how to use it.
#include <cstdint>
#include <cstdio>
#include <string>

#include "kube/duration.h"
#include "kube/quantity.h"
#include "operator/render/render.h"

namespace governor::op {
namespace {

constexpr int kRedisPort = api::kCachePort;
constexpr int64_t kRedisUid = 999;  // the redis user of the official image
constexpr const char* kConfigHashAnnotation = "governor.io/config-hash";

// `bytes` as a canonical quantity in the family the user wrote maxMemory in: 320Mi for a
// BinarySI 256Mi, 1250M for a DecimalSI 1G.
std::string bytesQuantity(int64_t bytes, kube::Quantity::Format format) {
  std::string text = format == kube::Quantity::Format::BinarySI && bytes % 1024 == 0
                         ? std::to_string(bytes / 1024) + "Ki"
                         : std::to_string(bytes);
  auto q = kube::parseQuantity(text);
  return q ? q->canonical() : std::to_string(bytes);
}

Json defaultResources(const Cache& cache) {
  const kube::Quantity& max = cache.maxMemory;
  int64_t bytes = max.value();
  // 1.25x, rounded up to a whole byte; the headroom covers Redis' own overhead beyond maxmemory.
  int64_t limit = bytes + bytes / 4 + (bytes % 4 != 0 ? 1 : 0);
  return {{"requests", {{"memory", max.canonical()}}}, {"limits", {{"memory", bytesQuantity(limit, max.format())}}}};
}

std::string redisName(const ServiceLevel& sl) { return api::cacheServiceName(sl.name); }

// The labels that pick the Redis pod; governor.io/service-level keeps them from matching a
// user's own Redis release that happens to be called NAME-redis.
Json redisSelector(const ServiceLevel& sl) {
  return {{"app.kubernetes.io/name", "redis"},
          {"app.kubernetes.io/instance", redisName(sl)},
          {kServiceLevelLabel, sl.name}};
}

// childMetadata plus the app.kubernetes.io labels of the Redis objects.
Json redisMetadata(const ServiceLevel& sl, const std::string& name) {
  Json md = childMetadata(sl, name);
  md["labels"].update(redisSelector(sl));
  return md;
}

Json podLabels(const ServiceLevel& sl) {
  Json labels = Json::object();
  for (const auto& [k, v] : childLabels(sl)) labels[k] = v;
  labels.update(redisSelector(sl));
  return labels;
}

Json statefulSet(const ServiceLevel& sl, const std::string& conf) {
  const Cache& cache = *sl.cache;
  const std::string name = redisName(sl);
  Json container = {
      {"name", "redis"},
      {"image", cache.image},
      {"command", Json::array({"redis-server"})},
      {"args", Json::array({"/etc/redis/redis.conf"})},
      {"ports", Json::array({{{"name", "redis"}, {"containerPort", kRedisPort}, {"protocol", "TCP"}}})},
      {"readinessProbe",
       {{"exec", {{"command", Json::array({"redis-cli", "ping"})}}},
        {"initialDelaySeconds", 2},
        {"periodSeconds", 5},
        {"timeoutSeconds", 2},
        {"failureThreshold", 3}}},
      {"livenessProbe",
       {{"tcpSocket", {{"port", "redis"}}},
        {"initialDelaySeconds", 10},
        {"periodSeconds", 10},
        {"timeoutSeconds", 2},
        {"failureThreshold", 3}}},
      {"resources", cache.resources.is_null() ? defaultResources(cache) : cache.resources},
      {"securityContext",
       {{"runAsUser", kRedisUid},
        {"runAsGroup", kRedisUid},
        {"runAsNonRoot", true},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"capabilities", {{"drop", Json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts", Json::array({{{"name", "config"}, {"mountPath", "/etc/redis"}, {"readOnly", true}},
                                    {{"name", "data"}, {"mountPath", "/data"}}})},
  };
  Json podSpec = {
      {"automountServiceAccountToken", false},
      {"containers", Json::array({container})},
      {"volumes", Json::array({{{"name", "config"}, {"configMap", {{"name", name}}}},
                               {{"name", "data"}, {"emptyDir", Json::object()}}})},
  };
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", redisMetadata(sl, name)},
          {"spec",
           {{"replicas", 1},
            {"serviceName", name},
            {"selector", {{"matchLabels", redisSelector(sl)}}},
            {"template",
             {{"metadata", {{"labels", podLabels(sl)}, {"annotations", {{kConfigHashAnnotation, fnv1aHex(conf)}}}}},
              {"spec", podSpec}}}}}};
}

Json service(const ServiceLevel& sl) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", redisMetadata(sl, redisName(sl))},
          {"spec",
           {{"type", "ClusterIP"},
            {"selector", redisSelector(sl)},
            {"ports",
             Json::array({{{"name", "redis"}, {"port", kRedisPort}, {"targetPort", "redis"}, {"protocol", "TCP"}}})}}}};
}

Json configMap(Json metadata, Json data) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", std::move(metadata)}, {"data", std::move(data)}};
}

}  // namespace

std::string redisConf(const Cache& cache) {
  std::string conf;
  conf += "# redis.conf written by Governor from the ServiceLevel's spec.cache; edit that, not this.\n";
  conf += "# Cache mode: memory bounded by maxmemory with an eviction policy, no persistence.\n";
  conf += "port " + std::to_string(kRedisPort) + "\n";
  // Every IPv4 address, and IPv6 where the host has it ("-" = skip if unavailable).
  conf += "bind * -::*\n";
  // The pod network is the boundary; there is no password to set.
  conf += "protected-mode no\n";
  conf += "daemonize no\n";
  conf += "maxmemory " + std::to_string(cache.maxMemory.value()) + "\n";
  conf += "maxmemory-policy " + cache.evictionPolicy + "\n";
  conf += "save \"\"\n";
  conf += "appendonly no\n";
  return conf;
}

std::vector<Child> renderCache(const ServiceLevel& sl) {
  if (!sl.cache) return {};
  const Cache& cache = *sl.cache;
  const std::string name = redisName(sl);
  const std::string conf = redisConf(cache);

  const int64_t ttlMillis = cache.defaultTTL.count();
  const int64_t ttlSeconds = ttlMillis / 1000 + (ttlMillis % 1000 != 0 ? 1 : 0);  // never rounds to 0 = no TTL
  Json appData = {{"address", api::cacheAddress(sl.name, sl.namespaceName)},
                  {"defaultTTL", kube::formatDuration(cache.defaultTTL)},
                  {"defaultTTLSeconds", std::to_string(ttlSeconds)},
                  {"ttlJitter", std::to_string(cache.ttlJitterPercent) + "%"}};

  std::vector<Child> out;
  out.push_back(
      Child{ChildGroup::Cache, resources::kConfigMap, configMap(redisMetadata(sl, name), {{"redis.conf", conf}})});
  out.push_back(Child{ChildGroup::Cache, resources::kService, service(sl)});
  out.push_back(Child{ChildGroup::Cache, resources::kStatefulSet, statefulSet(sl, conf)});
  out.push_back(Child{ChildGroup::Cache, resources::kConfigMap,
                      configMap(childMetadata(sl, sl.name + "-cache"), std::move(appData))});
  return out;
}

}  // namespace governor::op
