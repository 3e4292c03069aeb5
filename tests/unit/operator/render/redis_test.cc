// renderCache and redisConf: the Redis StatefulSet, Service and ConfigMaps users see for
// spec.cache. tests/integration/redis_conf_test.cc runs a real redis-server on redisConf().
#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "operator/render/render.h"
#include "sample.h"

namespace governor::op {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The value of the last `directive` line of a redis.conf (the one redis-server uses).
std::string directive(const std::string& conf, const std::string& name) {
  std::string value = "<missing>";
  for (const auto& line : lines(conf)) {
    if (line.rfind(name + " ", 0) == 0) value = line.substr(name.size() + 1);
  }
  return value;
}

const Json* find(const std::vector<Child>& children, const std::string& kind, const std::string& name) {
  for (const auto& c : children) {
    if (c.object["kind"] == kind && c.object["metadata"]["name"] == name) return &c.object;
  }
  ADD_FAILURE() << "no " << kind << " " << name;
  return nullptr;
}

Json podTemplate(const ServiceLevel& sl) {
  const auto children = renderCache(sl);
  const Json* sts = find(children, "StatefulSet", sl.name + "-redis");
  return sts ? (*sts)["spec"]["template"] : Json();
}

TEST(RedisConfTest, IsACacheWithoutPersistence) {
  const std::string conf = redisConf(cache("256Mi", "allkeys-lfu"));
  EXPECT_EQ(conf.rfind("# ", 0), 0u) << "starts with a comment header";
  EXPECT_EQ(directive(conf, "port"), "6379");
  EXPECT_EQ(directive(conf, "bind"), "* -::*");
  EXPECT_EQ(directive(conf, "protected-mode"), "no");
  EXPECT_EQ(directive(conf, "maxmemory"), "268435456");
  EXPECT_EQ(directive(conf, "maxmemory-policy"), "allkeys-lfu");
  EXPECT_EQ(directive(conf, "save"), "\"\"");
  EXPECT_EQ(directive(conf, "appendonly"), "no");
  EXPECT_EQ(conf.back(), '\n');
  // Every line is a comment or `directive argument...`: nothing redis-server would reject
  // as an empty or malformed line.
  for (const auto& line : lines(conf)) {
    EXPECT_TRUE(std::regex_match(line, std::regex(R"(# .*|[a-z-]+ \S.*)"))) << line;
  }
  EXPECT_EQ(conf, redisConf(cache("256Mi", "allkeys-lfu"))) << "deterministic";
}

TEST(RedisConfTest, MaxMemoryAndDefaultResourcesFollowTheQuantity) {
  struct Case {
    std::string maxMemory;
    std::string bytes;
    std::string request;
    std::string limit;  // 1.25x
  };
  const Case cases[] = {
      {"256Mi", "268435456", "256Mi", "320Mi"}, {"1.5Gi", "1610612736", "1536Mi", "1920Mi"},
      {"100Mi", "104857600", "100Mi", "125Mi"}, {"1Gi", "1073741824", "1Gi", "1280Mi"},
      {"1G", "1000000000", "1G", "1250M"},      {"100M", "100000000", "100M", "125M"},
      {"1Ki", "1024", "1Ki", "1280"},           {"1001", "1001", "1001", "1252"},  // rounded up to a whole byte
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.maxMemory);
    ServiceLevel sl = checkout();
    sl.cache = cache(c.maxMemory);
    EXPECT_EQ(directive(redisConf(*sl.cache), "maxmemory"), c.bytes);
    Json resources = podTemplate(sl)["spec"]["containers"][0]["resources"];
    EXPECT_EQ(resources, (Json{{"requests", {{"memory", c.request}}}, {"limits", {{"memory", c.limit}}}}));
  }
}

TEST(RedisConfTest, ADefaultCacheHasTheDefaultMaxMemory) {
  Cache c;  // as a default-constructed Cache: maxMemory 256Mi, spec.cache.maxMemory's default
  EXPECT_EQ(directive(redisConf(c), "maxmemory"), "268435456");
  EXPECT_EQ(directive(redisConf(c), "maxmemory-policy"), "allkeys-lru");
}

TEST(RenderCacheTest, NothingWithoutCache) { EXPECT_TRUE(renderCache(checkout()).empty()); }

TEST(RenderCacheTest, MakesFourChildrenInTheCacheGroup) {
  ServiceLevel sl = checkout();
  sl.cache = cache();
  auto children = renderCache(sl);
  ASSERT_EQ(children.size(), 4u);
  std::vector<std::string> seen;
  for (const auto& c : children) {
    EXPECT_EQ(c.group, ChildGroup::Cache);
    const Json& o = c.object;
    seen.push_back(o["kind"].get<std::string>() + " " + o["metadata"]["name"].get<std::string>());
    EXPECT_EQ(c.resource.apiVersion(), o["apiVersion"]) << seen.back();
    EXPECT_EQ(o["metadata"]["namespace"], "shop") << seen.back();
    EXPECT_EQ(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "governor") << seen.back();
    EXPECT_EQ(o["metadata"]["labels"]["governor.io/service-level"], "checkout") << seen.back();
    ASSERT_EQ(o["metadata"]["ownerReferences"].size(), 1u) << seen.back();
    EXPECT_EQ(o["metadata"]["ownerReferences"][0]["uid"], "0b6f3c1e-uid") << seen.back();
    EXPECT_EQ(o["metadata"]["ownerReferences"][0]["controller"], true) << seen.back();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ConfigMap checkout-redis", "Service checkout-redis",
                                            "StatefulSet checkout-redis", "ConfigMap checkout-cache"}));
  EXPECT_EQ(children[0].resource.plural, "configmaps");
  EXPECT_EQ(children[1].resource.plural, "services");
  EXPECT_EQ(children[2].resource.plural, "statefulsets");
  EXPECT_EQ(children[3].resource.plural, "configmaps");
}

TEST(RenderCacheTest, StatefulSetRunsRedisLockedDown) {
  ServiceLevel sl = checkout();
  sl.cache = cache();
  sl.cache->image = "registry.example/redis:7.2.4";
  auto children = renderCache(sl);
  const Json* sts = find(children, "StatefulSet", "checkout-redis");
  ASSERT_TRUE(sts);
  const Json selector = Json::parse(R"({"app.kubernetes.io/name": "redis",
    "app.kubernetes.io/instance": "checkout-redis", "governor.io/service-level": "checkout"})");
  const Json& spec = (*sts)["spec"];
  EXPECT_EQ((*sts)["apiVersion"], "apps/v1");
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["serviceName"], "checkout-redis");
  EXPECT_EQ(spec["selector"], (Json{{"matchLabels", selector}}));
  for (const Json* labels : {&(*sts)["metadata"]["labels"], &spec["template"]["metadata"]["labels"]}) {
    for (const auto& [k, v] : selector.items()) EXPECT_EQ((*labels)[k], v) << k;
    EXPECT_EQ((*labels)["app.kubernetes.io/managed-by"], "governor");
  }

  const Json& pod = spec["template"]["spec"];
  ASSERT_EQ(pod["containers"].size(), 1u);
  const Json& redis = pod["containers"][0];
  EXPECT_EQ(redis["name"], "redis");
  EXPECT_EQ(redis["image"], "registry.example/redis:7.2.4");
  EXPECT_EQ(redis["command"], Json::array({"redis-server"}));
  EXPECT_EQ(redis["args"], Json::array({"/etc/redis/redis.conf"}));
  EXPECT_EQ(redis["ports"], Json::parse(R"([{"name": "redis", "containerPort": 6379, "protocol": "TCP"}])"));
  EXPECT_EQ(redis["readinessProbe"]["exec"]["command"], Json::parse(R"(["redis-cli", "ping"])"));
  EXPECT_EQ(redis["livenessProbe"]["tcpSocket"]["port"], "redis");
  const Json& security = redis["securityContext"];
  EXPECT_EQ(security["runAsUser"], 999);
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["capabilities"]["drop"], Json::array({"ALL"}));
  EXPECT_EQ(redis["volumeMounts"], Json::parse(R"([
    {"name": "config", "mountPath": "/etc/redis", "readOnly": true},
    {"name": "data", "mountPath": "/data"}])"));
  EXPECT_EQ(pod["volumes"], Json::parse(R"([
    {"name": "config", "configMap": {"name": "checkout-redis"}},
    {"name": "data", "emptyDir": {}}])"));

  const Json* service = find(children, "Service", "checkout-redis");
  ASSERT_TRUE(service);
  EXPECT_EQ(
      (*service)["spec"],
      (Json{{"type", "ClusterIP"}, {"selector", selector}, {"ports", Json::parse(R"([{"name": "redis", "port": 6379,
                                         "targetPort": "redis", "protocol": "TCP"}])")}}));
}

TEST(RenderCacheTest, ConfigMapsCarryRedisConfAndTheApplicationsSettings) {
  struct Case {
    std::string ttlText;
    milliseconds ttl;
    int jitter;
    std::string seconds;
    std::string jitterText;
  };
  const Case cases[] = {
      {"5m", milliseconds(300000), 10, "300", "10%"},
      {"1h", milliseconds(3600000), 0, "3600", "0%"},
      {"1s500ms", milliseconds(1500), 100, "2", "100%"},  // rounded up: 0 would mean no TTL
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ttlText);
    ServiceLevel sl = checkout();
    sl.cache = cache("100Mi", "volatile-ttl");
    sl.cache->defaultTTL = c.ttl;
    sl.cache->ttlJitterPercent = c.jitter;
    auto children = renderCache(sl);

    const Json* conf = find(children, "ConfigMap", "checkout-redis");
    ASSERT_TRUE(conf);
    EXPECT_EQ((*conf)["data"], (Json{{"redis.conf", redisConf(*sl.cache)}}));

    const Json* app = find(children, "ConfigMap", "checkout-cache");
    ASSERT_TRUE(app);
    EXPECT_EQ((*app)["data"], (Json{{"address", "checkout-redis.shop.svc:6379"},
                                    {"defaultTTL", c.ttlText},
                                    {"defaultTTLSeconds", c.seconds},
                                    {"ttlJitter", c.jitterText}}));
  }
}

TEST(RenderCacheTest, CustomResourcesAreUsedAsGiven) {
  ServiceLevel sl = checkout();
  sl.cache = cache("1Gi");
  sl.cache->resources = Json::parse(R"({"requests": {"cpu": "250m", "memory": "1200Mi"},
                                        "limits": {"memory": "2Gi"}})");
  EXPECT_EQ(podTemplate(sl)["spec"]["containers"][0]["resources"], sl.cache->resources);
}

TEST(RenderCacheTest, ConfigHashIsStableAndFollowsTheConfig) {
  auto hash = [](const std::string& maxMemory, const std::string& policy) {
    ServiceLevel sl = checkout();
    sl.cache = cache(maxMemory, policy);
    return podTemplate(sl)["metadata"]["annotations"]["governor.io/config-hash"].get<std::string>();
  };
  const std::string base = hash("256Mi", "allkeys-lru");
  EXPECT_TRUE(std::regex_match(base, std::regex("[0-9a-f]{16}"))) << base;
  EXPECT_EQ(hash("256Mi", "allkeys-lru"), base);
  EXPECT_NE(hash("256Mi", "allkeys-lfu"), base);
  EXPECT_NE(hash("512Mi", "allkeys-lru"), base);

  // Settings outside redis.conf do not restart the pod.
  ServiceLevel sl = checkout();
  sl.cache = cache("256Mi", "allkeys-lru");
  sl.cache->defaultTTL = milliseconds(3600000);
  EXPECT_EQ(podTemplate(sl)["metadata"]["annotations"]["governor.io/config-hash"], base);
}

}  // namespace
}  // namespace governor::op
