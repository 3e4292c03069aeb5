// Runs a real redis-server (Redis 7) on the redis.conf that redisConf() writes and asks it,
// through hiredis, which settings it took. Needs no Kubernetes cluster: only redis-server on
// PATH (or in $REDIS_SERVER); fails when there is none, since scripts/install-deps installs it.
#include <hiredis/hiredis.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "operator/render/render.h"
#include "support/process.h"
#include "unit/operator/render/sample.h"

namespace governor::op {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using governor::testing::BackgroundProcess;
using governor::testing::findProgram;
using governor::testing::freePort;

std::string findRedisServer() {
  return findProgram("REDIS_SERVER", {"redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"});
}

// Appends `r` flattened to strings: arrays to their elements, errors to "-ERR ...", nil to
// "<nil>", integers to their digits.
void flatten(const redisReply& r, std::vector<std::string>& out) {
  switch (r.type) {
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r.elements; ++i) flatten(*r.element[i], out);
      break;
    case REDIS_REPLY_INTEGER: out.push_back(std::to_string(r.integer)); break;
    case REDIS_REPLY_NIL: out.push_back("<nil>"); break;
    case REDIS_REPLY_ERROR: out.push_back("-" + std::string(r.str, r.len)); break;
    default:  // status and string
      out.emplace_back(r.str, r.len);
  }
}

// One command over a fresh connection; its reply flattened, nullopt when there is none.
std::optional<std::vector<std::string>> command(int port, const std::vector<std::string>& args) {
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0});
  std::optional<std::vector<std::string>> out;
  if (c && !c->err && redisSetTimeout(c, timeval{2, 0}) == REDIS_OK) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    const int argc = static_cast<int>(args.size());
    auto* reply = static_cast<redisReply*>(redisCommandArgv(c, argc, argv.data(), lengths.data()));
    if (reply) {
      flatten(*reply, out.emplace());
      freeReplyObject(reply);
    }
  }
  redisFree(c);
  return out;
}

// redis-server on a config file in a temporary directory (its working directory too, so
// nothing it might write lands elsewhere); stopped and cleaned up on destruction.
class RedisServer {
 public:
  RedisServer(const std::string& binary, const std::string& conf, int port) : port_(port) {
    std::string tmpl = (fs::temp_directory_path() / "governor-redis-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return;
    dir_ = tmpl;
    const fs::path confPath = dir_ / "redis.conf";
    std::ofstream(confPath) << conf;
    process_.emplace(std::vector<std::string>{binary, confPath.string()}, (dir_ / "redis.log").string(), dir_.string());
  }

  ~RedisServer() {
    if (process_) process_->stop(5s);
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // Waits for PONG; on failure says why, with the server's log.
  ::testing::AssertionResult ready() {
    if (!process_) return ::testing::AssertionFailure() << "could not start redis-server";
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      if (!process_->running()) {
        return ::testing::AssertionFailure() << "redis-server exited with status " << process_->stop() << ":\n"
                                             << log();
      }
      auto pong = command(port_, {"PING"});
      if (pong && *pong == std::vector<std::string>{"PONG"}) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(50ms);
    }
    return ::testing::AssertionFailure() << "redis-server did not answer PING on port " << port_ << ":\n" << log();
  }

  std::string config(const std::string& name) const {
    auto reply = command(port_, {"CONFIG", "GET", name});
    if (!reply) return "<no reply>";
    if (reply->size() != 2 || (*reply)[0] != name) {
      std::string all;
      for (const auto& r : *reply) all += "[" + r + "]";
      return "<unexpected " + all + ">";
    }
    return (*reply)[1];
  }

  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  int port_;
  fs::path dir_;
  std::optional<BackgroundProcess> process_;
};

class RedisConfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = findRedisServer();
    ASSERT_FALSE(binary_.empty()) << "redis-server not found: run scripts/install-deps (or set REDIS_SERVER)";
  }

  // redisConf() as is, but for the port: a later `port` line overrides the first.
  std::string confOnPort(const Cache& c, int port) { return redisConf(c) + "port " + std::to_string(port) + "\n"; }

  std::string binary_;
};

TEST_F(RedisConfTest, RedisServerRunsAsACache) {
  const int port = freePort();
  ASSERT_NE(port, 0);
  RedisServer server(binary_, confOnPort(cache("100Mi", "allkeys-lfu"), port), port);
  ASSERT_TRUE(server.ready());

  EXPECT_EQ(server.config("maxmemory"), "104857600");
  EXPECT_EQ(server.config("maxmemory-policy"), "allkeys-lfu");
  EXPECT_EQ(server.config("save"), "");
  EXPECT_EQ(server.config("appendonly"), "no");
  EXPECT_EQ(server.config("protected-mode"), "no");
  EXPECT_EQ(server.config("bind"), "* -::*");
  EXPECT_EQ(server.config("port"), std::to_string(port));

  // It works as a cache: keys with a TTL can be set and read.
  auto set = command(port, {"SET", "greeting", "hello", "EX", "60"});
  ASSERT_TRUE(set);
  EXPECT_EQ(*set, std::vector<std::string>{"OK"});
  auto get = command(port, {"GET", "greeting"});
  ASSERT_TRUE(get);
  EXPECT_EQ(*get, std::vector<std::string>{"hello"});
}

TEST_F(RedisConfTest, EveryEvictionPolicyOfTheApiIsAccepted) {
  for (const std::string policy : {"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
                                   "volatile-random", "volatile-ttl"}) {
    SCOPED_TRACE(policy);
    const int port = freePort();
    ASSERT_NE(port, 0);
    RedisServer server(binary_, confOnPort(cache("1.5Gi", policy), port), port);
    ASSERT_TRUE(server.ready());
    EXPECT_EQ(server.config("maxmemory-policy"), policy);
    EXPECT_EQ(server.config("maxmemory"), "1610612736");
  }
}

}  // namespace
}  // namespace governor::op
