// kube::PrometheusClient against a real Prometheus (started per test suite on a free port) that
// scrapes a tiny exporter served by this process: the p95 of latencyQuery() must equal what
// histogram_quantile's interpolation gives for the exporter's buckets. A fake API on the same
// exporter covers answers a healthy Prometheus rarely gives. Fails without prometheus (or
// $PROMETHEUS): scripts/install-deps installs it.
#include "metrics-adapter/sources/prometheus_source.h"

#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "metrics-adapter/prometheus_reads.h"
#include "support/process.h"

namespace governor::adapter {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

using governor::testing::BackgroundProcess;
using governor::testing::findProgram;
using governor::testing::freePort;

std::string findPrometheus() { return findProgram("PROMETHEUS", {"/usr/bin/prometheus", "prometheus"}); }
constexpr const char* kNoPrometheus = "prometheus not found: run scripts/install-deps (or set PROMETHEUS)";

// Cumulative bucket counts per scrape-count unit: every scrape multiplies them all by the same
// n, so every rate() has the same ratios and the quantile does not depend on timing.
struct Bucket {
  double le;  // +Inf for the last
  double count;
};
const std::vector<Bucket> kBuckets = {{0.05, 10}, {0.1, 40}, {0.25, 70},
                                      {0.5, 90},  {1, 98},   {std::numeric_limits<double>::infinity(), 100}};

// The rule of histogram_quantile, written out independently: rank = q × total; the first bucket
// whose cumulative count reaches the rank; linear interpolation between its lower bound (the
// previous bucket's le, 0 for the first) and its le; in the +Inf bucket, the highest finite le.
double expectedQuantile(double q, const std::vector<Bucket>& buckets) {
  const double rank = q * buckets.back().count;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i].count < rank) continue;
    if (std::isinf(buckets[i].le)) return buckets[i - 1].le;
    const double lower = i == 0 ? 0 : buckets[i - 1].le;
    const double below = i == 0 ? 0 : buckets[i - 1].count;
    return lower + (buckets[i].le - lower) * (rank - below) / (buckets[i].count - below);
  }
  return std::nan("");
}

constexpr int kTenants = 3;
constexpr int kFleet = 1000;

std::string formatLe(double le) {
  if (std::isinf(le)) return "+Inf";
  std::ostringstream s;
  s << le;
  return s.str();
}

// A Prometheus API answer: a vector of one series with this value.
std::string oneSample(const std::string& value) {
  return R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,")" + value +
         R"("]}]}})";
}

// The exporter Prometheus scrapes, and a fake Prometheus API under /fake for odd answers.
class Exporter {
 public:
  Exporter() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      ++scrapes_;
      std::ostringstream out;
      out << "# TYPE test_request_duration_seconds histogram\n";
      for (const Bucket& b : kBuckets) {
        out << "test_request_duration_seconds_bucket{le=\"" << formatLe(b.le) << "\"} " << b.count * scrapes_ << "\n";
      }
      out << "test_request_duration_seconds_sum " << 0.3 * kBuckets.back().count * scrapes_ << "\n";
      out << "test_request_duration_seconds_count " << kBuckets.back().count * scrapes_ << "\n";
      // One histogram per tenant namespace, tenant i's bounds (i + 1) times kBuckets': its
      // quantiles are (i + 1) times theirs. Read together by PrometheusReads.
      out << "# TYPE test_tenant_duration_seconds histogram\n";
      for (int i = 0; i < kTenants; ++i) {
        for (const Bucket& b : kBuckets) {
          out << "test_tenant_duration_seconds_bucket{namespace=\"t" << i << "\",le=\"" << formatLe(b.le * (i + 1))
              << "\"} " << b.count * scrapes_ << "\n";
        }
      }
      // The same histogram in each of kFleet namespaces: a fleet of ServiceLevels on one shape.
      out << "# TYPE test_fleet_duration_seconds histogram\n";
      for (int i = 0; i < kFleet; ++i) {
        for (const Bucket& b : kBuckets) {
          out << "test_fleet_duration_seconds_bucket{namespace=\"f" << i << "\",le=\"" << formatLe(b.le) << "\"} "
              << b.count * scrapes_ << "\n";
        }
      }
      // Never observes anything: its quantile is NaN.
      out << "# TYPE test_idle_duration_seconds histogram\n";
      for (const char* le : {"0.1", "1", "+Inf"}) out << "test_idle_duration_seconds_bucket{le=\"" << le << "\"} 4\n";
      out << "test_idle_duration_seconds_sum 1\ntest_idle_duration_seconds_count 4\n";
      res.set_content(out.str(), "text/plain; version=0.0.4");
    });
    server_.Post("/fake/api/v1/query", [](const httplib::Request& req, httplib::Response& res) {
      const std::string q = req.get_param_value("query");
      if (q == "slow") {
        std::this_thread::sleep_for(2500ms);
        res.set_content(R"({"status":"success","data":{"resultType":"scalar","result":[1,"1"]}})", "application/json");
      } else if (q == "html") {
        res.status = 502;
        res.set_content("<html>Bad Gateway</html>", "text/html");
      } else if (q == "matrix") {
        res.set_content(R"({"status":"success","data":{"resultType":"matrix","result":[]}})", "application/json");
      } else if (q == "inf") {
        res.set_content(oneSample("+Inf"), "application/json");
      } else if (q == "garbage") {
        res.set_content(oneSample("abc"), "application/json");
      } else if (q == "sum(rate(x{a=\"b c&d\"}[5m])) + 1") {  // arrived intact through the URL encoding
        res.set_content(oneSample("12.5"), "application/json");
      } else {
        res.status = 400;
        res.set_content(nlohmann::json{{"status", "error"}, {"errorType", "bad_data"}, {"error", "got " + q}}.dump(),
                        "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~Exporter() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  long scrapes_ = 0;  // guarded by mutex_
};

// prometheus as a child process scraping the exporter every second.
class Prometheus {
 public:
  explicit Prometheus(int exporterPort, int port = freePort()) : port_(port) {
    std::string tmpl = (fs::temp_directory_path() / "governor-adapter-prometheus-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return;
    dir_ = tmpl;
    std::ofstream(dir_ / "prometheus.yml") << "global:\n"
                                              "  scrape_interval: 1s\n"
                                              "  evaluation_interval: 1s\n"
                                              "scrape_configs:\n"
                                              "  - job_name: test\n"
                                              "    static_configs:\n"
                                              "      - targets: ['127.0.0.1:"
                                           << exporterPort << "']\n";
    process_.emplace(std::vector<std::string>{findPrometheus(), "--config.file=" + (dir_ / "prometheus.yml").string(),
                                              "--storage.tsdb.path=" + (dir_ / "data").string(),
                                              "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                     (dir_ / "prometheus.log").string(), dir_.string());
  }
  ~Prometheus() {
    if (process_) process_->stop(5s);
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  bool running() const { return process_ && process_->running(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  int port_;
  fs::path dir_;
  std::optional<BackgroundProcess> process_;
};

const std::string kSeries = "test_request_duration_seconds_bucket{job=\"test\"}";

class PrometheusSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (findPrometheus().empty()) return;
    exporter_ = new Exporter();
    prometheus_ = new Prometheus(exporter_->port());
    // Until two scrapes are in the window, the rate has nothing to say.
    kube::PrometheusClient source(prometheus_->url(), 2s);
    const auto started = std::chrono::steady_clock::now();
    for (auto deadline = started + 40s; std::chrono::steady_clock::now() < deadline && prometheus_->running();) {
      if (source.query(latencyQuery(kSeries, 0.95, "10s")).ok()) {
        ready_ = true;
        std::cout << "[ timing ] prometheus answered with data after "
                  << Seconds(std::chrono::steady_clock::now() - started).count() << " s\n";
        return;
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    prometheus_ = nullptr;
    delete exporter_;
    exporter_ = nullptr;
  }
  void SetUp() override {
    ASSERT_FALSE(findPrometheus().empty()) << kNoPrometheus;
    ASSERT_TRUE(ready_) << "prometheus never returned data:\n" << prometheus_->log();
  }

  static inline Exporter* exporter_ = nullptr;
  static inline Prometheus* prometheus_ = nullptr;
  static inline bool ready_ = false;
};

std::string whatOf(const kube::Result<double>& r) {
  return r.ok() ? "<ok: " + std::to_string(r.value()) + ">" : r.error().what();
}

std::string whatOf(const kube::Result<nlohmann::json>& r) { return r.ok() ? r->dump() : r.error().what(); }

TEST(LatencyQueryTest, BuildsHistogramQuantileOfSummedRates) {
  EXPECT_EQ(latencyQuery("http_request_duration_seconds_bucket{job=\"shop\"}", 0.95, "5m"),
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"shop\"}[5m])))");
  EXPECT_EQ(latencyQuery("x_bucket", 0.5, "30s"), "histogram_quantile(0.5, sum by (le) (rate(x_bucket[30s])))");
  EXPECT_EQ(latencyQuery("x_bucket", 0.999, "1m"), "histogram_quantile(0.999, sum by (le) (rate(x_bucket[1m])))");
}

TEST_F(PrometheusSourceTest, QuantilesMatchHistogramQuantileInterpolation) {
  kube::PrometheusClient source(prometheus_->url());
  for (double q : {0.95, 0.5, 0.99, 0.05}) {
    auto measured = source.query(latencyQuery(kSeries, q, "10s"));
    ASSERT_TRUE(measured.ok()) << whatOf(measured);
    const double expected = expectedQuantile(q, kBuckets);
    EXPECT_NEAR(measured.value(), expected, 1e-9 * std::max(1.0, expected)) << "quantile " << q;
  }
  // The hand-computed anchors of expectedQuantile itself.
  EXPECT_DOUBLE_EQ(expectedQuantile(0.95, kBuckets), 0.8125);  // 0.5 + 0.5 × (95-90)/(98-90)
  EXPECT_DOUBLE_EQ(expectedQuantile(0.99, kBuckets), 1.0);     // in +Inf: the highest finite le
}

TEST_F(PrometheusSourceTest, ScalarIsAValue) {
  kube::PrometheusClient source(prometheus_->url());
  auto two = source.query("scalar(vector(2))");
  ASSERT_TRUE(two.ok()) << whatOf(two);
  EXPECT_EQ(two.value(), 2.0);
  auto vector = source.query("vector(1.5)");
  ASSERT_TRUE(vector.ok()) << whatOf(vector);
  EXPECT_EQ(vector.value(), 1.5);
}

TEST_F(PrometheusSourceTest, NoTrafficIsAnErrorNotAZero) {
  kube::PrometheusClient source(prometheus_->url());
  auto idle = source.query(latencyQuery("test_idle_duration_seconds_bucket", 0.95, "10s"));
  ASSERT_FALSE(idle.ok());
  EXPECT_EQ(idle.error().status.reason, "NoData");
  EXPECT_NE(idle.error().what().find("query returned NaN"), std::string::npos) << idle.error().what();
}

TEST_F(PrometheusSourceTest, EmptyAndSeveralSeriesAreErrors) {
  kube::PrometheusClient source(prometheus_->url());
  auto none = source.query(latencyQuery("no_such_metric_bucket", 0.95, "10s"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().what(), "prometheus " + prometheus_->url() + " query \"" +
                                     latencyQuery("no_such_metric_bucket", 0.95, "10s") +
                                     "\": 200 NoData: query returned no data");

  auto six = source.query(kSeries);
  ASSERT_FALSE(six.ok());
  EXPECT_NE(six.error().what().find("query returned 6 series"), std::string::npos) << six.error().what();
}

// A condition's series: every one of them, and none (not an error) while it does not hold.
TEST_F(PrometheusSourceTest, SeriesOfAConditionAreAllOrNone) {
  kube::PrometheusClient source(prometheus_->url());
  auto six = source.series(kSeries);
  ASSERT_TRUE(six.ok()) << whatOf(six);
  EXPECT_EQ(six->size(), 6u);
  auto none = source.series(kSeries + std::string(" < 0"));
  ASSERT_TRUE(none.ok()) << whatOf(none);
  EXPECT_TRUE(none->is_array() && none->empty()) << none->dump();
  auto scalar = source.series("scalar(vector(2))");
  ASSERT_FALSE(scalar.ok());
  EXPECT_NE(scalar.error().what().find("query returned a scalar, want a vector"), std::string::npos)
      << scalar.error().what();
}

// The instant queries Prometheus has answered, from its own /metrics: counted by the server.
double queriesAnswered(const std::string& url) {
  httplib::Client client(url);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  double total = 0;
  std::istringstream lines(res->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("prometheus_http_requests_total{") &&
        line.find("handler=\"/api/v1/query\"") != std::string::npos)
      total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

// Every percentile of the tenants' histograms, one per namespace as the adapter scopes them,
// in one query: each value is what its own query gives alone, and what the interpolation says.
TEST_F(PrometheusSourceTest, OneQueryReadsEveryPercentileOfEveryNamespaceOfAShape) {
  kube::PrometheusClient source(prometheus_->url());
  PrometheusReads reads(source, "10s", "10s");
  const std::vector<int> percentiles = {50, 90, 95, 99};
  std::map<std::pair<int, int>, size_t> read;  // by tenant (kTenants: one without series) and percentile
  for (int i = 0; i <= kTenants; ++i) {
    auto series = api::parseSeriesSelector("test_tenant_duration_seconds_bucket");
    ASSERT_TRUE(series.ok());
    for (int p : percentiles) read[{i, p}] = reads.addQuantile(api::inNamespace(*series, "t" + std::to_string(i)), p);
  }
  const size_t idle = reads.addQuantile(api::parseSeriesSelector("test_idle_duration_seconds_bucket").value(), 95);

  const double before = queriesAnswered(prometheus_->url());
  std::map<std::pair<int, int>, kube::Result<double>> values;
  for (const auto& [at, r] : read) values.emplace(at, reads.reading(r));
  const double after = queriesAnswered(prometheus_->url());
  EXPECT_EQ(reads.queries(), 1u);
  EXPECT_EQ(after - before, 1) << "one query for all " << read.size() << " reads";

  for (int i = 0; i < kTenants; ++i) {
    for (int p : percentiles) {
      const kube::Result<double>& value = values.at({i, p});
      ASSERT_TRUE(value.ok()) << "t" << i << " p" << p << ": " << whatOf(value);
      const double expected = (i + 1) * expectedQuantile(p / 100.0, kBuckets);
      EXPECT_NEAR(value.value(), expected, 1e-9 * expected) << "t" << i << " p" << p;
      const std::string alone = latencyQuery(
          "test_tenant_duration_seconds_bucket{namespace=\"t" + std::to_string(i) + "\"}", p / 100.0, "10s");
      auto asked = source.query(alone);
      ASSERT_TRUE(asked.ok()) << whatOf(asked);
      EXPECT_NEAR(value.value(), asked.value(), 1e-9 * expected) << alone;
    }
  }
  // A namespace without the series, and a histogram without traffic: the errors of their own queries.
  const kube::Result<double>& missing = values.at({kTenants, 95});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().what(),
            "prometheus " + prometheus_->url() + " query \"" +
                latencyQuery("test_tenant_duration_seconds_bucket{namespace=\"t3\"}", 0.95, "10s") +
                "\": 200 NoData: query returned no data");
  const kube::Result<double> nan = reads.reading(idle);
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.error().what().find("query returned NaN"), std::string::npos) << nan.error().what();
  EXPECT_EQ(reads.queries(), 2u) << "the idle histogram is another shape";
}

// A fleet of 1,000 ServiceLevels on one histogram, each in its namespace, each read at the 4
// percentiles the adapter serves: one query per poll, timed against the 4,000 queries they
// were before, asked 4 at once as the Poller does (--poll-concurrency). Prints the figures of
// docs/benchmarks.md ("Prometheus queries per poll").
TEST_F(PrometheusSourceTest, AThousandServiceLevelsOnOneHistogramAreOneQueryPerPoll) {
  kube::PrometheusClient source(prometheus_->url());
  const auto histogram = api::parseSeriesSelector("test_fleet_duration_seconds_bucket").value();
  const std::vector<int> percentiles = {50, 90, 95, 99};
  using Ms = std::chrono::duration<double, std::milli>;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> batched;
  for (int round = 0; round < 5; ++round) {
    PrometheusReads reads(source, "10s", "10s");
    std::vector<size_t> read;
    for (int i = 0; i < kFleet; ++i) {
      for (int p : percentiles)
        read.push_back(reads.addQuantile(api::inNamespace(histogram, "f" + std::to_string(i)), p));
    }
    const double before = queriesAnswered(prometheus_->url());
    const auto started = std::chrono::steady_clock::now();
    for (size_t k = 0; k < read.size(); ++k) {
      auto value = reads.reading(read[k]);
      ASSERT_TRUE(value.ok()) << whatOf(value);
      const double expected = expectedQuantile(percentiles[k % percentiles.size()] / 100.0, kBuckets);
      ASSERT_NEAR(value.value(), expected, 1e-9 * expected) << "read " << k;
    }
    batched.push_back(Ms(std::chrono::steady_clock::now() - started).count());
    EXPECT_EQ(queriesAnswered(prometheus_->url()) - before, 1);
    EXPECT_EQ(reads.queries(), 1u);
  }

  const double before = queriesAnswered(prometheus_->url());
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> pollers;
  std::atomic<int> next{0}, failed{0};
  for (int t = 0; t < 4; ++t) {
    pollers.emplace_back([&] {
      for (int k; (k = next++) < kFleet * 4;) {
        const std::string alone =
            latencyQuery(api::renderSeriesSelector(api::inNamespace(histogram, "f" + std::to_string(k / 4))),
                         percentiles[k % 4] / 100.0, "10s");
        failed += !source.query(alone).ok();
      }
    });
  }
  for (auto& t : pollers) t.join();
  const double alone = Ms(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(queriesAnswered(prometheus_->url()) - before, kFleet * 4);
  std::cout << "[ figures ] " << kFleet << " ServiceLevels x 4 percentiles: one query per poll, " << median(batched)
            << " ms (median of 5); asked alone, 4 at once: " << kFleet * 4 << " queries, " << alone << " ms\n";
}

// Rates of counters of one shape, one query: the rate of each namespace's series.
TEST_F(PrometheusSourceTest, OneQueryReadsTheRateOfEveryNamespaceOfAShape) {
  kube::PrometheusClient source(prometheus_->url());
  PrometheusReads reads(source, "10s", "10s");
  std::vector<size_t> read;
  for (int i = 0; i < kTenants; ++i) {
    auto series = api::parseSeriesSelector("test_tenant_duration_seconds_bucket{le=\"+Inf\"}");
    ASSERT_TRUE(series.ok());
    read.push_back(reads.addRate(api::inNamespace(*series, "t" + std::to_string(i))));
  }
  std::vector<double> rates;
  for (size_t r : read) {
    auto value = reads.reading(r);
    ASSERT_TRUE(value.ok()) << whatOf(value);
    rates.push_back(value.value());
  }
  EXPECT_EQ(reads.queries(), 1u);
  for (int i = 0; i < kTenants; ++i) {
    auto alone = source.query(counterRateQuery(
        "test_tenant_duration_seconds_bucket{namespace=\"t" + std::to_string(i) + "\",le=\"+Inf\"}", "10s"));
    ASSERT_TRUE(alone.ok()) << whatOf(alone);
    EXPECT_GT(rates[i], 0);
    // The same counters at another instant: within a scrape's increase of each other.
    EXPECT_NEAR(rates[i], alone.value(), 0.5 * alone.value()) << "t" << i;
  }
}

TEST_F(PrometheusSourceTest, BadQueryCarriesPrometheusMessage) {
  kube::PrometheusClient source(prometheus_->url());
  auto bad = source.query("sum(");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().status.code, 400);
  EXPECT_EQ(bad.error().status.reason, "Invalid");
  EXPECT_NE(bad.error().status.message.find("parse error"), std::string::npos) << bad.error().what();
}

bool answers(kube::PrometheusClient& source) {
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
    if (source.query("vector(1)").ok()) return true;  // leaves a kept-alive connection behind
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Its own Prometheus, since it stops it.
TEST(PrometheusDownTest, DownIsAnErrorNamingTheURLThenTheSameSourceRecovers) {
  ASSERT_FALSE(findPrometheus().empty()) << kNoPrometheus;
  const int port = freePort();
  auto prometheus = std::make_unique<Prometheus>(freePort(), port);  // scrapes nothing
  const std::string url = prometheus->url();
  kube::PrometheusClient source(url, 1s);
  ASSERT_TRUE(answers(source)) << prometheus->log();
  prometheus.reset();
  const auto started = std::chrono::steady_clock::now();
  auto down = source.query("vector(1)");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().what(), "prometheus " + url + " query \"vector(1)\": Unavailable: could not connect");
  EXPECT_LT(elapsed, 2s);
  std::cout << "[ timing ] stopped prometheus detected after " << Seconds(elapsed).count() << " s\n";

  prometheus = std::make_unique<Prometheus>(freePort(), port);
  ASSERT_TRUE(answers(source)) << prometheus->log();  // the same source, once it is back

  // A restart between two queries: the kept-alive connection is dead, the next query must
  // still succeed (readiness is checked over another connection).
  prometheus.reset();
  prometheus = std::make_unique<Prometheus>(freePort(), port);
  kube::PrometheusClient probe(url, 1s);
  ASSERT_TRUE(answers(probe)) << prometheus->log();
  auto afterRestart = source.query("vector(1)");
  EXPECT_TRUE(afterRestart.ok()) << whatOf(afterRestart);
}

class FakePrometheusTest : public ::testing::Test {
 protected:
  Exporter exporter_;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(exporter_.port()) + "/fake"; }
};

TEST_F(FakePrometheusTest, PathPrefixAndQueryEncoding) {
  kube::PrometheusClient source(url() + "/");
  const std::string q = "sum(rate(x{a=\"b c&d\"}[5m])) + 1";
  auto r = source.query(q);
  ASSERT_TRUE(r.ok()) << whatOf(r);
  EXPECT_EQ(r.value(), 12.5);
}

TEST_F(FakePrometheusTest, OddAnswersAreErrors) {
  kube::PrometheusClient source(url());
  auto html = source.query("html");
  ASSERT_FALSE(html.ok());
  EXPECT_EQ(html.error().status.code, 502);
  EXPECT_EQ(html.error().status.reason, "InvalidResponse");
  EXPECT_NE(html.error().what().find("Bad Gateway"), std::string::npos);

  auto matrix = source.query("matrix");
  ASSERT_FALSE(matrix.ok());
  EXPECT_NE(matrix.error().what().find("returned a matrix"), std::string::npos);

  auto inf = source.query("inf");
  ASSERT_FALSE(inf.ok());
  EXPECT_EQ(inf.error().status.reason, "NoData");
  EXPECT_NE(inf.error().what().find("+Inf"), std::string::npos);

  auto garbage = source.query("garbage");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().what().find("\"abc\" is not a number"), std::string::npos);
}

TEST_F(FakePrometheusTest, SlowServerTimesOut) {
  const auto timeout = 1s;
  kube::PrometheusClient source(url(), timeout);
  const auto started = std::chrono::steady_clock::now();
  auto slow = source.query("slow");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().status.reason, "Timeout");
  EXPECT_LT(elapsed, timeout + 1s);
  std::cout << "[ timing ] slow prometheus detected after " << Seconds(elapsed).count() << " s\n";
}

TEST(PrometheusSourceErrors, NobodyListeningAndBadURLs) {
  const std::string url = "http://127.0.0.1:" + std::to_string(freePort());
  kube::PrometheusClient source(url, 1s);
  auto r = source.query("up");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().what(), "prometheus " + url + " query \"up\": Unavailable: could not connect");
  EXPECT_TRUE(r.error().isTransport());

  kube::PrometheusClient noScheme("prometheus:9090");
  ASSERT_FALSE(noScheme.query("up").ok());
  EXPECT_NE(noScheme.query("up").error().what().find("does not start with http:// or https://"), std::string::npos);
  kube::PrometheusClient noHost("http://");
  ASSERT_FALSE(noHost.query("up").ok());
}

}  // namespace
}  // namespace governor::adapter
