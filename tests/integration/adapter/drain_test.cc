// Fault drill (docs/operations.md, Fault drills): a rolling restart of two
// governor-metrics-adapter replicas behind the real aggregation layer while clients poll a
// metric as HPAs do. Each replica is taken out as the endpoints controller takes out a
// terminating pod (its EndpointSlice endpoint no longer ready) as it gets SIGTERM, and put
// back once a new process is ready. With --shutdown-delay-duration no request fails: a
// stopping replica goes not-ready, keeps serving while the aggregator learns of the change,
// then answers what it accepted and exits 0.
//
// Run through ctest (`ctest -R adapter.drain`), or by hand inside the cluster:
//   tests/cluster/exec build/tests/adapter_drain_tests
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "adapter_setup.h"
#include "cluster.h"

namespace governor::testing {
namespace {

using kube::Json;
using namespace std::chrono_literals;

constexpr int kRedisPort = 6393;
constexpr int kPorts[] = {8451, 8452};
const std::string kShutdownDelay = "5s";  // the chart's

// Clients asking the API server for one metric in a loop, as HPA controllers do, each on a
// kept-alive connection of its own; they count the answers that are not 200.
class Pollers {
 public:
  Pollers(const std::string& path, int clients) {
    const std::string pki = std::string(std::getenv("GOVERNOR_CLUSTER_DIR")) + "/pki/";
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, path, pki] {
        httplib::SSLClient c(kAddress, 6443, pki + "admin.crt", pki + "admin.key");
        c.set_ca_cert_path((pki + "ca.crt").c_str());
        c.enable_server_certificate_verification(true);
        c.set_keep_alive(true);
        c.set_read_timeout(15, 0);
        while (!stop_) {
          auto r = c.Get(path);
          ++total_;
          if (!r || r->status != 200) {
            ++failed_;
            std::lock_guard lock(mu_);
            if (failures_.size() < 2000) {
              failures_ += (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error())) + "\n";
            }
          }
          std::this_thread::sleep_for(10ms);
        }
      });
    }
  }
  ~Pollers() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int total() const { return total_; }
  int failed() const { return failed_; }
  std::string failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> total_{0};
  std::atomic<int> failed_{0};
  mutable std::mutex mu_;
  std::string failures_;
  std::vector<std::thread> threads_;
};

class DrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::getenv("KUBECONFIG") && std::getenv("GOVERNOR_CLUSTER_DIR"))
        << "KUBECONFIG and GOVERNOR_CLUSTER_DIR are unset: run through ctest or tests/cluster/exec";
    ASSERT_TRUE(tmp_.ok());
    auto cert = writeAdapterServingCert(tmp_.path().string(), kAddress);
    ASSERT_EQ(cert.status, 0) << cert.output;
    auto crd = applyServiceLevelCrd();
    ASSERT_EQ(crd.status, 0) << crd.output;
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "drain");

    const std::string redisServer = findProgram("GOVERNOR_REDIS_SERVER", {"redis-server"});
    ASSERT_FALSE(redisServer.empty()) << "redis-server is not installed (scripts/install-deps)";
    redis_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{redisServer, "--bind", kAddress, "--port", std::to_string(kRedisPort),
                                 "--protected-mode", "no", "--save", "", "--appendonly", "no"},
        logs("drain-redis.log"));
    const std::string push =
        "redis-cli -h " + std::string(kAddress) + " -p " + std::to_string(kRedisPort) + " RPUSH jobs a b c d e f g";
    ASSERT_TRUE(eventually([&] { return run(push).status == 0; }, 10s)) << tail(redis_->logFile());
    Json sl = {
        {"apiVersion", "governor.io/v1alpha1"},
        {"kind", "ServiceLevel"},
        {"metadata", {{"name", "queue"}}},
        {"spec",
         {{"workload", {{"name", "workers"}}},
          {"autoscaling",
           {{"minReplicas", 1},
            {"maxReplicas", 10},
            {"queue",
             {{"redis", {{"address", std::string(kAddress) + ":" + std::to_string(kRedisPort)}, {"key", "jobs"}}},
              {"targetPerReplica", 10}}}}}}}};
    auto created = client_->create(kServiceLevels, ns(), sl);
    ASSERT_TRUE(created.ok()) << created.error().what();

    for (int port : kPorts) ASSERT_NO_FATAL_FAILURE(startReplica(port));
    auto rbac = applyChartRbac();  // also waits out a namespace governor the suite before left terminating
    ASSERT_EQ(rbac.status, 0) << rbac.output;
    auto registered = registerAdapter(tmp_.path().string(), kAddress, kPorts[0]);
    ASSERT_EQ(registered.status, 0) << registered.output;
    auto second = setAdapterEndpoint(kAddress, kPorts[1], true);
    ASSERT_EQ(second.status, 0) << second.output;
  }

  void TearDown() override {
    unregisterAdapter();
    for (auto& [port, replica] : replicas_) replica->signal(SIGTERM);  // their shutdown delays at once
    for (auto& [port, replica] : replicas_) EXPECT_EQ(replica->stop(20s), 0) << "replica on port " << port;
  }

  static std::string logs(const std::string& name) { return std::string(GOVERNOR_BINARY_DIR) + "/" + name; }
  static std::string readyz(int port) {
    return "curl -sf http://" + std::string(kAddress) + ":" + std::to_string(port + 10) + "/readyz";
  }
  std::string ns() const { return ns_->name(); }
  std::string backlogPath() const {
    return "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + ns() +
           "/governor_queue_backlog?labelSelector=governor.io/service-level%3Dqueue";
  }

  // A replica on `port` (probes on port + 10), run as a Deployment's pod would be, ready.
  void startReplica(int port) {
    auto& replica = replicas_[port];
    replica = std::make_unique<BackgroundProcess>(std::vector<std::string>{GOVERNOR_ADAPTER_BINARY,
                                                                           "--kubeconfig",
                                                                           std::getenv("KUBECONFIG"),
                                                                           "--bind-address",
                                                                           kAddress,
                                                                           "--secure-port",
                                                                           std::to_string(port),
                                                                           "--health-port",
                                                                           std::to_string(port + 10),
                                                                           "--tls-cert-file",
                                                                           tmp_.file("adapter.crt"),
                                                                           "--tls-private-key-file",
                                                                           tmp_.file("adapter.key"),
                                                                           "--poll-interval",
                                                                           "1s",
                                                                           "--redis-allowed-cidrs",
                                                                           std::string(kAddress) + "/32",
                                                                           "--shutdown-delay-duration",
                                                                           kShutdownDelay,
                                                                           "--log-format",
                                                                           "text"},
                                                  logs("drain-adapter-" + std::to_string(port) + ".log"));
    ASSERT_TRUE(eventually([&] { return run(readyz(port)).status == 0; })) << tail(replica->logFile());
  }

  TempDir tmp_{"drain"};
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
  std::unique_ptr<BackgroundProcess> redis_;
  std::map<int, std::unique_ptr<BackgroundProcess>> replicas_;
};

// One replica at a time: SIGTERM and its endpoint no longer ready, as when its pod is deleted;
// it exits 0; a new one on its port, put back once ready. No request through the aggregator
// fails meanwhile.
TEST_F(DrainTest, ARollingRestartOfTwoReplicasLosesNoRequestThroughTheAggregator) {
  ASSERT_TRUE(eventually([&] {
    return run("kubectl get --raw " + quote(backlogPath())).output.find("\"value\":\"7\"") != std::string::npos;
  })) << run("kubectl get --raw " + quote(backlogPath())).output;
  Pollers pollers(backlogPath(), 4);
  ASSERT_TRUE(eventually([&] { return pollers.total() >= 50; }));

  for (int port : kPorts) {
    auto& replica = replicas_[port];
    replica->signal(SIGTERM);
    const auto stoppedAt = std::chrono::steady_clock::now();
    auto out = setAdapterEndpoint(kAddress, port, false);
    ASSERT_EQ(out.status, 0) << out.output;
    EXPECT_TRUE(eventually([&] { return run(readyz(port)).status != 0; }, 1s)) << "not ready as soon as it stops";
    EXPECT_EQ(replica->stop(20s), 0) << tail(replica->logFile());
    const auto exitSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stoppedAt).count();
    EXPECT_LT(exitSeconds, 10) << "the 5 s delay, then only what was accepted";
    std::printf("drain: replica %d exited 0 %.1fs after SIGTERM; %d requests so far, %d not 200\n", port, exitSeconds,
                pollers.total(), pollers.failed());
    ASSERT_NO_FATAL_FAILURE(startReplica(port));
    out = setAdapterEndpoint(kAddress, port, true);
    ASSERT_EQ(out.status, 0) << out.output;
  }
  std::this_thread::sleep_for(2s);  // requests to both new replicas too
  pollers.stop();
  std::printf("drain: %d requests through the aggregator during the rolling restart, %d not 200\n", pollers.total(),
              pollers.failed());
  EXPECT_EQ(pollers.failed(), 0) << pollers.failures();
  EXPECT_GT(pollers.total(), 200);
}

}  // namespace
}  // namespace governor::testing
