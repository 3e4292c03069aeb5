// kube::HttpServer against clients that misbehave: bodies, encodings, verbs and heads it
// must refuse before reading them, a request line without end, slow clients and more
// connections than the cap. Plain HTTP on 127.0.0.1 (TLS: tests/unit/adapter).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kube/http_server.h"
#include "support/http_attacks.h"
#include "support/slowdown.h"

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using testing::RawClient;

constexpr long kMiB = 1 << 20;
using testing::statusOf;

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    auto s = HttpServer::start(options, [this](const HttpRequest& req) {
      if (req.path == "/busy") {  // a request being answered
        ++answering;
        std::this_thread::sleep_for(2s);
      }
      if (req.path == "/slow-handler") std::this_thread::sleep_for(300ms);
      std::string seen = req.method + " " + req.path;
      for (const auto& [k, v] : req.query) seen += " " + k + "=" + v;
      return HttpResponse{200, "text/plain", seen + " user=" + req.header("x-remote-user")};
    });
    ASSERT_TRUE(s) << s.error().what();
    server = std::move(*s);
  }

  // Sends `request` on a new connection and returns the answer (the server closes after it).
  std::string exchange(const std::string& request) {
    RawClient c(server->port());
    EXPECT_TRUE(c.send(request));
    return c.receive();
  }

  std::unique_ptr<HttpServer> server;
  std::atomic<int> answering{0};  // requests for /busy that have reached the handler
};

TEST_F(HttpServerTest, ServesGetWithDecodedPathQueryAndHeadersOnAKeptAliveConnection) {
  start();
  RawClient c(server->port());
  ASSERT_TRUE(
      c.send("GET /apis/a/%2A?labelSelector=app%3Dweb&x=a+b HTTP/1.1\r\nHost: h\r\nX-Remote-User: ann\r\n\r\n"));
  auto first = c.receive(1s);
  EXPECT_EQ(statusOf(first), 200) << first;
  EXPECT_NE(first.find("\r\n\r\nGET /apis/a/* labelSelector=app=web x=a b user=ann"), std::string::npos) << first;
  ASSERT_TRUE(c.send("GET /second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  auto second = c.receive();
  EXPECT_NE(second.find("GET /second"), std::string::npos) << "the connection is kept alive: " << second;
}

TEST_F(HttpServerTest, RefusesBodiesEncodingsAndOtherVerbsWithoutReadingThem) {
  start();
  EXPECT_EQ(statusOf(exchange("POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")), 413);
  EXPECT_EQ(statusOf(exchange("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")), 501);
  EXPECT_EQ(statusOf(exchange("GET / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n")), 415);
  auto del = exchange("DELETE / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(statusOf(del), 405) << del;
  EXPECT_NE(del.find("Allow: GET\r\n"), std::string::npos) << del;
  EXPECT_EQ(statusOf(exchange("GET / HTTP/2.0\r\n\r\n")), 400);
  EXPECT_EQ(statusOf(exchange("GET / HTTP/1.1\r\n folded: header\r\n\r\n")), 400);
}

TEST_F(HttpServerTest, AGzipBombIsRefusedBeforeItIsDecoded) {
  start();
  auto bomb = testing::gzipBomb(256 * kMiB);
  ASSERT_LT(bomb.size(), 300u << 10);
  testing::PeakMemory memory;
  RawClient c(server->port());
  c.send("POST /healthz HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) +
         "\r\n\r\n");
  c.send(bomb);
  auto answer = c.receive();
  EXPECT_GE(statusOf(answer), 400) << answer;
  EXPECT_LT(statusOf(answer), 500) << answer;
  EXPECT_LT(memory.growth(), 8 * kMiB);
}

TEST_F(HttpServerTest, ARequestLineWithoutEndIsCutOffAfterTheLimit) {
  start();
  testing::PeakMemory memory;
  RawClient c(server->port());
  c.send("GET /");
  size_t sent = c.flood(96 * kMiB, 'a');
  EXPECT_LT(sent, size_t{16 * kMiB}) << "the server must stop reading long before 96 MiB";
  auto answer = c.receive();
  EXPECT_EQ(statusOf(answer), 414) << answer;
  EXPECT_LT(memory.growth(), 8 * kMiB);
}

TEST_F(HttpServerTest, TooManyOrTooLongHeadersAre431) {
  start({.maxHeaders = 10});
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 11; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(statusOf(exchange(many + "\r\n")), 431);
  EXPECT_EQ(statusOf(exchange("GET / HTTP/1.1\r\nX-Big: " + std::string(70 << 10, 'b') + "\r\n\r\n")), 431);
  EXPECT_EQ(statusOf(exchange("GET /" + std::string(9000, 'p') + " HTTP/1.1\r\n\r\n")), 414);
}

TEST_F(HttpServerTest, ASlowClientIsCutAtTheRequestDeadline) {
  start({.requestTimeout = 500ms});
  RawClient c(server->port());
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\n"));
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closedWithin(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(HttpServerTest, AtTheCapANewConnectionTakesThePlaceOfTheOneWaitingLongest) {
  start({.maxConnections = 3});
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server->port()));
    std::this_thread::sleep_for(50ms);  // accepted in this order
  }
  held[1]->send("GET /half");  // a head begun, still waiting for the rest
  EXPECT_EQ(statusOf(exchange("GET /new HTTP/1.1\r\nConnection: close\r\n\r\n")), 200);
  EXPECT_TRUE(held[0]->closedWithin(2s)) << "the connection idle longest makes room";
  EXPECT_FALSE(held[2]->closedWithin(300ms)) << "one cut is room enough";
  EXPECT_EQ(server->evictedConnections(), 1u);
  EXPECT_EQ(server->refusedConnections(), 0u);
}

TEST_F(HttpServerTest, AConnectionAnsweringARequestIsNeverCutAndOnlyThenIsANewOneRefused) {
  start({.maxConnections = 2});
  std::vector<std::unique_ptr<RawClient>> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(std::make_unique<RawClient>(server->port()));
    ASSERT_TRUE(busy.back()->send("GET /busy HTTP/1.1\r\nConnection: close\r\n\r\n"));
  }
  for (auto until = std::chrono::steady_clock::now() + 1500ms; answering < 2;) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "both are being answered";
    std::this_thread::sleep_for(5ms);
  }
  RawClient extra(server->port());
  EXPECT_TRUE(extra.closedWithin(2s));
  EXPECT_EQ(server->refusedConnections(), 1u);
  for (auto& c : busy) EXPECT_EQ(statusOf(c->receive()), 200) << "answers already begun are finished";
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(statusOf(exchange("GET /again HTTP/1.1\r\nConnection: close\r\n\r\n")), 200);
}

// A flood of idle connections (or slowloris heads) far beyond the cap does not keep a
// client that sends its request from being answered.
TEST_F(HttpServerTest, AFloodOfIdleConnectionsDoesNotStarveRequests) {
  start({.maxConnections = 8});
  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < 300; ++i) {
    flood.push_back(std::make_unique<RawClient>(server->port()));
    if (i % 2) flood.back()->send("GET / HTTP/1.1\r\nX-Slow: ");
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(statusOf(exchange("GET /real HTTP/1.1\r\nConnection: close\r\n\r\n")), 200) << i;
  }
  EXPECT_EQ(server->refusedConnections(), 0u);
  EXPECT_GE(server->evictedConnections(), 300u - 8);
}

TEST_F(HttpServerTest, StopsPromptlyWithIdleConnectionsOpen) {
  start();
  RawClient idle(server->port());
  RawClient halfway(server->port());
  halfway.send("GET / HTTP/1.1\r\n");
  auto started = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

// SIGTERM's drain: a request being answered is answered (with Connection: close), a
// kept-alive connection waiting for its next request is closed, new connections are refused.
TEST_F(HttpServerTest, DrainAnswersWhatWasAcceptedClosesIdleConnectionsAndRefusesNewOnes) {
  start();
  RawClient idle(server->port());
  ASSERT_TRUE(idle.send("GET /first HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(statusOf(idle.receive(300ms)), 200);
  RawClient inFlight(server->port());
  ASSERT_TRUE(inFlight.send("GET /slow-handler HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(100ms);  // in the handler
  auto started = std::chrono::steady_clock::now();
  server->drain(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  auto answer = inFlight.receive(1s);
  EXPECT_EQ(statusOf(answer), 200) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_TRUE(idle.closedWithin(1s));
  RawClient late(server->port());
  EXPECT_FALSE(late.connected()) << "the listening socket is closed";
}

// The drain waits for the last connection to end, not for a poll after it.
TEST_F(HttpServerTest, DrainReturnsOnceTheLastConnectionHasEnded) {
  start();
  RawClient inFlight(server->port());
  ASSERT_TRUE(inFlight.send("GET /slow-handler HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(100ms);  // in the handler, for 200 ms more
  auto started = std::chrono::steady_clock::now();
  server->drain(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms + 250ms * testing::kSlowdown);
  EXPECT_EQ(statusOf(inFlight.receive(1s)), 200);
}

// A client that dials ahead of its requests (Go's transport, so the aggregator) holds a new
// connection with nothing sent: the drain closes it after a second's grace instead of waiting
// out the request timeout; one that sends its request within the grace is answered.
TEST_F(HttpServerTest, DrainClosesANewConnectionThatSendsNoRequest) {
  HttpServerOptions options;
  options.requestTimeout = 10s;
  start(options);
  RawClient ahead(server->port());
  RawClient prompt(server->port());
  std::this_thread::sleep_for(100ms);  // both accepted
  std::thread drain([&] { server->drain(10s); });
  auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(prompt.send("GET /prompt HTTP/1.1\r\n\r\n"));
  auto answer = prompt.receive(1s);
  EXPECT_EQ(statusOf(answer), 200) << answer;
  EXPECT_TRUE(ahead.closedWithin(3s));
  drain.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "not the 10 s request timeout";
}

}  // namespace
}  // namespace governor::kube
