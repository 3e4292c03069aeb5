// The operator's /healthz, /readyz and /metrics endpoints, and what they do with requests
// from anyone who reaches the pod: a gzip bomb and a request line without end are refused
// without growing memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "operator/endpoints.h"
#include "support/http_attacks.h"

namespace governor::op {
namespace {

using testing::RawClient;
using testing::statusOf;

constexpr long kMiB = 1 << 20;

std::string get(int port, const std::string& path) {
  RawClient c(port);
  c.send("GET " + path + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  return c.receive();
}

TEST(Endpoints, HealthAndReadinessFollowTheReadyFunction) {
  std::atomic<bool> ready{false};
  auto health = Endpoints::health("127.0.0.1:0", [&] { return ready ? "" : std::string("informers not synced: x"); });
  ASSERT_TRUE(health) << health.error().what();
  int port = (*health)->port();
  EXPECT_EQ(statusOf(get(port, "/healthz")), 200);
  auto notReady = get(port, "/readyz");
  EXPECT_EQ(statusOf(notReady), 503);
  EXPECT_THAT(notReady, ::testing::HasSubstr("informers not synced: x")) << "the reason, for kubectl describe";
  ready = true;
  EXPECT_EQ(statusOf(get(port, "/readyz")), 200);
  EXPECT_EQ(statusOf(get(port, "/metrics")), 404);
}

TEST(Endpoints, MetricsAreServedInTheTextFormat) {
  auto metrics = Endpoints::metrics("127.0.0.1:0", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(metrics) << metrics.error().what();
  auto answer = get((*metrics)->port(), "/metrics");
  EXPECT_EQ(statusOf(answer), 200) << answer;
  EXPECT_NE(answer.find("Content-Type: text/plain; version=0.0.4\r\n"), std::string::npos) << answer;
}

TEST(Endpoints, ABadBindAddressIsAnErrorNamingIt) {
  auto bad = Endpoints::health("nowhere", [] { return std::string(); });
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().status.message,
            "bind address \"nowhere\": use host:port or :port, with a port from 0 (any free port) to 65535");
  for (const char* text : {":http", "127.0.0.1:99999", "127.0.0.1:", ":"}) {
    auto refused = Endpoints::health(text, [] { return std::string(); });
    ASSERT_FALSE(refused) << text;
    EXPECT_NE(refused.error().status.message.find("a port from 0 (any free port) to 65535"), std::string::npos) << text;
  }
  auto off = Endpoints::health("0", [] { return std::string(); });
  ASSERT_TRUE(off);
  EXPECT_EQ((*off)->port(), 0) << "0 turns it off";
}

TEST(Endpoints, AGzipPostOrAnEndlessRequestLineNeverGrowsMemory) {
  auto health = Endpoints::health("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(health) << health.error().what();
  int port = (*health)->port();
  auto bomb = testing::gzipBomb(256 * kMiB);
  testing::PeakMemory memory;
  {
    RawClient c(port);
    c.send("POST /healthz HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) +
           "\r\n\r\n" + bomb);
    EXPECT_EQ(statusOf(c.receive()), 415);
  }
  {
    RawClient c(port);
    c.send("GET /");
    EXPECT_LT(c.flood(96 * kMiB, 'a'), size_t{16 * kMiB});
  }
  EXPECT_LT(memory.growth(), 8 * kMiB);
  EXPECT_EQ(statusOf(get(port, "/healthz")), 200);
}

}  // namespace
}  // namespace governor::op
