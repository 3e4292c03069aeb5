// End to end, as users run Governor: governor-operator and governor-metrics-adapter as
// processes in the test cluster's network namespace (with its node: the scaled
// Deployments' pods run there, from the image governor/redis:dev), each with a token of the chart's
// ServiceAccount and nothing but the chart's RBAC, a real redis-server and a real
// Prometheus, the adapter registered with the kube-apiserver's aggregation layer through
// tests/e2e/adapter-apiservice.yaml.in, and kube-controller-manager's HPA (1 s sync)
// scaling Deployments on what the adapter serves. Queue backlog from a list and from a
// stream's consumer group scales a workload up and back down; the external and custom
// metrics read through the aggregator have the values their sources imply; a Redis outage
// is reported (by the API and in the HPA's conditions) and healed without restarting
// anything.
//
// Run through ctest (`ctest -R e2e.scaling`), or by hand inside the cluster:
//   tests/cluster/exec build/tests/e2e_scaling_tests
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapter_setup.h"
#include "cluster.h"
#include "kube/client.h"
#include "kube/quantity.h"
#include "kube/yaml.h"

namespace governor::testing {
namespace {

namespace fs = std::filesystem;
using kube::Json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Every server of this test listens on kAddress (adapter_setup.h), inside the cluster's network
// namespace a local, non-loopback address that the aggregator accepts as an endpoint.
constexpr const char* kAdapterPort = "8443";
constexpr const char* kRedisAddress = "10.200.0.1:6379";
constexpr const char* kPrometheusUrl = "http://10.200.0.1:9090";
const std::string kRedisCli = "redis-cli -h 10.200.0.1 -p 6379 ";
const std::string kOperatorHealth = "127.0.0.1:18181";

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string which(const std::string& program) {
  auto r = run("command -v " + program);
  std::string path = r.output.substr(0, r.output.find('\n'));
  return r.status == 0 ? path : "";
}

// `kubectl get --raw PATH`: as a user (and, bar the client, as the HPA) reads a metric.
struct Raw {
  int status = -1;
  std::string output;
  Json json;  // null unless the output parses
};
Raw getRaw(const std::string& path) {
  auto r = run("kubectl get --raw " + quote(path));
  Raw out{r.status, r.output, Json()};
  if (r.status == 0) out.json = Json::parse(r.output, nullptr, false);
  if (out.json.is_discarded()) out.json = Json();
  return out;
}

// A quantity string ("812500u", "1500m", "37") as a number.
std::optional<double> quantityValue(const Json& value) {
  if (!value.is_string()) return std::nullopt;
  auto q = kube::parseQuantity(value.get<std::string>());
  if (!q) return std::nullopt;
  return q->asDouble();
}

// --- the latency histogram the test serves to Prometheus -----------------------------

struct Bucket {
  const char* le;
  double bound;  // +Inf for the last
  double count;  // cumulative, per scrape-count unit
};
// Every scrape multiplies all counts by the same n, so every rate() keeps these ratios and
// the quantile does not depend on when Prometheus scraped.
const std::vector<Bucket> kBuckets = {{"0.1", 0.1, 50},
                                      {"0.25", 0.25, 80},
                                      {"0.5", 0.5, 90},
                                      {"1", 1, 98},
                                      {"+Inf", std::numeric_limits<double>::infinity(), 100}};
constexpr double kSumPerUnit = 31.5;

// histogram_quantile's rule, written out independently: rank = q × total count; the first
// bucket whose cumulative count reaches the rank; linear interpolation between its lower bound
// (the previous le, 0 for the first) and its le; in the +Inf bucket, the highest finite le.
double expectedQuantile(double q) {
  const double rank = q * kBuckets.back().count;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (kBuckets[i].count < rank) continue;
    if (std::isinf(kBuckets[i].bound)) return kBuckets[i - 1].bound;
    const double lower = i == 0 ? 0 : kBuckets[i - 1].bound;
    const double below = i == 0 ? 0 : kBuckets[i - 1].count;
    return lower + (kBuckets[i].bound - lower) * (rank - below) / (kBuckets[i].count - below);
  }
  return std::nan("");
}

// test_request_duration_seconds on 10.200.0.1:<any port>, served from this process.
class Exporter {
 public:
  Exporter() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      const double n = static_cast<double>(++scrapes_);
      std::ostringstream out;
      out << "# HELP test_request_duration_seconds Request latency.\n"
          << "# TYPE test_request_duration_seconds histogram\n";
      for (const auto& b : kBuckets) {
        out << "test_request_duration_seconds_bucket{le=\"" << b.le << "\"} " << b.count * n << "\n";
      }
      out << "test_request_duration_seconds_sum " << kSumPerUnit * n << "\n"
          << "test_request_duration_seconds_count " << kBuckets.back().count * n << "\n"
          << "# TYPE test_jobs_pushed_total counter\n"
          << "test_jobs_pushed_total " << pushed_ << "\n";
      res.set_content(out.str(), "text/plain; version=0.0.4");
    });
    port_ = server_.bind_to_any_port(kAddress);
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Exporter() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  int scrapes() const { return scrapes_; }
  // test_jobs_pushed_total: what Producer pushed, the arrivalQuery of the drain-time test.
  void pushed(long n) { pushed_ += n; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<int> scrapes_{0};
  std::atomic<long> pushed_{0};
};

// Pushes entries onto a list at a rate that can change while it runs, every 100 ms, and counts
// them in the exporter's test_jobs_pushed_total.
class Producer {
 public:
  Producer(const std::string& key, Exporter& exporter)
      : thread_([this, key, &exporter](std::stop_token stop) {
          double owed = 0;
          while (!stop.stop_requested()) {
            std::this_thread::sleep_for(100ms);
            owed += perSecond_.load() / 10;
            const long n = static_cast<long>(owed);
            if (n == 0) continue;
            owed -= static_cast<double>(n);
            std::string push = kRedisCli + "RPUSH " + key;
            for (long i = 0; i < n; ++i) push += " job";
            if (run(push).status == 0) exporter.pushed(n);
          }
        }) {}
  void rate(double perSecond) { perSecond_ = perSecond; }

 private:
  std::atomic<double> perSecond_{0};
  std::jthread thread_;
};

// --- objects -------------------------------------------------------------------------

Json queue(const std::string& key, const std::string& group = "") {
  Json redis = {{"address", kRedisAddress}, {"key", key}};
  if (!group.empty()) {
    redis["type"] = "stream";
    redis["consumerGroup"] = group;
  }
  return {{"redis", redis}, {"targetPerReplica", 10}};
}

// A ServiceLevel on Deployment `name` scaling 1..10; `autoscaling` adds to that.
Json serviceLevel(const std::string& name, Json autoscaling, Json objectives = nullptr) {
  autoscaling["minReplicas"] = 1;
  autoscaling["maxReplicas"] = 10;
  autoscaling["behavior"] = {{"scaleDown", {{"stabilizationWindowSeconds", 0}}}};
  Json sl = {{"apiVersion", "governor.io/v1alpha1"},
             {"kind", "ServiceLevel"},
             {"metadata", {{"name", name}}},
             {"spec", {{"workload", {{"name", name}}}, {"autoscaling", autoscaling}}}};
  if (!objectives.is_null()) sl["spec"]["objectives"] = objectives;
  return sl;
}

// --- the suite -------------------------------------------------------------------------

class ScalingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* kubeconfig = std::getenv("KUBECONFIG");
    const char* clusterDir = std::getenv("GOVERNOR_CLUSTER_DIR");
    ASSERT_TRUE(kubeconfig && clusterDir)
        << "KUBECONFIG and GOVERNOR_CLUSTER_DIR are unset: run through ctest or tests/cluster/exec";
    char dirTemplate[] = "/tmp/governor-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dirTemplate), nullptr);
    tmp_ = dirTemplate;
    const std::string logs = std::string(GOVERNOR_BINARY_DIR) + "/";

    auto cert = writeAdapterServingCert(tmp_, kAddress);
    ASSERT_EQ(cert.status, 0) << cert.output;

    // The CRD first: the adapter is ready once it has listed the ServiceLevels.
    auto crd = applyServiceLevelCrd();
    ASSERT_EQ(crd.status, 0) << crd.output;

    redisServer_ = which("redis-server");
    ASSERT_FALSE(redisServer_.empty()) << "redis-server is not installed (scripts/install-deps)";
    ASSERT_TRUE(startRedis()) << tail(logs + "e2e-redis.log");

    // Prometheus on 10.200.0.1:9090 (the adapter's --prometheus-url), scraping this
    // process' exporter every second.
    const std::string prometheusBinary = "/usr/bin/prometheus";
    ASSERT_TRUE(fs::exists(prometheusBinary)) << "prometheus is not installed (scripts/install-deps)";
    exporter_ = new Exporter();
    ASSERT_GT(exporter_->port(), 0) << "cannot listen on " << kAddress;
    std::ofstream(tmp_ + "/prometheus.yml") << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                               "scrape_configs:\n"
                                               "  - job_name: e2e\n"
                                               "    static_configs: [{targets: ['"
                                            << kAddress << ":" << exporter_->port() << "']}]\n";
    ASSERT_TRUE(startPrometheus()) << tail(prometheus_->logFile());

    // Both binaries run as the chart's ServiceAccounts, with exactly the chart's RBAC.
    auto rbac = applyChartRbac();
    ASSERT_EQ(rbac.status, 0) << rbac.output;
    for (const char* sa : {"governor-metrics-adapter", "governor-operator"}) {
      auto made = writeServiceAccountKubeconfig(tmp_, sa);
      ASSERT_EQ(made.status, 0) << made.output;
    }
    adapterKubeconfig_ = tmp_ + "/governor-metrics-adapter.kubeconfig";
    operatorKubeconfig_ = tmp_ + "/governor-operator.kubeconfig";

    adapter_ = new BackgroundProcess(
        {GOVERNOR_ADAPTER_BINARY, "--kubeconfig", adapterKubeconfig_, "--bind-address", kAddress, "--secure-port",
         kAdapterPort, "--tls-cert-file", tmp_ + "/adapter.crt", "--tls-private-key-file", tmp_ + "/adapter.key",
         "--poll-interval", "1s", "--prometheus-url", kPrometheusUrl, "--log-format", "text",
         // Every ServiceLevel's cache is the redis-server that CacheHitRatioIsMeasuredAndShownInStatus
         // starts on 6382.
         "--cache-address-template", "10.200.0.1:6382",
         // The queues' redis-servers (10.200.0.1:6379/6380/6381) are no Service of the
         // ServiceLevel's namespace: the allowlist must name them.
         "--redis-allowed-cidrs", "10.200.0.1/32",
         // The exporter's series come from a static target, without the namespace label that
         // Kubernetes service discovery gives: read them as written (a single-tenant set-up).
         "--prometheus-namespace-scope=false",
         // Producer's rate shows fully in Prometheus within 3 s (1 s scrapes).
         "--queue-rate-window", "3s"},
        logs + "e2e-adapter.log");
    ASSERT_TRUE(eventually([] {
      return run(std::string("curl -sfk https://") + kAddress + ":" + kAdapterPort + "/readyz").status == 0;
    })) << "the adapter did not become ready:\n"
        << tail(adapter_->logFile());

    operator_ = new BackgroundProcess(
        {GOVERNOR_OPERATOR_BINARY, "--kubeconfig", operatorKubeconfig_, "--leader-elect", "--leader-election-namespace",
         "governor", "--metrics-bind-address", "127.0.0.1:18180", "--health-probe-bind-address", kOperatorHealth,
         "--status-refresh-period", "1", "--log-format", "text"},
        logs + "e2e-operator.log");

    auto registered = registerAdapter(tmp_, kAddress, std::stoi(kAdapterPort));
    ASSERT_EQ(registered.status, 0) << registered.output << run("kubectl get apiservice -o yaml | tail -40").output
                                    << tail(adapter_->logFile());

    ASSERT_TRUE(eventually([] { return run("curl -sf http://" + kOperatorHealth + "/readyz").status == 0; }))
        << "the operator did not become ready:\n"
        << tail(operator_->logFile());
    ready_ = true;
  }

  static void TearDownTestSuite() {
    unregisterAdapter();
    if (operator_) {
      EXPECT_EQ(operator_->stop(), 0) << "the operator must stop cleanly on SIGTERM";
    }
    if (adapter_) {
      EXPECT_EQ(adapter_->stop(), 0) << "the adapter must stop cleanly on SIGTERM";
    }
    delete operator_;
    delete adapter_;
    delete prometheus_;
    delete exporter_;
    delete redis_;
    operator_ = adapter_ = prometheus_ = redis_ = nullptr;
    exporter_ = nullptr;
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  // redis-server on 10.200.0.1:6379, as the smoke test runs it: no persistence, so a
  // restart starts empty; protected mode off, as clients come from a non-loopback address.
  static bool startRedis() {
    delete redis_;
    redis_ = new BackgroundProcess({redisServer_, "--bind", kAddress, "--port", "6379", "--protected-mode", "no",
                                    "--save", "", "--appendonly", "no"},
                                   std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis.log");
    return eventually([] { return run(kRedisCli + "ping").output == "PONG\n"; }, 10s);
  }

  // Prometheus on 10.200.0.1:9090 with its data in tmp_: a restart keeps the series.
  static bool startPrometheus() {
    delete prometheus_;
    prometheus_ = new BackgroundProcess(
        {"/usr/bin/prometheus", "--config.file=" + tmp_ + "/prometheus.yml",
         "--storage.tsdb.path=" + tmp_ + "/prometheus", std::string("--web.listen-address=") + (kPrometheusUrl + 7)},
        std::string(GOVERNOR_BINARY_DIR) + "/e2e-prometheus.log");
    return eventually([] { return run(std::string("curl -sf ") + kPrometheusUrl + "/-/ready").status == 0; });
  }

  void SetUp() override {
    ASSERT_TRUE(ready_) << "the suite's setup failed; see the first failure";
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "e2e");
    ASSERT_TRUE(adapter_->running()) << "the adapter died:\n" << tail(adapter_->logFile());
    ASSERT_TRUE(operator_->running()) << "the operator died:\n" << tail(operator_->logFile());
  }

  const std::string& ns() const { return ns_->name(); }

  // The object, or an empty object when it does not exist (yet).
  Json get(const kube::Resource& r, const std::string& name) {
    auto got = client_->get(r, ns(), name);
    return got ? *got : Json::object();
  }
  int replicas(const std::string& deployment) {
    return get(kDeployments, deployment).value("spec", Json::object()).value("replicas", -1);
  }
  int readyReplicas(const std::string& deployment) {
    return get(kDeployments, deployment).value("status", Json::object()).value("readyReplicas", 0);
  }
  Json hpaCondition(const std::string& hpa, const std::string& type) {
    for (const auto& c : get(kHpas, hpa).value("status", Json::object()).value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return nullptr;
  }
  bool hpaConditionIs(const std::string& hpa, const std::string& type, const std::string& status,
                      const std::string& reason = "") {
    auto c = hpaCondition(hpa, type);
    return !c.is_null() && c["status"] == status && (reason.empty() || c["reason"] == reason);
  }
  std::string hpaStatus(const std::string& hpa) { return get(kHpas, hpa).value("status", Json::object()).dump(); }
  // A condition of ServiceLevel `sl`, as `kubectl describe sl` shows it; null when absent.
  Json slCondition(const std::string& sl, const std::string& type) {
    for (const auto& c : get(kServiceLevels, sl).value("status", Json::object()).value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return nullptr;
  }
  bool slConditionIs(const std::string& sl, const std::string& type, const std::string& status,
                     const std::string& reason) {
    auto c = slCondition(sl, type);
    return !c.is_null() && c["status"] == status && c["reason"] == reason;
  }
  bool hasEvent(const std::string& sl, const std::string& reason) {
    auto events = client_->list(kEvents, ns(), {.fieldSelector = "involvedObject.name=" + sl + ",reason=" + reason});
    return events.ok() && !events->items.empty();
  }

  // The Deployment and its ServiceLevel; returns once the HPA the operator made reads the
  // metric (ScalingActive True), so that what follows times scaling, not setting up. With
  // `running`, its pods run on the node (else they never run).
  void createScaled(const std::string& name, const Json& sl, bool running = false) {
    auto d = client_->create(
        kDeployments, ns(), running ? runningDeployment(name, {{"tier", "e2e"}}) : deployment(name, {{"tier", "e2e"}}));
    ASSERT_TRUE(d.ok()) << d.error().what();
    auto created = client_->create(kServiceLevels, ns(), sl);
    ASSERT_TRUE(created.ok()) << created.error().what();
    ASSERT_TRUE(eventually([&] { return hpaConditionIs(name, "ScalingActive", "True"); }, 60s))
        << "the HPA never read its metric: " << hpaStatus(name)
        << "\nServiceLevel: " << get(kServiceLevels, name).dump() << "\nadapter:\n"
        << tail(adapter_->logFile());
    ASSERT_EQ(replicas(name), 1);
  }

  // Waits until Deployment `name` has `want` replicas; returns the seconds it took since
  // `since`, or a negative number on a timeout.
  double scaledTo(const std::string& name, int want, Clock::time_point since, std::chrono::seconds timeout = 60s) {
    if (!eventually([&] { return replicas(name) == want; }, timeout)) return -1;
    return secondsSince(since);
  }

  std::string externalPath(const std::string& sl, const std::string& metric = "governor_queue_backlog") {
    return "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + ns() + "/" + metric +
           "?labelSelector=governor.io/service-level%3D" + sl;
  }
  // The value of external metric `metric` (the backlog by default) the aggregator answers
  // with, or nullopt (an error, or no items).
  std::optional<double> backlog(const std::string& sl, const std::string& metric = "governor_queue_backlog") {
    auto r = getRaw(externalPath(sl, metric));
    if (r.status != 0 || !r.json.is_object() || r.json.value("items", Json::array()).size() != 1) return std::nullopt;
    return quantityValue(r.json["items"][0]["value"]);
  }

  static inline std::string tmp_;
  static inline std::string redisServer_;
  static inline std::string adapterKubeconfig_;
  static inline std::string operatorKubeconfig_;
  static inline BackgroundProcess* redis_ = nullptr;
  static inline BackgroundProcess* prometheus_ = nullptr;
  static inline Exporter* exporter_ = nullptr;
  static inline BackgroundProcess* adapter_ = nullptr;
  static inline BackgroundProcess* operator_ = nullptr;
  static inline bool ready_ = false;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
};

// What every other test here proves works, works with the chart's ServiceAccounts and RBAC:
// the binaries' kubeconfigs carry those identities, which cannot do more.
TEST_F(ScalingTest, BinariesRunAsTheChartsServiceAccounts) {
  for (const auto& [kubeconfig, sa] : {std::pair{adapterKubeconfig_, "governor-metrics-adapter"},
                                       std::pair{operatorKubeconfig_, "governor-operator"}}) {
    const std::string as = "KUBECONFIG=" + quote(kubeconfig) + " kubectl ";
    EXPECT_EQ(run(as + "auth whoami -o jsonpath='{.status.userInfo.username}'").output,
              std::string("system:serviceaccount:governor:") + sa);
    // The operator reads no Secret. The adapter lists and watches Secrets, always with the
    // selector governor.io/redis-credentials=true (RBAC cannot restrict by label), and may get
    // none by name.
    bool isOperator = std::string(sa) == "governor-operator";
    auto secrets = run(as + (isOperator ? "get secrets -A" : "get secret anything -n governor") + " 2>&1");
    EXPECT_NE(secrets.status, 0) << sa << " may read a Secret: " << secrets.output;
    EXPECT_NE(secrets.output.find("Forbidden"), std::string::npos) << secrets.output;
  }
  EXPECT_EQ(run("kubectl get lease governor-operator -n governor -o jsonpath='{.spec.holderIdentity}'").status, 0)
      << "the operator, elected with its own token, holds the Lease";
}

TEST_F(ScalingTest, ListBacklogScalesTheDeploymentUpAndBackDown) {
  const std::string key = "jobs-" + ns();
  createScaled("worker", serviceLevel("worker", {{"queue", queue(key)}}), true);

  std::string push = kRedisCli + "LPUSH " + key;
  for (int i = 1; i <= 50; ++i) push += " job-" + std::to_string(i);
  ASSERT_EQ(run(push).output, "50\n");
  auto pushed = Clock::now();
  double up = scaledTo("worker", 5, pushed);
  ASSERT_GT(up, 0) << "50 jobs at 10 per replica must give 5 replicas; replicas " << replicas("worker")
                   << ", HPA status " << hpaStatus("worker");
  std::printf("list: push to scale: %.2fs\n", up);
  EXPECT_TRUE(eventually([&] { return readyReplicas("worker") == 5; }, 60s))
      << "the 5 replicas' pods run on the node and become ready; ready " << readyReplicas("worker");
  std::printf("list: push to 5 ready pods: %.2fs\n", secondsSince(pushed));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(replicas("worker"), 5) << "a backlog of exactly 5 × target is steady at 5 replicas";

  ASSERT_EQ(run(kRedisCli + "DEL " + key).output, "1\n");
  auto drained = Clock::now();
  double down = scaledTo("worker", 1, drained);
  ASSERT_GT(down, 0) << "an empty list must give minReplicas; HPA status " << hpaStatus("worker");
  std::printf("list: drain to scale down: %.2fs\n", down);
}

// minReplicas 0: the operator scales the workload to none once the list has been empty for
// idleFor, and back to one as soon as jobs arrive; from there the HPA takes it.
TEST_F(ScalingTest, AnIdleQueueScalesToNoneAndJobsBringItBack) {
  const std::string key = "zero-" + ns();
  Json sl = serviceLevel("sleeper", {{"queue", queue(key)}});
  sl["spec"]["autoscaling"]["minReplicas"] = 0;
  sl["spec"]["autoscaling"]["idleFor"] = "10s";
  createScaled("sleeper", sl, true);
  auto created = Clock::now();
  double idle = scaledTo("sleeper", 0, created, 30s);
  ASSERT_GT(idle, 0) << "an empty list for 10s must scale to none; replicas " << replicas("sleeper") << ", status "
                     << get(kServiceLevels, "sleeper").value("status", Json()).dump();
  std::printf("scale to zero: idleFor 10s, from the HPA's first read to 0 replicas: %.2fs\n", idle);
  EXPECT_TRUE(eventually([&] { return hpaConditionIs("sleeper", "ScalingActive", "False", "ScalingDisabled"); }, 30s))
      << "at 0 the HPA idles: " << hpaStatus("sleeper");
  EXPECT_TRUE(eventually([&] { return hasEvent("sleeper", "ScaledToZero"); }, 10s))
      << "an Event says why the workload went to none";

  std::string push = kRedisCli + "LPUSH " + key;
  for (int i = 1; i <= 30; ++i) push += " job-" + std::to_string(i);
  ASSERT_EQ(run(push).output, "30\n");
  auto pushed = Clock::now();
  // The operator brings it back to one, and the HPA, reading 30 jobs, may take it to 3 before
  // the test looks: back from none is any number above it.
  ASSERT_TRUE(eventually([&] { return replicas("sleeper") >= 1; }, 30s))
      << "a backlog must bring the workload back from none; replicas " << replicas("sleeper");
  std::printf("scale to zero: push to 1 replica or more: %.2fs\n", secondsSince(pushed));
  double up = scaledTo("sleeper", 3, pushed);
  ASSERT_GT(up, 0) << "from 1 the HPA scales on 30 jobs at 10 per replica to 3; HPA " << hpaStatus("sleeper");
  std::printf("scale to zero: push to 3 replicas: %.2fs\n", up);

  ASSERT_EQ(run(kRedisCli + "DEL " + key).output, "1\n");
  auto drained = Clock::now();
  double none = scaledTo("sleeper", 0, drained);
  ASSERT_GT(none, 0) << "drained, the HPA goes to 1 and after idleFor the operator to 0; replicas "
                     << replicas("sleeper");
  std::printf("scale to zero: drain to 0 replicas: %.2fs\n", none);
}

// Where KEDA owns external.metrics.k8s.io, HPAs read the backlog from the custom API as an
// Object metric on the ServiceLevel (governor-operator --backlog-api=custom). The HPA that
// `governor-operator render --backlog-api=custom` prints, pointed at a second Deployment,
// scales it on the ServiceLevel's backlog read through the aggregator.
TEST_F(ScalingTest, BacklogAsAnObjectMetricOnTheServiceLevelScalesTheWorkload) {
  const std::string key = "object-" + ns();
  Json sl = serviceLevel("queued", {{"queue", queue(key)}});
  createScaled("queued", sl);
  ASSERT_TRUE(client_->create(kDeployments, ns(), deployment("queued-b")).ok());
  const std::string file = tmp_ + "/queued-" + ns() + ".yaml";
  sl["metadata"]["namespace"] = ns();
  std::ofstream(file) << sl.dump();
  auto rendered = run(std::string(GOVERNOR_OPERATOR_BINARY) + " render --backlog-api custom --only hpa -f " + file);
  ASSERT_EQ(rendered.status, 0) << rendered.output;
  auto docs = kube::parseYamlDocuments(rendered.output);
  ASSERT_TRUE(docs.ok() && docs->size() == 1) << rendered.output;
  Json hpa = (*docs)[0];
  ASSERT_EQ(hpa["spec"]["metrics"][0]["type"], "Object") << hpa.dump();
  EXPECT_EQ(hpa["spec"]["metrics"][0]["object"]["describedObject"]["kind"], "ServiceLevel");
  hpa["metadata"] = {{"name", "queued-b"}};
  hpa["spec"]["scaleTargetRef"]["name"] = "queued-b";
  hpa["spec"]["behavior"] = {{"scaleDown", {{"stabilizationWindowSeconds", 0}}}};
  ASSERT_TRUE(client_->create(kHpas, ns(), hpa).ok());

  auto r = getRaw("/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns() +
                  "/servicelevels.governor.io/queued/governor_queue_backlog");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(quantityValue(r.json["items"][0]["value"]), 0.0) << r.output;

  std::string push = kRedisCli + "LPUSH " + key;
  for (int i = 1; i <= 40; ++i) push += " job-" + std::to_string(i);
  ASSERT_EQ(run(push).output, "40\n");
  auto pushed = Clock::now();
  double up = scaledTo("queued-b", 4, pushed);
  ASSERT_GT(up, 0) << "40 jobs at 10 per replica through the Object metric must give 4; HPA " << hpaStatus("queued-b");
  std::printf("object metric: push to scale: %.2fs\n", up);
  // The HPA controller writes a new HPA's first status after it has scaled the workload.
  EXPECT_TRUE(eventually([&] { return hpaConditionIs("queued-b", "ScalingActive", "True"); }, 10s))
      << hpaStatus("queued-b");
}

// drainWithin with real workers: pods that each take one entry off a list every 0.2 s (5/s),
// jobs pushed at a known rate counted by a Prometheus counter (the arrivalQuery). The replicas
// must settle at ceil((arrival + backlog / drainWithin) / 5) and follow a doubled arrival rate.
TEST_F(ScalingTest, DrainWithinSettlesWhereTheFormulaSaysAndFollowsADoubledArrivalRate) {
  const std::string key = "drain-" + ns();
  constexpr double kPerWorker = 5;  // entries per second a worker takes off
  constexpr double kDrainWithin = 20;
  // Jobs arrive at 6/s from the start. Prometheus' rate() of a counter that just began to
  // rise overshoots for a window; the workers start once it shows 6/s, so that the rate per
  // replica is learnt from what really arrives. Meanwhile the list fills: the backlog the
  // first worker finds.
  Producer producer(key, *exporter_);
  producer.rate(6);
  auto arrivalRate = [] {
    auto r = run(std::string("curl -sf ") + kPrometheusUrl +
                 "/api/v1/query --data-urlencode 'query=sum(rate(test_jobs_pushed_total[3s]))'");
    Json j = Json::parse(r.output, nullptr, false);
    if (r.status != 0 || !j.is_object() || j["data"]["result"].empty()) return -1.0;
    return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
  };
  ASSERT_TRUE(eventually([&] { return std::fabs(arrivalRate() - 6) < 0.6; }, 30s)) << "rate " << arrivalRate();
  const Json q = {{"redis", {{"address", kRedisAddress}, {"key", key}}},
                  {"drainWithin", "20s"},
                  {"arrivalQuery", "test_jobs_pushed_total"}};
  auto d = client_->create(
      kDeployments, ns(),
      runningDeployment("drainer", {{"tier", "e2e"}},
                        {"redis-cli", "-h", "10.200.0.1", "-p", "6379", "-r", "-1", "-i", "0.2", "RPOP", key}));
  ASSERT_TRUE(d.ok()) << d.error().what();
  ASSERT_TRUE(client_->create(kServiceLevels, ns(), serviceLevel("drainer", {{"queue", q}})).ok());
  ASSERT_TRUE(eventually([&] { return readyReplicas("drainer") >= 1; }, 60s)) << "the worker pod never ran";

  // The backlog waiting and 6/s arriving: the first worker is busy, its rate is learnt, and
  // the HPA is asked for (6 + backlog/20) / 5 replicas, which work the backlog off and then
  // keep up with 6/s: ceil(6 / 5) = 2.
  auto length = [&] { return std::stod(run(kRedisCli + "LLEN " + key).output); };
  ASSERT_TRUE(eventually([&] { return length() < 5 && replicas("drainer") == 2; }, 90s))
      << "replicas " << replicas("drainer") << ", list " << length() << ", HPA " << hpaStatus("drainer")
      << "\nadapter:\n"
      << tail(adapter_->logFile());
  // Settled: for 10 s the replicas stay at 2 and the value served is what the formula gives
  // for the list's length, within a quarter.
  auto expected = [&](double arrival) { return (arrival + length() / kDrainWithin) / kPerWorker; };
  const auto settled = Clock::now();
  double served = 0;
  while (Clock::now() - settled < 10s) {
    ASSERT_EQ(replicas("drainer"), 2) << "at 6/s the replicas must settle at 2; HPA " << hpaStatus("drainer");
    auto value = backlog("drainer", "governor_queue_drain_replicas");
    ASSERT_TRUE(value) << tail(adapter_->logFile());
    served = *value;
    EXPECT_NEAR(served, expected(6), expected(6) / 4);
    std::this_thread::sleep_for(1s);
  }
  std::cout << "drain e2e: settled at 2 replicas, serving " << served << " where the formula gives " << expected(6)
            << " for 5/s per worker\n";

  // Doubled: 12/s. Two polls (1 s each) after Prometheus's 3 s rate window and its 1 s scrape
  // show it, the value served has risen past 2 (the HPA asks for 3), and the replicas settle
  // at ceil(12 / 5) = 3.
  producer.rate(12);
  const auto doubled = Clock::now();
  EXPECT_TRUE(eventually([&] { return backlog("drainer", "governor_queue_drain_replicas").value_or(0) > 2.0; }, 7s))
      << "before " << served << ", now " << backlog("drainer", "governor_queue_drain_replicas").value_or(-1);
  std::cout << "drain e2e: served above 2 replicas " << secondsSince(doubled) << " s after the arrival doubled\n";
  ASSERT_GT(scaledTo("drainer", 3, doubled, 30s), 0) << "HPA " << hpaStatus("drainer");
  ASSERT_TRUE(eventually([&] { return length() < 5; }, 60s))
      << "3 workers at 15/s must keep the list short against 12/s";
  const auto again = Clock::now();
  while (Clock::now() - again < 10s) {
    ASSERT_EQ(replicas("drainer"), 3) << "at 12/s the replicas must settle at 3; HPA " << hpaStatus("drainer");
    std::this_thread::sleep_for(1s);
  }

  // Nothing arrives any more and the list is empty: 0 needed, the HPA goes to minReplicas.
  producer.rate(0);
  EXPECT_TRUE(eventually([&] { return backlog("drainer", "governor_queue_drain_replicas") == 0.0; }, 30s))
      << "an empty list with nothing arriving needs none: "
      << backlog("drainer", "governor_queue_drain_replicas").value_or(-1);
  EXPECT_GT(scaledTo("drainer", 1, Clock::now(), 60s), 0) << "HPA " << hpaStatus("drainer");
}

TEST_F(ScalingTest, StreamBacklogIsLagPlusPendingOfTheConsumerGroup) {
  const std::string key = "events-" + ns();
  ASSERT_EQ(run(kRedisCli + "XGROUP CREATE " + key + " workers 0 MKSTREAM").output, "OK\n");
  createScaled("consumer", serviceLevel("consumer", {{"queue", queue(key, "workers")}}), true);

  auto added = run("for i in $(seq 50); do echo \"XADD " + key + " * n $i\"; done | " + kRedisCli);
  ASSERT_EQ(added.status, 0) << added.output;
  auto pushed = Clock::now();
  std::vector<std::string> ids;
  std::istringstream lines(added.output);
  for (std::string l; std::getline(lines, l);) {
    if (!l.empty()) ids.push_back(l);
  }
  ASSERT_EQ(ids.size(), 50u) << added.output;
  double up = scaledTo("consumer", 5, pushed);
  ASSERT_GT(up, 0) << "50 undelivered entries at 10 per replica must give 5 replicas; replicas " << replicas("consumer")
                   << ", HPA status " << hpaStatus("consumer");
  std::printf("stream: push to scale: %.2fs\n", up);

  // Delivered but not acknowledged is still work: 30 undelivered + 20 pending = 50; after
  // 5 acknowledgements, 30 + 15 = 45.
  auto read = run(kRedisCli + "XREADGROUP GROUP workers c1 COUNT 20 STREAMS " + key + " '>'");
  ASSERT_EQ(read.status, 0) << read.output;
  std::this_thread::sleep_for(2500ms);  // two polls
  EXPECT_EQ(backlog("consumer"), 50.0) << "20 read but not acknowledged must still count";
  std::string ack = kRedisCli + "XACK " + key + " workers";
  for (int i = 0; i < 5; ++i) ack += " " + ids[i];
  ASSERT_EQ(run(ack).output, "5\n");
  EXPECT_TRUE(eventually([&] { return backlog("consumer") == 45.0; }, 10s))
      << "30 undelivered + 15 pending; got " << getRaw(externalPath("consumer")).output;
  EXPECT_EQ(replicas("consumer"), 5);

  ASSERT_EQ(run(kRedisCli + "XREADGROUP GROUP workers c1 COUNT 100 STREAMS " + key + " '>'").status, 0);
  ack = kRedisCli + "XACK " + key + " workers";
  for (const auto& id : ids) ack += " " + id;
  ASSERT_EQ(run(ack).output, "45\n");
  auto drained = Clock::now();
  double down = scaledTo("consumer", 1, drained);
  ASSERT_GT(down, 0) << "every entry acknowledged must give minReplicas; HPA status " << hpaStatus("consumer");
  std::printf("stream: ack all to scale down: %.2fs\n", down);
  EXPECT_EQ(backlog("consumer"), 0.0) << "the stream still holds 50 entries: XLEN is not the backlog";
}

TEST_F(ScalingTest, ExternalMetricThroughTheAggregatorIsTheListLength) {
  const std::string key = "jobs-" + ns();
  createScaled("raw", serviceLevel("raw", {{"queue", queue(key)}}));
  std::string push = kRedisCli + "RPUSH " + key;
  for (int i = 1; i <= 37; ++i) push += " " + std::to_string(i);
  ASSERT_EQ(run(push).output, "37\n");

  Raw r;
  ASSERT_TRUE(eventually(
      [&] {
        r = getRaw(externalPath("raw"));
        return r.status == 0 && r.json.is_object() && r.json.value("items", Json::array()).size() == 1 &&
               r.json["items"][0]["value"] == "37";
      },
      15s))
      << r.output;
  EXPECT_EQ(r.json["kind"], "ExternalMetricValueList");
  EXPECT_EQ(r.json["apiVersion"], "external.metrics.k8s.io/v1beta1");
  const auto& item = r.json["items"][0];
  EXPECT_EQ(item["metricName"], "governor_queue_backlog");
  EXPECT_EQ(item["metricLabels"], Json({{"governor.io/service-level", "raw"}}));
  EXPECT_TRUE(item["timestamp"].is_string()) << item.dump();

  auto other = getRaw("/apis/external.metrics.k8s.io/v1beta1/namespaces/" + ns() +
                      "/governor_queue_backlog?labelSelector=governor.io/service-level%3Dnobody");
  EXPECT_NE(other.status, 0) << "a selector that matches no ServiceLevel must not answer a value: " << other.output;
}

TEST_F(ScalingTest, LatencyPercentilesFromPrometheusThroughTheAggregator) {
  Json objectives = {
      {"latency", {{"threshold", "250ms"}, {"target", "95"}, {"histogram", "test_request_duration_seconds_bucket"}}}};
  createScaled("api", serviceLevel("api", {{"latency", {{"percentile", 95}, {"target", "500ms"}}}}, objectives));

  const std::string base = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns() + "/deployments.apps/";
  const double p95 = expectedQuantile(0.95), p99 = expectedQuantile(0.99);
  ASSERT_DOUBLE_EQ(p95, 0.8125);  // 0.5 + 0.5 × (95 − 90) / (98 − 90)
  ASSERT_DOUBLE_EQ(p99, 1.0);     // rank 99 is in the +Inf bucket: the highest finite le
  auto close = [](const Json& value, double want) {
    auto v = quantityValue(value);
    return v && std::fabs(*v - want) <= 1e-3 * want;
  };

  Raw one;
  ASSERT_TRUE(eventually(
      [&] {
        one = getRaw(base + "api/governor_latency_p95_seconds");
        return one.status == 0 && one.json.is_object() && one.json.value("items", Json::array()).size() == 1;
      },
      30s))
      << one.output << "\nexporter scraped " << exporter_->scrapes() << " times\nadapter:\n"
      << tail(adapter_->logFile());
  EXPECT_EQ(one.json["kind"], "MetricValueList");
  EXPECT_EQ(one.json["apiVersion"], "custom.metrics.k8s.io/v1beta2");
  const auto& item = one.json["items"][0];
  EXPECT_EQ(item["describedObject"]["name"], "api");
  EXPECT_EQ(item["describedObject"]["kind"], "Deployment");
  EXPECT_EQ(item["describedObject"]["namespace"], ns());
  EXPECT_EQ(item["metric"]["name"], "governor_latency_p95_seconds");
  EXPECT_TRUE(close(item["value"], p95)) << "p95 " << item["value"] << ", histogram_quantile gives " << p95;
  std::printf("latency: p95 served as %s (expected %g)\n", item["value"].dump().c_str(), p95);

  // The `*` form with a label selector on the workload's labels, as the HPA would ask.
  auto many = getRaw(base + "*/governor_latency_p95_seconds?labelSelector=app%3Dapi");
  ASSERT_EQ(many.status, 0) << many.output;
  ASSERT_EQ(many.json.value("items", Json::array()).size(), 1u) << many.output;
  EXPECT_EQ(many.json["items"][0]["describedObject"]["name"], "api");
  EXPECT_TRUE(close(many.json["items"][0]["value"], p95)) << many.output;
  auto encoded = getRaw(base + "%2A/governor_latency_p95_seconds?labelSelector=app%3Dapi");  // as the HPA sends it
  ASSERT_EQ(encoded.status, 0) << encoded.output;
  EXPECT_EQ(encoded.json.value("items", Json::array()).size(), 1u) << encoded.output;
  auto none = getRaw(base + "*/governor_latency_p95_seconds?labelSelector=app%3Dnobody");
  EXPECT_NE(none.status, 0) << "no workload matches: " << none.output;

  // p99 by name: served for every workload with a latency objective.
  auto p99Raw = getRaw(base + "api/governor_latency_p99_seconds");
  ASSERT_EQ(p99Raw.status, 0) << p99Raw.output;
  ASSERT_EQ(p99Raw.json.value("items", Json::array()).size(), 1u) << p99Raw.output;
  EXPECT_EQ(p99Raw.json["items"][0]["metric"]["name"], "governor_latency_p99_seconds");
  EXPECT_TRUE(close(p99Raw.json["items"][0]["value"], p99)) << p99Raw.output;

  // The HPA scales on the Object metric: p95 0.8125 s against a 500 ms target gives
  // ceil(1.625 × Ready pods). This Deployment's pods never run (they select no node), so
  // mark its pod Running and Ready by hand; the new replicas' pods stay unready, which
  // keeps it at 2. (With every pod ready, the ratio would grow it each sync: latency is no
  // per-replica quantity.)
  std::string pod;
  ASSERT_TRUE(eventually([&] {
    auto r = run("kubectl get pods -n " + ns() + " -l app=api -o jsonpath='{.items[0].metadata.name}'");
    pod = r.output;
    return r.status == 0 && !pod.empty();
  })) << pod;
  auto ready = run("kubectl patch pod -n " + ns() + " " + pod +
                   " --subresource=status --type=merge -p "
                   "'{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}'");
  ASSERT_EQ(ready.status, 0) << ready.output;
  auto marked = Clock::now();
  EXPECT_GT(scaledTo("api", 2, marked, 30s), 0)
      << "a p95 above its target must scale up; replicas " << replicas("api") << ", HPA status " << hpaStatus("api");
  std::printf("latency: p95 over target to 2 replicas: %.2fs\n", secondsSince(marked));
  bool hpaSaw = false;
  for (const auto& m : get(kHpas, "api").value("status", Json::object()).value("currentMetrics", Json::array())) {
    if (m.value("type", "") == "Object") hpaSaw = close(m["object"]["current"]["value"], p95);
  }
  EXPECT_TRUE(hpaSaw) << "the HPA's currentMetrics must show the p95: " << hpaStatus("api");
}

// Latency as a scaling target, honestly (docs/servicelevel.md, "Latency as a scaling target"):
// the HPA multiplies the replicas by p95 / target at every sync, as if latency fell in
// proportion to replicas. When it does not (here the p95 stays 0.81 s, whatever the replicas,
// as behind a slow dependency), a p95 above target grows the workload to maxReplicas.
TEST_F(ScalingTest, ALatencyThatReplicasDoNotLowerGrowsTheWorkloadToMaxReplicas) {
  Json objectives = {
      {"latency", {{"threshold", "250ms"}, {"target", "95"}, {"histogram", "test_request_duration_seconds_bucket"}}}};
  Json sl = serviceLevel("flat", {{"latency", {{"percentile", 95}, {"target", "500ms"}}}}, objectives);
  sl["spec"]["autoscaling"]["maxReplicas"] = 6;
  // Not createScaled: the HPA scales at its first read of the metric.
  ASSERT_TRUE(client_->create(kDeployments, ns(), runningDeployment("flat", {{"tier", "e2e"}})).ok());
  ASSERT_TRUE(client_->create(kServiceLevels, ns(), sl).ok());
  const auto created = Clock::now();
  std::vector<int> seen = {1};
  ASSERT_TRUE(eventually(
      [&] {
        const int now = replicas("flat");
        if (now != seen.back()) seen.push_back(now);
        return now == 6;
      },
      90s))
      << "replicas " << replicas("flat") << ", HPA " << hpaStatus("flat");
  std::string steps;
  for (int r : seen) steps += (steps.empty() ? "" : " -> ") + std::to_string(r);
  std::printf("latency: a flat p95 of 0.81 s against 500 ms grew the workload %s in %.1fs\n", steps.c_str(),
              secondsSince(created));
  EXPECT_GE(seen.size(), 3u) << "more than one step: each sync multiplies again (" << steps << ")";
}

// Drill (docs/operations.md): the real Prometheus hung (SIGSTOP: connections are accepted by
// the kernel and never answered), then stopped. The latency becomes an error through the
// aggregator, never a made-up or old value; the HPA and the ServiceLevel's ScalingActive say
// so; once Prometheus answers again the same value is served, with no restart of anything.
TEST_F(ScalingTest, PrometheusHungOrStoppedMakesTheLatencyAnErrorUntilItAnswersAgain) {
  Json objectives = {
      {"latency", {{"threshold", "250ms"}, {"target", "95"}, {"histogram", "test_request_duration_seconds_bucket"}}}};
  createScaled("promfault",
               serviceLevel("promfault", {{"latency", {{"percentile", 95}, {"target", "2s"}}}}, objectives));
  const std::string path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns() +
                           "/deployments.apps/promfault/governor_latency_p95_seconds";
  auto served = [&] {
    auto r = getRaw(path);
    return r.status == 0 && r.json.is_object() && r.json.value("items", Json::array()).size() == 1;
  };
  ASSERT_TRUE(eventually(served, 30s)) << getRaw(path).output;
  auto broken = [&](const std::string& why) {
    Raw r;
    EXPECT_TRUE(eventually(
        [&] {
          r = getRaw(path);
          return r.status != 0;
        },
        30s))
        << why << ": the latency must become an error, not stay " << r.output;
    EXPECT_TRUE(
        eventually([&] { return slConditionIs("promfault", "ScalingActive", "False", "FailedGetObjectMetric"); }, 30s))
        << why << ": " << slCondition("promfault", "ScalingActive") << "\nHPA " << hpaStatus("promfault");
    std::printf("prometheus %s: the aggregator answers %s\n", why.c_str(), r.output.substr(0, 300).c_str());
  };
  auto recovered = [&](const std::string& why) {
    EXPECT_TRUE(eventually(served, 30s)) << "after " << why << ": " << getRaw(path).output;
    EXPECT_TRUE(
        eventually([&] { return slConditionIs("promfault", "ScalingActive", "True", "ValidMetricFound"); }, 30s))
        << "after " << why << ": " << slCondition("promfault", "ScalingActive");
  };

  prometheus_->signal(SIGSTOP);
  broken("hung");
  prometheus_->signal(SIGCONT);
  recovered("hung");

  EXPECT_EQ(prometheus_->stop(), 0);
  broken("stopped");
  ASSERT_TRUE(startPrometheus()) << tail(prometheus_->logFile());
  recovered("stopped");
  EXPECT_TRUE(adapter_->running() && operator_->running()) << "nothing was restarted";
}

// `kubectl get sl` (docs/servicelevel.md, Status): Replicas read back from the HPA, and
// Backlog and P95 as last measured.
TEST_F(ScalingTest, ServiceLevelStatusShowsReplicasBacklogAndP95) {
  const std::string key = "jobs-" + ns();
  Json objectives = {
      {"latency", {{"threshold", "250ms"}, {"target", "95"}, {"histogram", "test_request_duration_seconds_bucket"}}}};
  createScaled("shown", serviceLevel("shown", {{"queue", queue(key)}}, objectives));
  std::string push = kRedisCli + "RPUSH " + key;
  for (int i = 1; i <= 30; ++i) push += " " + std::to_string(i);
  ASSERT_EQ(run(push).output, "30\n");
  ASSERT_GT(scaledTo("shown", 3, Clock::now()), 0) << hpaStatus("shown");
  auto status = [&] { return get(kServiceLevels, "shown").value("status", Json::object()); };

  EXPECT_TRUE(eventually(
      [&] {
        return status().value("replicas", Json()) == Json({{"current", 3}, {"desired", 3}});
      },
      15s))
      << status().dump();
  EXPECT_TRUE(eventually([&] { return status().value("backlog", Json()) == "30"; }, 15s))
      << "BUG (operator, reported): status.backlog (the Backlog column of `kubectl get sl`) is documented in "
         "docs/servicelevel.md and the CRD as \"the queue backlog last measured\" but the operator never sets it "
         "(the adapter serves 30 for it); status: "
      << status().dump();
  EXPECT_TRUE(eventually([&] { return status().contains("latencyP95"); }, 15s))
      << "BUG (operator, reported): status.latencyP95 (the P95 column of `kubectl get sl`) is documented in "
         "docs/servicelevel.md and the CRD as \"the 95th percentile latency last measured\" but the operator never "
         "sets it (the adapter serves "
      << getRaw("/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns() +
                "/deployments.apps/shown/governor_latency_p95_seconds")
             .json.dump()
      << "); status: " << status().dump();
  std::printf("kubectl get sl:\n%s", run("kubectl get sl -n " + ns()).output.c_str());
}

// A second redis-server on 10.200.0.1:`port`, for tests that hang one on purpose.
std::unique_ptr<BackgroundProcess> extraRedis(const std::string& binary, int port) {
  auto p = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{binary, "--bind", kAddress, "--port", std::to_string(port), "--protected-mode", "no",
                               "--save", "", "--appendonly", "no"},
      std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis-" + std::to_string(port) + ".log");
  const std::string cli = "redis-cli -h 10.200.0.1 -p " + std::to_string(port) + " ";
  if (!eventually([&] { return run(cli + "ping").output == "PONG\n"; }, 10s)) return nullptr;
  return p;
}

// SIGSTOP for a redis-server (it accepts connections, as the kernel does, but never
// answers), SIGCONT when destroyed.
class Hang {
 public:
  explicit Hang(const std::string& cli) {
    auto info = run(cli + "INFO server | sed -n 's/^process_id:\\([0-9]*\\).*/\\1/p'");
    pid_ = info.output.substr(0, info.output.find('\n'));
    ok_ = !pid_.empty() && run("kill -STOP " + pid_).status == 0;
  }
  ~Hang() { resume(); }
  bool ok() const { return ok_; }
  void resume() {
    if (ok_) run("kill -CONT " + pid_);
    ok_ = false;
  }

 private:
  std::string pid_;
  bool ok_ = false;
};

// A hung Redis: the adapter's 2 s Redis timeout turns it into an error (reason Timeout),
// and the value comes back at once when Redis answers again.
TEST_F(ScalingTest, HungRedisIsATimeoutNotAHang) {
  auto redis = extraRedis(redisServer_, 6380);
  ASSERT_TRUE(redis) << tail(std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis-6380.log");
  const std::string cli = "redis-cli -h 10.200.0.1 -p 6380 ";
  Json q = queue("jobs");
  q["redis"]["address"] = "10.200.0.1:6380";
  createScaled("hung", serviceLevel("hung", {{"queue", q}}));
  ASSERT_EQ(run(cli + "RPUSH jobs a b c").output, "3\n");
  ASSERT_TRUE(eventually([&] { return backlog("hung") == 3.0; }, 10s)) << getRaw(externalPath("hung")).output;

  Hang hang(cli);
  ASSERT_TRUE(hang.ok());
  auto hung = Clock::now();
  Raw r;
  ASSERT_TRUE(eventually(
      [&] {
        r = getRaw(externalPath("hung"));
        return r.status != 0;
      },
      20s))
      << "a hung Redis must not keep answering the last value: " << r.output;
  double detected = secondsSince(hung);
  std::printf("redis hung: error served after %.2fs: %s", detected, r.output.c_str());
  EXPECT_LT(detected, 5.0) << "poll (1 s) + Redis timeout (2 s) bound this";
  EXPECT_NE(r.output.find("10.200.0.1:6380 key jobs: Timeout"), std::string::npos) << r.output;

  hang.resume();
  auto resumed = Clock::now();
  EXPECT_TRUE(eventually([&] { return backlog("hung") == 3.0; }, 15s)) << getRaw(externalPath("hung")).output;
  std::printf("redis hung: value served again %.2fs after it answers\n", secondsSince(resumed));
}

// docs/metrics-adapter.md, Connections: the adapter keeps one connection per Redis server while
// a ServiceLevel measures a queue there, and closes it once none does (the ServiceLevel was
// deleted), rather than keeping it for the life of the process.
TEST_F(ScalingTest, TheConnectionToARedisNoServiceLevelUsesAnyMoreIsClosed) {
  auto redis = extraRedis(redisServer_, 6383);
  ASSERT_TRUE(redis) << tail(std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis-6383.log");
  const std::string cli = "redis-cli -h 10.200.0.1 -p 6383 ";
  // Clients other than the redis-cli asking.
  auto others = [&] {
    auto r = run(cli + "CLIENT LIST");
    int lines = 0;
    for (char c : r.output) lines += c == '\n';
    return r.status == 0 ? lines - 1 : -1;
  };
  Json q = queue("jobs");
  q["redis"]["address"] = "10.200.0.1:6383";
  createScaled("gone", serviceLevel("gone", {{"queue", q}}));
  EXPECT_TRUE(eventually([&] { return others() == 1; }, 10s)) << "one connection for the queue: " << others();
  ASSERT_TRUE(client_->remove(kServiceLevels, ns(), "gone").ok());
  const auto deleted = Clock::now();
  EXPECT_TRUE(eventually([&] { return others() == 0; }, 20s))
      << "two polls (1 s) and the Redis timeout (2 s) after its last use, the connection must be closed; " << others()
      << " still open";
  std::printf("redis: the deleted ServiceLevel's connection closed %.2fs after the delete\n", secondsSince(deleted));
}

// docs/metrics-adapter.md: "Queues on one server are measured one at a time; different servers can
// be measured in parallel." One team's hung Redis must not make another team's metric stale.
TEST_F(ScalingTest, AHungRedisDoesNotDelayTheMetricsOfAnotherServer) {
  auto redis = extraRedis(redisServer_, 6381);
  ASSERT_TRUE(redis) << tail(std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis-6381.log");
  const std::string cli = "redis-cli -h 10.200.0.1 -p 6381 ";
  // Five queues on the server that will hang (no workload needed: the adapter measures
  // every ServiceLevel's queue), one on the healthy one.
  for (int i = 1; i <= 5; ++i) {
    Json q = queue("jobs-" + std::to_string(i));
    q["redis"]["address"] = "10.200.0.1:6381";
    auto created = client_->create(kServiceLevels, ns(), serviceLevel("stuck-" + std::to_string(i), {{"queue", q}}));
    ASSERT_TRUE(created.ok()) << created.error().what();
  }
  const std::string key = "jobs-" + ns();
  ASSERT_TRUE(client_->create(kServiceLevels, ns(), serviceLevel("steady", {{"queue", queue(key)}})).ok());
  ASSERT_TRUE(eventually(
      [&] {
        for (int i = 1; i <= 5; ++i) {
          if (backlog("stuck-" + std::to_string(i)) != 0.0) return false;
        }
        return backlog("steady") == 0.0;
      },
      15s))
      << getRaw(externalPath("steady")).output;

  Hang hang(cli);
  ASSERT_TRUE(hang.ok());
  std::this_thread::sleep_for(3s);  // the poller is in the middle of the hung server by now
  ASSERT_EQ(run(kRedisCli + "RPUSH " + key + " 1 2 3 4 5").output, "5\n");
  auto pushed = Clock::now();
  bool seen = eventually([&] { return backlog("steady") == 5.0; }, 30s);
  double delay = secondsSince(pushed);
  std::printf("hung redis elsewhere: healthy queue's change served after %.2fs\n", delay);
  ASSERT_TRUE(seen) << getRaw(externalPath("steady")).output;
  EXPECT_LT(delay, 3.0)
      << "BUG (adapter, reported): the poller (metrics-adapter/cache.cc Poller::pollOnce) measures every target "
         "one after another in one thread, so a hung Redis with N queues (N x the 2 s Redis timeout per round) "
         "delays the metrics of every other Redis server and of Prometheus; meanwhile the API keeps serving their last "
         "values (old timestamps, no error). docs/metrics-adapter.md says different servers are measured in parallel. "
         "Here: a change on a "
         "healthy server took "
      << delay << " s to be served (poll interval 1 s).";
}

// The cache's hit ratio as a user sees it: the adapter reads INFO stats of the cache (a
// redis-server on 10.200.0.1:6382, by --cache-address-template, as the cache's Service is not
// reachable from here), serves governor_cache_hit_ratio on the ServiceLevel through the
// aggregator, and the operator writes status.cache.hitRatio (`kubectl get sl -o wide`).
TEST_F(ScalingTest, CacheHitRatioIsMeasuredAndShownInStatus) {
  auto cache = extraRedis(redisServer_, 6382);
  ASSERT_TRUE(cache) << tail(std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis-6382.log");
  const std::string cli = "redis-cli -h 10.200.0.1 -p 6382 ";
  ASSERT_EQ(run(cli + "SET hot v").output, "OK\n");
  Json sl = serviceLevel("cached", {{"queue", queue("jobs-" + ns())}});
  sl["spec"]["cache"] = {{"maxMemory", "64Mi"}, {"hitRatioTarget", "80"}};
  createScaled("cached", sl);
  const std::string path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns() +
                           "/servicelevels.governor.io/cached/governor_cache_hit_ratio";
  // The adapter's first reading of a cache is its baseline; no lookups yet, so no ratio.
  std::this_thread::sleep_for(2500ms);
  auto none = getRaw(path);
  EXPECT_NE(none.status, 0) << "no ratio before any lookup: " << none.output;
  // 40 lookups, 29 of them hits, in one transaction: no poll falls between them.
  std::string lookups = "MULTI\n";
  for (int i = 0; i < 29; ++i) lookups += "GET hot\n";
  for (int i = 0; i < 11; ++i) lookups += "GET cold" + std::to_string(i) + "\n";
  lookups += "EXEC\n";
  auto done = run("printf '%s' '" + lookups + "' | " + cli);
  ASSERT_EQ(done.status, 0) << done.output;
  Raw served;
  EXPECT_TRUE(eventually(
      [&] {
        served = getRaw(path);
        return served.status == 0 && served.json.value("items", Json::array()).size() == 1 &&
               served.json["items"][0]["value"] == "725m";
      },
      10s))
      << "29 hits of 40 lookups must be served as exactly 0.725: " << served.output;
  auto status = [&] { return get(kServiceLevels, "cached").value("status", Json::object()); };
  EXPECT_TRUE(eventually([&] { return status().value("cache", Json::object()).value("hitRatio", "") == "0.725"; }, 15s))
      << status().dump();
  auto wide = run("kubectl get sl cached -n " + ns() + " -o wide");
  EXPECT_NE(wide.output.find("0.725"), std::string::npos) << wide.output;
  std::printf("cache: kubectl get sl -o wide:\n%s", wide.output.c_str());
  // Idle: the last ratio stays.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(status().value("cache", Json::object()).value("hitRatio", ""), "0.725");
}

// Last: it stops Redis (and starts it again).
TEST_F(ScalingTest, RedisOutageIsReportedAndHealsWithoutRestarts) {
  const std::string key = "jobs-" + ns();
  createScaled("fragile", serviceLevel("fragile", {{"queue", queue(key)}}));
  std::string push = kRedisCli + "RPUSH " + key;
  for (int i = 1; i <= 20; ++i) push += " " + std::to_string(i);
  ASSERT_EQ(run(push).output, "20\n");
  ASSERT_GT(scaledTo("fragile", 2, Clock::now()), 0) << hpaStatus("fragile");

  EXPECT_EQ(redis_->stop(), 0);
  auto stopped = Clock::now();
  Raw r;
  ASSERT_TRUE(eventually(
      [&] {
        r = getRaw(externalPath("fragile"));
        return r.status != 0;
      },
      10s))
      << "the API still answers a value with Redis down: " << r.output;
  double detected = secondsSince(stopped);
  std::printf("redis down: error served after %.2fs\n", detected);
  EXPECT_LT(detected, 5.0) << "the adapter's poll (1 s) and Redis timeout (2 s) bound this";
  EXPECT_NE(r.output.find(kRedisAddress), std::string::npos) << "the error must name the Redis address: " << r.output;
  std::printf("redis down: kubectl says: %s", r.output.c_str());

  EXPECT_TRUE(
      eventually([&] { return hpaConditionIs("fragile", "ScalingActive", "False", "FailedGetExternalMetric"); }, 30s))
      << hpaStatus("fragile");
  auto c = hpaCondition("fragile", "ScalingActive");
  std::printf("redis down: HPA ScalingActive %s %s: %s\n", c.value("status", "?").c_str(),
              c.value("reason", "?").c_str(), c.value("message", "").c_str());
  EXPECT_NE(c.value("message", "").find(kRedisAddress), std::string::npos) << c.dump();
  // What `kubectl get sl` and `kubectl describe sl` show: not Ready, with the HPA's reason.
  EXPECT_TRUE(
      eventually([&] { return slConditionIs("fragile", "ScalingActive", "False", "FailedGetExternalMetric"); }, 30s))
      << get(kServiceLevels, "fragile").dump();
  EXPECT_NE(slCondition("fragile", "ScalingActive").value("message", "").find(kRedisAddress), std::string::npos)
      << "the ServiceLevel must carry the HPA's message: " << slCondition("fragile", "ScalingActive").dump();
  EXPECT_TRUE(slConditionIs("fragile", "Ready", "False", "FailedGetExternalMetric"))
      << "Ready must not be True while the HPA cannot read its metric: " << slCondition("fragile", "Ready").dump();
  auto events = run("kubectl get events -n " + ns() +
                    " --field-selector involvedObject.kind=ServiceLevel,involvedObject.name=fragile,"
                    "reason=FailedGetExternalMetric -o name");
  EXPECT_FALSE(events.output.empty()) << "a Warning event must say scaling broke: " << events.output;
  std::printf("redis down: kubectl get sl:\n%s", run("kubectl get sl fragile -n " + ns()).output.c_str());
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(replicas("fragile"), 2) << "a metric that cannot be read must never scale down";

  // Redis comes back (empty: no persistence) on the same address; nothing else restarts.
  ASSERT_TRUE(startRedis()) << tail(std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis.log");
  auto restarted = Clock::now();
  ASSERT_EQ(run(push).output, "20\n");
  EXPECT_TRUE(eventually([&] { return backlog("fragile") == 20.0; }, 15s)) << getRaw(externalPath("fragile")).output;
  std::printf("redis back: value served again after %.2fs\n", secondsSince(restarted));
  EXPECT_TRUE(eventually([&] { return hpaConditionIs("fragile", "ScalingActive", "True"); }, 30s))
      << hpaStatus("fragile");
  std::printf("redis back: HPA ScalingActive True after %.2fs\n", secondsSince(restarted));
  EXPECT_TRUE(eventually([&] { return slConditionIs("fragile", "ScalingActive", "True", "ValidMetricFound"); }, 15s))
      << slCondition("fragile", "ScalingActive").dump();
  EXPECT_TRUE(eventually([&] { return slConditionIs("fragile", "Ready", "True", "Reconciled"); }, 15s))
      << slCondition("fragile", "Ready").dump();
  EXPECT_EQ(replicas("fragile"), 2);
  EXPECT_TRUE(adapter_->running());
  EXPECT_TRUE(operator_->running());
}

// spec.autoscaling.queue.fallback, as KEDA's: with Redis down for afterFailures polls the HPA
// goes to the fallback's replicas and the ServiceLevel says why; with Redis back it scales on
// the backlog again. After the outage test: it stops Redis too.
TEST_F(ScalingTest, QueueFallbackGivesItsReplicasWhileRedisIsDownAndEndsWhenItIsBack) {
  const std::string key = "rescue-" + ns();
  Json sl = serviceLevel("rescue", {{"queue", queue(key)}});
  sl["spec"]["autoscaling"]["queue"]["fallback"] = {{"replicas", 3}, {"afterFailures", 2}};
  createScaled("rescue", sl);
  EXPECT_EQ(backlog("rescue"), 0.0);

  EXPECT_EQ(redis_->stop(), 0);
  auto stopped = Clock::now();
  Raw r;
  ASSERT_TRUE(eventually(
      [&] {
        r = getRaw(externalPath("rescue"));
        return r.status == 0 && r.json.value("items", Json::array()).size() == 1 &&
               r.json["items"][0]["metricLabels"].value("governor.io/fallback", "") == "true";
      },
      15s))
      << "the fallback is never served: " << r.output << tail(adapter_->logFile());
  std::printf("fallback: served %.2fs after Redis stopped: %s\n", secondsSince(stopped), r.output.c_str());
  EXPECT_EQ(quantityValue(r.json["items"][0]["value"]), 30.0) << "3 replicas x targetPerReplica 10";
  double up = scaledTo("rescue", 3, stopped);
  ASSERT_GT(up, 0) << "the HPA must go to the fallback's 3 replicas; HPA " << hpaStatus("rescue");
  std::printf("fallback: Redis stopped to 3 replicas: %.2fs\n", up);
  EXPECT_TRUE(hpaConditionIs("rescue", "ScalingActive", "True")) << "the HPA reads a value: " << hpaStatus("rescue");
  EXPECT_TRUE(eventually([&] { return slConditionIs("rescue", "Fallback", "True", "SourceFailing"); }, 15s))
      << get(kServiceLevels, "rescue").dump();
  auto fallback = slCondition("rescue", "Fallback").value("message", "");
  EXPECT_NE(fallback.find("2 polls in a row"), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("3 replicas"), std::string::npos) << fallback;
  // Ready follows the HPA's next status too: it may still carry the failed read before the fallback.
  EXPECT_TRUE(eventually([&] { return slConditionIs("rescue", "Ready", "False", "SourceFailing"); }, 15s))
      << slCondition("rescue", "Ready").dump();
  EXPECT_TRUE(eventually([&] { return hasEvent("rescue", "FallbackStarted"); }, 10s));
  EXPECT_FALSE(get(kServiceLevels, "rescue")["status"].contains("backlog")) << "a fallback is no measured backlog";
  std::printf("fallback: kubectl get sl:\n%s", run("kubectl get sl rescue -n " + ns()).output.c_str());

  ASSERT_TRUE(startRedis()) << tail(std::string(GOVERNOR_BINARY_DIR) + "/e2e-redis.log");
  auto restarted = Clock::now();
  EXPECT_TRUE(eventually([&] { return backlog("rescue") == 0.0; }, 15s)) << getRaw(externalPath("rescue")).output;
  double down = scaledTo("rescue", 1, restarted);
  ASSERT_GT(down, 0) << "measured again, the empty queue gives minReplicas; HPA " << hpaStatus("rescue");
  std::printf("fallback: Redis back to 1 replica: %.2fs\n", down);
  EXPECT_TRUE(eventually([&] { return slCondition("rescue", "Fallback").is_null(); }, 15s))
      << slCondition("rescue", "Fallback").dump();
  EXPECT_TRUE(eventually([&] { return slConditionIs("rescue", "Ready", "True", "Reconciled"); }, 15s))
      << slCondition("rescue", "Ready").dump();
  EXPECT_TRUE(eventually([&] { return hasEvent("rescue", "FallbackEnded"); }, 10s));
}

}  // namespace
}  // namespace governor::testing
