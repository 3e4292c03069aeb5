// The Redis allowlist (which queue addresses a ServiceLevel may make the adapter connect to)
// and the credentials opt-in (which Secrets may give it a password), as pure decisions and
// through targetsFor: a refused queue is measured without a connection or a Secret read.
#include "metrics-adapter/redis_access.h"

#include <gtest/gtest.h>

#include "metrics-adapter/targets.h"

namespace governor::adapter {
namespace {

using api::Json;

RedisAllowlist allowlist(const std::string& cidrs, const std::string& addresses = "") {
  auto parsed = parseRedisAllowlist(cidrs, addresses);
  EXPECT_TRUE(parsed.ok()) << parsed.error().what();
  return parsed.ok() ? *parsed : RedisAllowlist{};
}

// "" when allowed as written, "-> X" when allowed and connected to as X, else the error.
std::string decide(const std::string& address, const RedisAllowlist& list = {}, const std::string& ns = "shop") {
  auto r = allowedRedisAddress(address, ns, list);
  if (!r) return r.error().what();
  return *r == address ? "" : "-> " + *r;
}

TEST(RedisAllowlistTest, ServicesOfTheServiceLevelsOwnNamespaceAreAllowedByDefault) {
  EXPECT_EQ(decide("redis.shop:6379"), "");
  EXPECT_EQ(decide("redis.shop.svc:6379"), "");
  EXPECT_EQ(decide("redis.shop.svc.cluster.local:6380"), "");
  EXPECT_EQ(decide("Redis.SHOP.svc:6379"), "") << "DNS names are compared in lower case";
  EXPECT_EQ(decide("queue-1.shop:6379"), "");
  // A bare name is looked up in the ServiceLevel's namespace, not in the adapter's.
  EXPECT_EQ(decide("redis:6379"), "-> redis.shop.svc:6379");
  EXPECT_EQ(decide("localhost:6379"), "-> localhost.shop.svc:6379");
}

TEST(RedisAllowlistTest, EverythingElseIsRefusedByDefaultWithoutSayingWhatIsAllowed) {
  const std::string notService =
      "Forbidden: address redis.bank:6379 is not allowed: a host name must be a Service of namespace shop (NAME, "
      "NAME.shop, NAME.shop.svc or NAME.shop.svc.cluster.local) or be one of the adapter's --redis-allowed-addresses";
  EXPECT_EQ(decide("redis.bank:6379"), notService);
  for (const char* refused : {"redis.bank.svc:6379", "redis.bank.svc.cluster.local:6379", "redis.shop.evil.com:6379",
                              "evil.com:6379", "redis.shop.svc.cluster.local.:6379", "redis.shop.svc.other:6379",
                              "redis.shop.pod:6379", "a.redis.shop.svc:6379", "redis..shop:6379", ".shop:6379",
                              "-redis.shop:6379", "1redis.shop:6379", "metadata.google.internal:80",
                              // Numbers that getaddrinfo would take for IPv4 addresses are not Service names.
                              "167772169:6379", "0x0a000009:6379", "10.1:6379", "012.0.0.011:6379"}) {
    EXPECT_NE(decide(refused).find("Forbidden: address "), std::string::npos) << refused;
  }
  EXPECT_EQ(decide("10.0.0.9:6379"),
            "Forbidden: address 10.0.0.9:6379 is not allowed: an IP address must be inside the adapter's "
            "--redis-allowed-cidrs");
  EXPECT_NE(decide("127.0.0.1:6379").find("Forbidden"), std::string::npos);
  EXPECT_NE(decide("[::1]:6379").find("Forbidden"), std::string::npos);
  EXPECT_NE(decide("[fe80::1%lo]:6379").find("Forbidden"), std::string::npos);
  EXPECT_EQ(decide("redis:port"), "Invalid: address \"redis:port\" is not host:port");
}

TEST(RedisAllowlistTest, IpAddressesInsideTheCidrsAreAllowed) {
  auto list = allowlist("10.200.0.0/16, fd00::/8,192.168.1.7");
  EXPECT_EQ(decide("10.200.0.1:6379", list), "");
  EXPECT_EQ(decide("10.200.255.255:6390", list), "");
  EXPECT_EQ(decide("[fd12::3]:6379", list), "");
  EXPECT_EQ(decide("192.168.1.7:6379", list), "");
  EXPECT_EQ(decide("[::ffff:10.200.3.4]:6379", list), "") << "an IPv4-mapped IPv6 address is its IPv4 address";
  for (const char* refused : {"10.201.0.1:6379", "10.199.255.255:6379", "192.168.1.8:6379", "[fe00::1]:6379",
                              "[::ffff:10.0.0.9]:6379", "127.0.0.1:6379", "redis.bank:6379"}) {
    EXPECT_NE(decide(refused, list).find("Forbidden"), std::string::npos) << refused;
  }
  // Host bits in a CIDR do not count; odd prefixes cut inside a byte.
  EXPECT_EQ(decide("10.200.0.9:1", allowlist("10.200.0.1/16")), "");
  auto odd = allowlist("10.0.0.0/9");
  EXPECT_EQ(decide("10.127.0.1:6379", odd), "");
  EXPECT_NE(decide("10.128.0.1:6379", odd).find("Forbidden"), std::string::npos);
  EXPECT_EQ(decide("8.8.8.8:6379", allowlist("0.0.0.0/0")), "");
  EXPECT_NE(decide("[2001:db8::1]:6379", allowlist("0.0.0.0/0")).find("Forbidden"), std::string::npos);
}

TEST(RedisAllowlistTest, AllowedAddressesMatchExactly) {
  auto list = allowlist("", "redis.queues.svc:6379,Shared.Example.com:6380");
  EXPECT_EQ(decide("redis.queues.svc:6379", list), "");
  EXPECT_EQ(decide("REDIS.queues.svc:6379", list), "");
  EXPECT_EQ(decide("shared.example.com:6380", list), "");
  EXPECT_NE(decide("redis.queues.svc:6380", list).find("Forbidden"), std::string::npos) << "another port";
  EXPECT_NE(decide("redis.queues:6379", list).find("Forbidden"), std::string::npos) << "another spelling";
  EXPECT_NE(decide("x.shared.example.com:6380", list).find("Forbidden"), std::string::npos);
}

TEST(RedisAllowlistTest, BadFlagsAreRefusedNamingTheEntry) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "redis.shop", "10.1/8", "fd00::/129", "/8"}) {
    auto r = parseRedisAllowlist(bad, "");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().status.message,
              "\"" + std::string(bad) + "\" is not a CIDR (10.200.0.0/16, fd00::/8) or an IP address");
  }
  auto r = parseRedisAllowlist("", "redis.queues.svc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status.message, "\"redis.queues.svc\" is not host:port");
  EXPECT_TRUE(parseRedisAllowlist("", "").ok());
}

Json secret(const Json& labels, const Json& data = {{"password", "aHVudGVyMg=="}}) {
  return {{"metadata", {{"name", "creds"}, {"namespace", "shop"}, {"labels", labels}}}, {"data", data}};
}

TEST(RedisCredentialsTest, OnlyASecretLabelledForRedisGivesAPassword) {
  const api::SecretKeyRef ref{"creds", "password"};
  auto ok = redisPassword(secret({{"governor.io/redis-credentials", "true"}}), "shop", ref);
  ASSERT_TRUE(ok.ok()) << ok.error().what();
  EXPECT_EQ(*ok, "hunter2");

  const std::string howTo =
      "the metrics adapter reads Redis passwords only from Secrets labelled "
      "governor.io/redis-credentials=true (kubectl label secret -n shop creds "
      "governor.io/redis-credentials=true)";
  // What the informer (which holds labelled Secrets only) gives for an unlabelled or missing one.
  auto unseen = redisPassword(std::nullopt, "shop", ref);
  ASSERT_FALSE(unseen.ok());
  EXPECT_EQ(unseen.error().what(),
            "Forbidden: Secret shop/creds is missing or lacks the label governor.io/redis-credentials=true: " + howTo);
  for (const Json& labels : {Json::object(), Json{{"governor.io/redis-credentials", "false"}},
                             Json{{"governor.io/redis-credentials", true}}, Json{{"app", "redis"}}}) {
    auto refused = redisPassword(secret(labels), "shop", ref);
    ASSERT_FALSE(refused.ok()) << labels;
    EXPECT_EQ(refused.error().what(),
              "Forbidden: Secret shop/creds lacks the label governor.io/redis-credentials=true: " + howTo);
    EXPECT_EQ(refused.error().what().find("hunter2"), std::string::npos);
  }
  auto noKey = redisPassword(secret({{"governor.io/redis-credentials", "true"}}), "shop", {"creds", "user"});
  ASSERT_FALSE(noKey.ok());
  EXPECT_EQ(noKey.error().status.message, "Secret shop/creds has no key user");
}

// ---- through targetsFor ------------------------------------------------------------------

api::ServiceLevel withQueue(const std::string& address, std::optional<api::SecretKeyRef> ref = std::nullopt) {
  api::ServiceLevel sl{.name = "worker", .namespaceName = "shop"};
  api::QueueScaling q;
  q.redis.address = address;
  q.redis.key = "jobs";
  q.redis.passwordSecretRef = ref;
  q.targetPerReplica = 10;
  sl.autoscaling = api::Autoscaling{.maxReplicas = 3, .queue = q};
  return sl;
}

struct Measured {
  kube::Result<double> result;
  int secretReads = 0;
  size_t connections = 0;
};

// What targets measure with (nothing listens for Prometheus), counting the Secret's reads.
struct Measuring {
  explicit Measuring(std::optional<Json> secret) : secretObject(std::move(secret)) {}
  std::vector<MetricTarget> targets(const api::ServiceLevel& sl, const TargetOptions& options) {
    SecretReader secrets = [this](const std::string& ns, const api::SecretKeyRef& ref) {
      ++reads;
      return redisPassword(secretObject, ns, ref);
    };
    return targetsFor(sl, Sources{redis, prometheus, caches, drains, secrets, {}}, options);
  }
  std::optional<Json> secretObject;
  RedisSource redis{{.timeout = std::chrono::milliseconds(300)}};
  kube::PrometheusClient prometheus{"http://127.0.0.1:1", std::chrono::milliseconds(100)};
  prometheus::Registry registry;
  CacheStats caches{registry};
  DrainEstimator drains;
  int reads = 0;
};

Measured measure(const api::ServiceLevel& sl, const TargetOptions& options, const std::optional<Json>& secretObject) {
  Measuring m(secretObject);
  auto targets = m.targets(sl, options);
  EXPECT_EQ(targets.size(), 1u);
  auto result = targets.at(0).measure();
  return {result, m.reads, m.redis.openConnections()};
}

TEST(RedisAccessTargetsTest, ARefusedAddressIsAnErrorWithoutAConnectionOrASecretRead) {
  auto m = measure(withQueue("10.0.0.9:6379", api::SecretKeyRef{"creds", "password"}), {},
                   secret({{"governor.io/redis-credentials", "true"}}));
  ASSERT_FALSE(m.result.ok());
  EXPECT_EQ(m.result.error().what(),
            "redis 10.0.0.9:6379 key jobs: Forbidden: address 10.0.0.9:6379 is not allowed: an IP address must be "
            "inside the adapter's --redis-allowed-cidrs");
  EXPECT_EQ(m.secretReads, 0);
  EXPECT_EQ(m.connections, 0u);
}

TEST(RedisAccessTargetsTest, AnUnlabelledSecretIsAnErrorWithoutAConnection) {
  TargetOptions options;
  options.redisAllowlist = allowlist("127.0.0.0/8");
  auto m = measure(withQueue("127.0.0.1:1", api::SecretKeyRef{"creds", "password"}), options, secret(Json::object()));
  ASSERT_FALSE(m.result.ok());
  EXPECT_EQ(
      m.result.error().what(),
      "redis 127.0.0.1:1 key jobs: Forbidden: Secret shop/creds lacks the label "
      "governor.io/redis-credentials=true: the metrics adapter reads Redis passwords only from Secrets labelled "
      "governor.io/redis-credentials=true (kubectl label secret -n shop creds governor.io/redis-credentials=true)");
  EXPECT_EQ(m.secretReads, 1);
  EXPECT_EQ(m.connections, 0u);

  // Allowed and labelled: only now is a connection tried (nothing listens on port 1).
  auto labelled = measure(withQueue("127.0.0.1:1", api::SecretKeyRef{"creds", "password"}), options,
                          secret({{"governor.io/redis-credentials", "true"}}));
  ASSERT_FALSE(labelled.result.ok());
  EXPECT_EQ(labelled.result.error().what(), "redis 127.0.0.1:1 key jobs: Unavailable: connection refused");
}

// The backlog and the drain-time target of a queue share one reading per poll: its Secret is
// read once, and both serve that reading's error (nothing listens on port 1).
TEST(RedisAccessTargetsTest, TheBacklogAndTheDrainTimeTargetShareOneReading) {
  api::ServiceLevel sl = withQueue("127.0.0.1:1", api::SecretKeyRef{"creds", "password"});
  sl.autoscaling->queue->drainWithin = std::chrono::seconds(30);
  sl.autoscaling->queue->arrivalQuery = "jobs_pushed_total";
  TargetOptions options;
  options.redisAllowlist = allowlist("127.0.0.0/8");
  Measuring m(secret({{"governor.io/redis-credentials", "true"}}));
  auto targets = m.targets(sl, options);
  ASSERT_EQ(targets.size(), 2u);
  auto backlog = targets[0].measure();
  auto drain = targets[1].measure();
  ASSERT_FALSE(backlog.ok());
  ASSERT_FALSE(drain.ok());
  EXPECT_EQ(backlog.error().what(), "redis 127.0.0.1:1 key jobs: Unavailable: connection refused");
  EXPECT_EQ(drain.error().what(), backlog.error().what());
  EXPECT_EQ(m.reads, 1);
}

}  // namespace
}  // namespace governor::adapter
