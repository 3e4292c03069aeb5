// The client against small fake API servers: the client-side rate limit, Retry-After on
// 429 and 503, a request bounded by its timeout, and writes refused after a lost lease.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kube/client.h"
#include "kube/rate_limit.h"
#include "support/local_server.h"

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Client> clientFor(const std::string& url) {
  Config config;
  config.server = url;
  auto client = Client::create(config);
  EXPECT_TRUE(client.ok()) << client.error().what();
  return std::move(*client);
}

TEST(TokenBucket, AllowsABurstThenQpsAndRefillsUpToTheBurst) {
  auto now = Clock::time_point{};
  TokenBucket bucket(10, 3, [&] { return now; });
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 0ns) << "three at once: the burst";
  EXPECT_EQ(bucket.reserve(), 100ms) << "then one every 1/qps seconds";
  EXPECT_EQ(bucket.reserve(), 200ms) << "callers queue behind one another";
  now += 10s;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 100ms) << "an idle bucket refills to the burst, no more";
}

TEST(TokenBucket, ZeroQpsIsNoLimit) {
  TokenBucket bucket(0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bucket.reserve(), 0ns);
}

TEST(Client, WaitsForRetryAfterOn429AndSucceeds) {
  testing::LocalServer api;
  std::atomic<int> calls{0};
  api.server().Get("/api/v1/namespaces/ns/configmaps/c", [&](const httplib::Request&, httplib::Response& res) {
    if (calls++ == 0) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(R"({"kind":"Status","reason":"TooManyRequests","code":429})", "application/json");
      return;
    }
    res.set_content(R"({"kind":"ConfigMap","metadata":{"name":"c"}})", "application/json");
  });
  api.start();
  auto client = clientFor(api.url());
  auto started = Clock::now();
  auto got = client->get({"", "v1", "configmaps", true}, "ns", "c");
  auto took = Clock::now() - started;
  ASSERT_TRUE(got.ok()) << got.error().what();
  EXPECT_EQ((*got)["metadata"]["name"], "c");
  EXPECT_EQ(calls, 2);
  EXPECT_GE(took, 1s) << "it waited as the server asked";
  EXPECT_LT(took, 3s);
}

TEST(Client, GivesUpOn503AfterAFewRetriesOrWhenRetryAfterOutlastsTheTimeout) {
  testing::LocalServer api;
  std::atomic<int> calls{0};
  api.server().Get("/api/v1/namespaces/ns/configmaps/busy", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 503;
    res.set_header("Retry-After", "0");
  });
  api.server().Get("/api/v1/namespaces/ns/configmaps/later", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 429;
    res.set_header("Retry-After", "60");
  });
  api.start();
  auto client = clientFor(api.url());
  auto busy = client->get({"", "v1", "configmaps", true}, "ns", "busy");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().status.code, 503);
  EXPECT_EQ(calls, 4) << "the first try and three retries";
  calls = 0;
  client->setTimeout(2s);
  auto started = Clock::now();
  auto later = client->get({"", "v1", "configmaps", true}, "ns", "later");
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().status.code, 429);
  EXPECT_EQ(calls, 1) << "a wait past the request's timeout is not waited";
  EXPECT_LT(Clock::now() - started, 1s);
}

TEST(Client, ARequestEndsByItsTimeoutWhenTheServerStalls) {
  testing::LocalServer api;
  std::atomic<bool> closing{false};
  api.server().Put("/api/v1/namespaces/ns/configmaps/c", [&](const httplib::Request&, httplib::Response& res) {
    for (auto until = Clock::now() + 10s; !closing && Clock::now() < until;) std::this_thread::sleep_for(10ms);
    res.set_content("{}", "application/json");
  });
  api.start();
  auto client = clientFor(api.url());
  client->setTimeout(1s);
  auto started = Clock::now();
  auto put = client->update({"", "v1", "configmaps", true}, {{"metadata", {{"namespace", "ns"}, {"name", "c"}}}});
  auto took = Clock::now() - started;
  closing = true;
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().status.reason, "Timeout");
  EXPECT_LT(took, 1500ms);
}

TEST(Client, RefusedWritesAreNeverSentButReadsGoOn) {
  testing::LocalServer api;
  std::atomic<int> writes{0};
  api.server().Get("/api/v1/namespaces/ns/configmaps/c",
                   [&](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  api.server().Patch("/api/v1/namespaces/ns/configmaps/c", [&](const httplib::Request&, httplib::Response& res) {
    ++writes;
    res.set_content("{}", "application/json");
  });
  api.start();
  auto client = clientFor(api.url());
  const Resource configMaps{"", "v1", "configmaps", true};
  ASSERT_TRUE(client->mergePatch(configMaps, "ns", "c", {{"data", {{"a", "1"}}}}).ok());
  client->refuseWrites();
  auto patch = client->mergePatch(configMaps, "ns", "c", {{"data", {{"a", "2"}}}});
  ASSERT_FALSE(patch.ok());
  EXPECT_EQ(patch.error().what(),
            "PATCH /api/v1/namespaces/ns/configmaps/c: WritesRefused: this process no longer writes (it lost its "
            "lease, or it is stopping)");
  EXPECT_EQ(writes, 1);
  EXPECT_TRUE(client->get(configMaps, "ns", "c").ok());
}

}  // namespace
}  // namespace governor::kube
