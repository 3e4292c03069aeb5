// Runs a real redis-server (Redis 7) on the redis.conf that redisConf() writes and asks it,
// over RESP, which settings it took. Needs no Kubernetes cluster: only redis-server on PATH
// (or in $REDIS_SERVER); skipped when there is none.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "operator/render/render.h"

namespace governor::op {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string findRedisServer() {
  if (const char* env = std::getenv("REDIS_SERVER"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / "redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// A minimal RESP client: one connection per command, replies flattened to strings
// (arrays to their elements, errors to "-ERR ...", nil to "<nil>").
class Resp {
 public:
  explicit Resp(int fd) : fd_(fd) {}

  static std::optional<std::vector<std::string>> command(int port, const std::vector<std::string>& args) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return std::nullopt;
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    std::optional<std::vector<std::string>> reply;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      std::string request = "*" + std::to_string(args.size()) + "\r\n";
      for (const auto& a : args) request += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
      if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
        Resp r(fd);
        std::vector<std::string> out;
        if (r.read(out)) reply = out;
      }
    }
    close(fd);
    return reply;
  }

 private:
  bool fill() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
  bool line(std::string& out) {
    size_t end;
    while ((end = buffer_.find("\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    out = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    return true;
  }
  bool read(std::vector<std::string>& out) {
    std::string header;
    if (!line(header) || header.empty()) return false;
    const std::string rest = header.substr(1);
    switch (header[0]) {
      case '+':
      case ':':
        out.push_back(rest);
        return true;
      case '-':
        out.push_back(header);
        return true;
      case '$': {
        long n = std::stol(rest);
        if (n < 0) {
          out.push_back("<nil>");
          return true;
        }
        while (buffer_.size() < static_cast<size_t>(n) + 2) {
          if (!fill()) return false;
        }
        out.push_back(buffer_.substr(0, static_cast<size_t>(n)));
        buffer_.erase(0, static_cast<size_t>(n) + 2);
        return true;
      }
      case '*': {
        long n = std::stol(rest);
        for (long i = 0; i < n; ++i) {
          if (!read(out)) return false;
        }
        return true;
      }
    }
    return false;
  }

  int fd_;
  std::string buffer_;
};

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
    const std::string log = (dir_ / "redis.log").string();
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      if (chdir(dir_.c_str()) != 0) _exit(126);
      execl(binary.c_str(), binary.c_str(), confPath.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }

  ~RedisServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 100 && !exited(); ++i) std::this_thread::sleep_for(50ms);
      if (!exited()) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // Waits for PONG; on failure says why, with the server's log.
  ::testing::AssertionResult ready() {
    if (pid_ <= 0) return ::testing::AssertionFailure() << "could not start redis-server";
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      if (exited()) {
        return ::testing::AssertionFailure() << "redis-server exited with status " << status_ << ":\n" << log();
      }
      auto pong = Resp::command(port_, {"PING"});
      if (pong && *pong == std::vector<std::string>{"PONG"}) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(50ms);
    }
    return ::testing::AssertionFailure() << "redis-server did not answer PING on port " << port_ << ":\n" << log();
  }

  std::string config(const std::string& name) const {
    auto reply = Resp::command(port_, {"CONFIG", "GET", name});
    if (!reply) return "<no reply>";
    if (reply->size() != 2 || (*reply)[0] != name) {
      std::string all;
      for (const auto& r : *reply) all += "[" + r + "]";
      return "<unexpected " + all + ">";
    }
    return (*reply)[1];
  }

  std::string log() const {
    std::ifstream in(dir_ / "redis.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  bool exited() {
    if (exited_) return true;
    if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return exited_;
  }

  int port_;
  fs::path dir_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

Cache cache(const std::string& maxMemory, const std::string& policy) {
  Cache c;
  c.maxMemoryText = maxMemory;
  auto q = kube::parseQuantity(maxMemory);
  EXPECT_TRUE(q.ok()) << maxMemory;
  if (q) c.maxMemory = *q;
  c.evictionPolicy = policy;
  return c;
}

class RedisConfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = findRedisServer();
    if (binary_.empty()) GTEST_SKIP() << "no redis-server on PATH (install Debian's redis-server or set REDIS_SERVER)";
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
  auto set = Resp::command(port, {"SET", "greeting", "hello", "EX", "60"});
  ASSERT_TRUE(set);
  EXPECT_EQ(*set, std::vector<std::string>{"OK"});
  auto get = Resp::command(port, {"GET", "greeting"});
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
