// The adapter's latency path (targetsFor -> Poller -> MetricCache -> MetricsApi) against a
// real HTTP server that plays Prometheus and can be made slow or hung: what reaches
// Prometheus is the ServiceLevel's own namespace, a hung Prometheus gives 503 after the
// maximum age and never the old value, and one ServiceLevel's slow queries do not hold up
// another's (issue 16, parts 4 and 6). No prometheus binary needed.
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "metrics-adapter/api/metrics_api.h"
#include "metrics-adapter/cache.h"
#include "metrics-adapter/live_targets.h"
#include "metrics-adapter/targets.h"

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

// Answers every instant query with 0.25 for each percentile, records it; queries of slow_bucket take `slowFor`;
// once hung, every query waits, connection open, until release().
class FakePrometheus {
 public:
  explicit FakePrometheus(std::chrono::milliseconds slowFor = 0ms) : slowFor_(slowFor) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.Post("/api/v1/query", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string q = req.get_param_value("query");
      {
        std::unique_lock lock(mutex_);
        queries_.push_back(q);
        released_.wait(lock, [this] { return !hung_; });
      }
      if (q.find("slow_bucket") != std::string::npos) std::this_thread::sleep_for(slowFor_);
      // One series per percentile the adapter reads in one query (prometheus_reads.h).
      nlohmann::json result = nlohmann::json::array();
      for (const char* p : {"50", "90", "95", "99"})
        result.push_back({{"metric", {{kPercentileLabel, p}}}, {"value", {1, "0.25"}}});
      res.set_content(
          nlohmann::json{{"status", "success"}, {"data", {{"resultType", "vector"}, {"result", result}}}}.dump(),
          "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakePrometheus() {
    release();
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void hang() {
    std::lock_guard lock(mutex_);
    hung_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      hung_ = false;
    }
    released_.notify_all();
  }
  std::vector<std::string> queries() {
    std::lock_guard lock(mutex_);
    return queries_;
  }

 private:
  const std::chrono::milliseconds slowFor_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable released_;
  bool hung_ = false;                 // guarded by mutex_
  std::vector<std::string> queries_;  // guarded by mutex_
};

api::ServiceLevel latencyServiceLevel(const std::string& name, const std::string& histogram) {
  api::ServiceLevel sl;
  sl.name = name;
  sl.namespaceName = "shop";
  sl.workload.name = name;
  sl.objectives = api::Objectives{};
  sl.objectives->latency = api::LatencyObjective{.histogram = histogram};
  return sl;
}

// What the adapter's main wires together, for these ServiceLevels.
struct Adapter {
  Adapter(const std::string& prometheusUrl, std::chrono::milliseconds timeout, std::chrono::milliseconds interval,
          size_t concurrency, std::vector<api::ServiceLevel> serviceLevels, TargetOptions options = {})
      : serviceLevels(std::move(serviceLevels)),
        options(std::move(options)),
        prometheus(prometheusUrl, timeout),
        cache(std::chrono::system_clock::now, interval + timeout),
        poller(
            cache, [this] { return live.nextRound(); }, interval, concurrency) {}
  // GET of the ServiceLevel's p95, as the HPA asks for it.
  ApiResponse p95(const std::string& name) const {
    return api.get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/" + name +
                       "/governor_latency_p95_seconds",
                   {});
  }

  const std::vector<api::ServiceLevel> serviceLevels;
  const TargetOptions options;
  prometheus::Registry registry;
  CacheStats caches{registry};
  DrainEstimator drains;
  RedisSource redis;
  SecretReader secrets = [](const std::string&, const api::SecretKeyRef&) -> kube::Result<std::string> {
    return std::string();
  };
  kube::PrometheusClient prometheus;
  MetricCache cache;
  Targets targets;
  LiveTargets live{Sources{redis, prometheus, caches, drains, secrets, {}}, options,
                   [](const std::string&, const api::Workload&) { return api::Labels{}; },
                   [this](const auto& visit) {
                     for (const auto& sl : serviceLevels) visit(sl);
                   },
                   targets};
  MetricsApi api{cache, targets};
  Poller poller;
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds within = 10s) {
  for (auto deadline = std::chrono::steady_clock::now() + within; std::chrono::steady_clock::now() < deadline;) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

TEST(PrometheusBudgetTest, TheLatencyQueryReadsOnlyTheServiceLevelsNamespace) {
  FakePrometheus fake;
  Adapter adapter(fake.url(), 2s, 1h, 4, {latencyServiceLevel("web", R"(http_bucket{namespace="other",job="web"})")});
  adapter.poller.pollOnce();
  ASSERT_EQ(adapter.p95("web").status, 200) << adapter.p95("web").body.dump();
  const auto queries = fake.queries();
  ASSERT_FALSE(queries.empty());
  for (const auto& q : queries) {
    EXPECT_NE(q.find(R"(rate(http_bucket{namespace="shop",job="web"}[2m]))"), std::string::npos) << q;
    EXPECT_EQ(q.find("other"), std::string::npos) << q;
  }
}

TEST(PrometheusBudgetTest, WithoutNamespaceScopeTheSelectorIsAsWritten) {
  FakePrometheus fake;
  Adapter adapter(fake.url(), 2s, 1h, 4, {latencyServiceLevel("web", R"(http_bucket{namespace="other"})")},
                  TargetOptions{.prometheusNamespaceScope = false});
  adapter.poller.pollOnce();
  ASSERT_FALSE(fake.queries().empty());
  for (const auto& q : fake.queries()) {
    EXPECT_NE(q.find(R"(rate(http_bucket{namespace="other"}[2m]))"), std::string::npos) << q;
  }
}

// Issue 16 part 6: with 16 latency targets on one hung Prometheus, the k-th kept its old value
// for k timeouts. Every one must be 503 once the maximum age (interval + timeout) has passed.
TEST(PrometheusBudgetTest, AHungPrometheusGives503AfterTheMaxAgeNeverTheOldValue) {
  FakePrometheus fake;
  const std::chrono::milliseconds interval = 250ms, timeout = 1s;
  std::vector<api::ServiceLevel> sls;
  std::vector<std::string> names = {"a", "b", "c", "d"};
  for (const auto& n : names) sls.push_back(latencyServiceLevel(n, "x_bucket"));
  Adapter adapter(fake.url(), timeout, interval, 2, sls);
  adapter.poller.start();
  ASSERT_TRUE(eventually([&] {
    for (const auto& n : names) {
      if (adapter.p95(n).status != 200) return false;
    }
    return true;
  }));

  fake.hang();
  const auto hungAt = std::chrono::steady_clock::now();
  const auto maxAge = interval + timeout;
  std::map<std::string, Seconds> firstError;
  while (std::chrono::steady_clock::now() < hungAt + maxAge + 2s) {
    const auto elapsed = std::chrono::steady_clock::now() - hungAt;
    for (const auto& n : names) {
      const ApiResponse r = adapter.p95(n);
      if (r.status != 200 && !firstError.contains(n)) firstError[n] = elapsed;
      // The poll in progress when it hung may have measured just before: a margin of 100 ms.
      if (elapsed > maxAge + 100ms) {
        ASSERT_EQ(r.status, 503) << n << " after " << Seconds(elapsed).count() << " s: " << r.body.dump();
        EXPECT_EQ(r.body["reason"], "ServiceUnavailable");
      }
    }
    std::this_thread::sleep_for(25ms);
  }
  for (const auto& [n, at] : firstError)
    std::cout << "[ timing ] " << n << " answered 503 after " << at.count() << " s\n";

  fake.release();
  EXPECT_TRUE(eventually([&] {
    for (const auto& n : names) {
      if (adapter.p95(n).status != 200) return false;
    }
    return true;
  })) << "not served again once Prometheus answers";
}

// One ServiceLevel whose queries take 3 s (an expensive selector) does not hold up another's
// value on the same Prometheus: with the default, sequential, it waited for 4 of them.
TEST(PrometheusBudgetTest, ASlowServiceLevelDoesNotDelayAnothersValue) {
  FakePrometheus fake(3s);
  // "a-slow" sorts first: its targets are the first of the source's round.
  Adapter adapter(fake.url(), 5s, 1h, 2,
                  {latencyServiceLevel("a-slow", "slow_bucket"), latencyServiceLevel("b-fast", "fast_bucket")});
  const auto started = std::chrono::steady_clock::now();
  adapter.poller.start();
  ASSERT_TRUE(eventually([&] { return adapter.p95("b-fast").status == 200; }, 10s))
      << adapter.p95("b-fast").body.dump();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  std::cout << "[ timing ] the fast ServiceLevel's p95 was served after " << Seconds(elapsed).count() << " s\n";
  EXPECT_LT(elapsed, 1s);
  EXPECT_NE(adapter.p95("a-slow").status, 200);  // still measuring its first query
}

}  // namespace
}  // namespace governor::adapter
