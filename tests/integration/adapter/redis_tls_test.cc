// RedisSource over TLS against a real redis-server (Redis 7, built with TLS) with certificates
// the openssl CLI makes in a temporary directory: backlogs over TLS, verification of the CA and
// of the host, a server on the wrong kind of port, passwords and client certificates. The test
// sets up its data through the server's plain port with redis-cli.
#include <stdlib.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "metrics-adapter/sources/redis_source.h"
#include "support/process.h"

namespace governor::adapter {
namespace {

namespace fs = std::filesystem;
using governor::testing::TempDir;
using namespace std::chrono_literals;

std::string findRedisServer() {
  return governor::testing::findProgram("REDIS_SERVER",
                                        {"redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"});
}

std::string whatOf(const kube::Result<int64_t>& r) {
  return r.ok() ? "<ok: " + std::to_string(r.value()) + ">" : r.error().what();
}

// Certificates made with the openssl CLI: a CA, a CA nobody trusts, and leaves signed by the CA.
class Certificates {
 public:
  ::testing::AssertionResult make() {
    if (!dir_.ok()) return ::testing::AssertionFailure() << "no temporary directory";
    for (const std::string& command :
         {certificate("ca"), certificate("other-ca"), leaf("server", "serverAuth", "IP:127.0.0.1,DNS:localhost"),
          leaf("elsewhere", "serverAuth", "DNS:redis.example.com"), leaf("client", "clientAuth", "DNS:worker")}) {
      const governor::testing::CommandResult r = governor::testing::run(command);
      if (r.status != 0) return ::testing::AssertionFailure() << command << ":\n" << r.output;
    }
    return ::testing::AssertionSuccess();
  }
  std::string crt(const std::string& name) const { return dir_.file(name + ".crt"); }
  std::string key(const std::string& name) const { return dir_.file(name + ".key"); }

 private:
  // The openssl command that makes NAME.key and NAME.crt, self-signed unless -CA follows.
  std::string certificate(const std::string& name) const {
    return "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key(name) + " -out " +
           crt(name) + " -x509 -days 1 -subj /CN=" + name;
  }
  std::string leaf(const std::string& name, const std::string& usage, const std::string& sans) const {
    return certificate(name) + " -CA " + crt("ca") + " -CAkey " + key("ca") +
           " -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=" + usage +
           " -addext subjectAltName=" + sans;
  }

  TempDir dir_{"redis-tls"};
};

// redis-server with a plain port (the test's own set-up) and a TLS port (what the source
// measures) in a temporary directory; stopped on destruction.
class TlsRedisServer {
 public:
  struct Options {
    std::string certName = "server";  // of Certificates
    bool authClients = false;         // tls-auth-clients
    std::string password;
  };

  TlsRedisServer(const Certificates& certificates, Options options)
      : certificates_(certificates), options_(std::move(options)) {
    while (tlsPort_ == plainPort_) tlsPort_ = governor::testing::freePort();
  }
  ~TlsRedisServer() { stop(); }

  ::testing::AssertionResult start() {
    if (!dir_.ok()) return ::testing::AssertionFailure() << "no temporary directory";
    std::vector<std::string> args{findRedisServer(),
                                  "--port",
                                  std::to_string(plainPort_),
                                  "--tls-port",
                                  std::to_string(tlsPort_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--tls-cert-file",
                                  certificates_.crt(options_.certName),
                                  "--tls-key-file",
                                  certificates_.key(options_.certName),
                                  "--tls-ca-cert-file",
                                  certificates_.crt("ca"),
                                  "--tls-auth-clients",
                                  options_.authClients ? "yes" : "no",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "no",
                                  "--daemonize",
                                  "no"};
    if (!options_.password.empty()) args.insert(args.end(), {"--requirepass", options_.password});
    process_.emplace(args, dir_.file("redis.log"), dir_.file(""));
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      if (!process_->running()) return ::testing::AssertionFailure() << "redis-server exited:\n" << process_->log();
      if (cli("PING").output == "PONG\n") return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(20ms);
    }
    return ::testing::AssertionFailure() << "redis-server did not answer PING:\n" << process_->log();
  }
  void stop() {
    if (process_) process_->stop(2s);
  }
  void pause() { process_->signal(SIGSTOP); }
  void resume() { process_->signal(SIGCONT); }

  // redis-cli on the plain port: `cli("RPUSH jobs a b")`.
  governor::testing::CommandResult cli(const std::string& command) const {
    const std::string auth = options_.password.empty() ? "" : "--no-auth-warning -a " + options_.password + " ";
    return governor::testing::run("redis-cli -p " + std::to_string(plainPort_) + " " + auth + command);
  }
  long long connectionsReceived() const {
    const std::string info = cli("INFO stats").output;
    const std::string field = "total_connections_received:";
    const size_t at = info.find(field);
    return at == std::string::npos ? -1 : std::stoll(info.substr(at + field.size()));
  }

  std::string tlsAddress(const std::string& host = "127.0.0.1") const { return host + ":" + std::to_string(tlsPort_); }
  std::string plainAddress() const { return "127.0.0.1:" + std::to_string(plainPort_); }

 private:
  const Certificates& certificates_;
  Options options_;
  TempDir dir_{"redis-tls"};
  int plainPort_ = governor::testing::freePort();
  int tlsPort_ = governor::testing::freePort();
  std::optional<governor::testing::BackgroundProcess> process_;
};

class RedisTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certificates_ = std::make_unique<Certificates>();
    made_ = certificates_->make();
  }
  static void TearDownTestSuite() { certificates_.reset(); }

  void SetUp() override {
    ASSERT_FALSE(findRedisServer().empty()) << "redis-server not found: run scripts/install-deps (or set REDIS_SERVER)";
    ASSERT_TRUE(made_);
  }
  // Starts a server; the test's `server_`.
  void start(TlsRedisServer::Options options = {}) {
    server_ = std::make_unique<TlsRedisServer>(*certificates_, std::move(options));
    ASSERT_TRUE(server_->start());
  }
  // Options that trust the test CA.
  static RedisSourceOptions trusting(std::chrono::milliseconds timeout = 2s) {
    return {.timeout = timeout, .tls = {.caFile = certificates_->crt("ca")}};
  }
  RedisQueue tlsList(const std::string& key, const std::string& host = "127.0.0.1") const {
    return {.address = server_->tlsAddress(host), .key = key, .tls = true};
  }

  static inline std::unique_ptr<Certificates> certificates_;
  static inline ::testing::AssertionResult made_ = ::testing::AssertionFailure();
  std::unique_ptr<TlsRedisServer> server_;
};

TEST_F(RedisTlsTest, ListAndStreamGroupBacklogOverOneKeptConnection) {
  start();
  ASSERT_EQ(server_->cli("RPUSH jobs a b c d e f g").output, "7\n");
  for (int i = 0; i < 30; ++i) ASSERT_EQ(server_->cli("XADD events '*' job " + std::to_string(i)).status, 0);
  ASSERT_EQ(server_->cli("XGROUP CREATE events g 0").output, "OK\n");
  ASSERT_EQ(server_->cli("XREADGROUP GROUP g worker COUNT 10 STREAMS events '>'").status, 0);  // 10 pending

  RedisSource source(trusting());
  const RedisQueue stream{.address = server_->tlsAddress(),
                          .key = "events",
                          .type = RedisQueue::Type::Stream,
                          .consumerGroup = "g",
                          .tls = true};
  auto list = source.backlog(tlsList("jobs"));
  ASSERT_TRUE(list.ok()) << whatOf(list);
  EXPECT_EQ(list.value(), 7);

  const long long before = server_->connectionsReceived();
  for (int i = 0; i < 10; ++i) {
    auto group = source.backlog(stream);
    ASSERT_TRUE(group.ok()) << whatOf(group);
    EXPECT_EQ(group.value(), 30);  // 20 undelivered + 10 pending
    ASSERT_TRUE(source.backlog(tlsList("jobs")).ok());
  }
  EXPECT_EQ(server_->connectionsReceived() - before, 1);  // redis-cli's own INFO: the source kept its one
  EXPECT_EQ(source.openConnections(), 1u);
}

// A poll's pipeline over TLS: 2,000 commands (about 60 KB) out and their replies back span
// many TLS records each way.
TEST_F(RedisTlsTest, TwoThousandQueuesInOnePipeline) {
  start();
  ASSERT_EQ(server_->cli("RPUSH q7 a b c d e f g").output, "7\n");
  std::vector<RedisRead> reads;
  for (int i = 0; i < 2000; ++i) reads.push_back({tlsList("q" + std::to_string(i))});
  RedisSource source(trusting());
  const std::vector<RedisReading> read = source.read(reads);
  ASSERT_EQ(read.size(), reads.size());
  for (size_t i = 0; i < read.size(); ++i) {
    ASSERT_TRUE(read[i].backlog.ok()) << i << ": " << whatOf(read[i].backlog);
    EXPECT_EQ(read[i].backlog.value(), i == 7 ? 7 : 0) << i;
  }
  EXPECT_EQ(source.openConnections(), 1u);
}

TEST_F(RedisTlsTest, DnsNameIsVerifiedAndSentAsSni) {
  start();
  ASSERT_EQ(server_->cli("RPUSH jobs a b").output, "2\n");
  RedisSource source(trusting());
  auto r = source.backlog(tlsList("jobs", "localhost"));  // the certificate names DNS:localhost
  ASSERT_TRUE(r.ok()) << whatOf(r);
  EXPECT_EQ(r.value(), 2);
}

TEST_F(RedisTlsTest, ServerSignedByAnotherCaIsRefused) {
  start();
  TempDir dir{"redis-tls"};
  const std::string caFile = dir.file("ca.crt");
  fs::copy_file(certificates_->crt("other-ca"), caFile);
  RedisSource source({.tls = {.caFile = caFile}});
  auto wrongCa = source.backlog(tlsList("jobs"));
  ASSERT_FALSE(wrongCa.ok());
  // redis-server sends its certificate with the CA's, which this bundle does not hold.
  EXPECT_EQ(wrongCa.error().what(), "redis " + server_->tlsAddress() +
                                        " key jobs: Invalid: TLS handshake: certificate verify failed: self-signed "
                                        "certificate in certificate chain");
  EXPECT_EQ(source.openConnections(), 0u);

  RedisSource systemCas;  // the test CA is not among the system's
  auto untrusted = systemCas.backlog(tlsList("jobs"));
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().what().find("certificate verify failed"), std::string::npos) << untrusted.error().what();

  // The CA file is read for every new connection: a corrected bundle needs no restart.
  fs::copy_file(certificates_->crt("ca"), caFile, fs::copy_options::overwrite_existing);
  auto fixed = source.backlog(tlsList("jobs"));
  ASSERT_TRUE(fixed.ok()) << whatOf(fixed);
  EXPECT_EQ(fixed.value(), 0);
}

TEST_F(RedisTlsTest, CertificateForAnotherHostIsRefused) {
  start({.certName = "elsewhere"});  // DNS:redis.example.com only
  RedisSource source(trusting());
  auto byIp = source.backlog(tlsList("jobs"));
  ASSERT_FALSE(byIp.ok());
  EXPECT_EQ(byIp.error().status.reason, "Invalid");
  EXPECT_NE(byIp.error().what().find("TLS handshake: certificate verify failed: IP address mismatch"),
            std::string::npos)
      << byIp.error().what();
  auto byName = source.backlog(tlsList("jobs", "localhost"));
  ASSERT_FALSE(byName.ok());
  EXPECT_NE(byName.error().what().find("TLS handshake: certificate verify failed: hostname mismatch"),
            std::string::npos)
      << byName.error().what();
}

TEST_F(RedisTlsTest, PlainClientOnTheTlsPortIsAClearError) {
  start();
  const auto timeout = 1s;
  RedisSource source({.timeout = timeout});
  const auto started = std::chrono::steady_clock::now();
  auto r = source.backlog({.address = server_->tlsAddress(), .key = "jobs"});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what().find("before its first reply (a TLS port needs tls: true)"), std::string::npos)
      << r.error().what();
  EXPECT_LT(elapsed, timeout + 500ms);
}

TEST_F(RedisTlsTest, TlsClientOnThePlainPortIsAClearError) {
  start();
  const auto timeout = 1s;
  RedisSource source(trusting(timeout));
  // redis-server reads the ClientHello as an inline command: it either waits for a newline
  // (the handshake times out) or answers an error (which is not TLS).
  const auto started = std::chrono::steady_clock::now();
  auto r = source.backlog({.address = server_->plainAddress(), .key = "jobs", .tls = true});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.ok());
  const std::string what = r.error().what();
  EXPECT_TRUE(what.ends_with("Timeout: TLS handshake: timed out after 1s without a byte from the server (a plain "
                             "port, or a hung server)") ||
              what.ends_with("Invalid: TLS handshake: wrong version number (the server does not speak TLS on this "
                             "port?)"))
      << what;
  EXPECT_LT(elapsed, timeout + 500ms);
}

TEST_F(RedisTlsTest, HungServerTimesOutInTheHandshakeAndInCommands) {
  start();
  const auto timeout = 1s;
  RedisSource kept(trusting(timeout));
  ASSERT_TRUE(kept.backlog(tlsList("jobs")).ok());

  server_->pause();  // the kernel still accepts connections; nobody answers
  RedisSource fresh(trusting(timeout));
  auto started = std::chrono::steady_clock::now();
  auto handshake = fresh.backlog(tlsList("jobs"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, timeout + 500ms);
  started = std::chrono::steady_clock::now();
  auto command = kept.backlog(tlsList("jobs"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, timeout + 500ms);
  server_->resume();

  ASSERT_FALSE(handshake.ok());
  EXPECT_EQ(handshake.error().what(), "redis " + server_->tlsAddress() +
                                          " key jobs: Timeout: TLS handshake: timed out after 1s without a byte from "
                                          "the server (a plain port, or a hung server)");
  ASSERT_FALSE(command.ok());
  EXPECT_EQ(command.error().what(), "redis " + server_->tlsAddress() + " key jobs: Timeout: timed out after 1s");
  auto back = kept.backlog(tlsList("jobs"));
  EXPECT_TRUE(back.ok()) << whatOf(back);
}

TEST_F(RedisTlsTest, PasswordOverTls) {
  start({.password = "s3cret"});
  ASSERT_EQ(server_->cli("RPUSH jobs a b c").output, "3\n");
  RedisSource source(trusting());
  RedisQueue queue = tlsList("jobs");
  queue.password = "s3cret";
  auto right = source.backlog(queue);
  ASSERT_TRUE(right.ok()) << whatOf(right);
  EXPECT_EQ(right.value(), 3);

  queue.password = "wrong";
  auto wrong = source.backlog(queue);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().status.reason, "Unauthorized");
  EXPECT_NE(wrong.error().what().find("AUTH: WRONGPASS"), std::string::npos) << wrong.error().what();
}

TEST_F(RedisTlsTest, ClientCertificateForServersThatAskForOne) {
  start({.authClients = true});
  ASSERT_EQ(server_->cli("RPUSH jobs a").output, "1\n");
  RedisSource anonymous(trusting());
  auto refused = anonymous.backlog(tlsList("jobs"));
  ASSERT_FALSE(refused.ok());
  // TLS 1.3: the client's handshake is over before the server checks its certificate. The
  // server's alert or, when it closed first, the reset comes with the first command.
  const std::string what = refused.error().what();
  EXPECT_TRUE(what.ends_with("Invalid: TLS: tlsv13 alert certificate required") ||
              what.ends_with("before its first reply (does it want a client certificate?)"))
      << what;

  RedisSourceOptions withCertificate = trusting();
  withCertificate.tls.certFile = certificates_->crt("client");
  withCertificate.tls.keyFile = certificates_->key("client");
  RedisSource source(withCertificate);
  auto r = source.backlog(tlsList("jobs"));
  ASSERT_TRUE(r.ok()) << whatOf(r);
  EXPECT_EQ(r.value(), 1);
}

TEST_F(RedisTlsTest, UnusableFilesAreErrorsNamingThem) {
  const std::string ca = certificates_->crt("ca");
  EXPECT_TRUE(checkRedisTlsFiles({}).ok());
  EXPECT_TRUE(checkRedisTlsFiles({.caFile = ca}).ok());
  EXPECT_TRUE(
      checkRedisTlsFiles({.certFile = certificates_->crt("client"), .keyFile = certificates_->key("client")}).ok());

  auto messageOf = [](const RedisTlsFiles& files) {
    const kube::Outcome checked = checkRedisTlsFiles(files);
    return checked.ok() ? std::string("<ok>") : checked.error().status.message;
  };
  EXPECT_EQ(messageOf({.caFile = "/nonexistent/ca.crt"}),
            "TLS: cannot load CA file /nonexistent/ca.crt: no such file or directory");
  EXPECT_EQ(messageOf({.caFile = certificates_->key("ca")}),
            "TLS: cannot load CA file " + certificates_->key("ca") + ": no certificate or crl found");
  EXPECT_EQ(messageOf({.certFile = certificates_->crt("client")}),
            "TLS: a client certificate needs both its certificate file and its key file");
  EXPECT_EQ(messageOf({.certFile = certificates_->crt("client"), .keyFile = certificates_->key("server")}),
            "TLS: cannot load client key " + certificates_->key("server") + ": key values mismatch");

  // A source with such files reports them for queues with tls: true, without connecting.
  RedisSource source({.tls = {.caFile = "/nonexistent/ca.crt"}});
  auto r = source.backlog({.address = "127.0.0.1:1", .key = "jobs", .tls = true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().what(),
            "redis 127.0.0.1:1 key jobs: Invalid: TLS: cannot load CA file /nonexistent/ca.crt: no such file or "
            "directory");
}

}  // namespace
}  // namespace governor::adapter
