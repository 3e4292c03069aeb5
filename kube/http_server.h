// A small HTTP/1.1 server for what both binaries expose to the network (the adapter's API,
// probes, /metrics): every request is bounded before it is read. Only GET; no request body
// and no Content-Encoding; a maximum request line, header size and header count; a deadline
// for the TLS handshake and for each request; a cap on open connections. One thread per
// connection, up to the cap. cpp-httplib 0.11 cannot bound these (docs/architecture.md).
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "kube/result.h"

namespace governor::kube {

struct HttpRequest {
  std::string method;
  std::string path;                                          // percent-decoded, without the query
  std::map<std::string, std::string> query;                  // decoded; the first of repeated keys
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  const SSL* ssl = nullptr;                                  // the TLS connection (its client certificate), or null

  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0 = any free port
  // With this many open, a new connection takes the place of the one that has waited
  // longest for its request (idle, or sending its head slowly); one whose request is being
  // answered is never cut. Only when all are answering is the new one closed at once.
  size_t maxConnections = 64;
  // From accept (TLS handshake included), or from the first byte of a kept-alive
  // connection's next request, until its request line and headers are complete.
  std::chrono::milliseconds requestTimeout{10000};
  // How long a kept-alive connection may wait for its next request.
  std::chrono::milliseconds idleTimeout{30000};
  std::chrono::milliseconds writeTimeout{10000};
  size_t maxRequestLine = 8192;      // 414 beyond
  size_t maxHeaderBytes = 64 << 10;  // request line and headers together; 431 beyond
  size_t maxHeaders = 100;           // 431 beyond
  int maxRequestsPerConnection = 1000;
  std::shared_ptr<SSL_CTX> tls;  // null: plain HTTP
};

class HttpServer {
 public:
  // Listens and serves `handler` until destroyed.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, HttpHandler handler);
  // Stops accepting, ends every connection (a running handler finishes first) and joins.
  ~HttpServer();
  // A graceful stop (SIGTERM): closes the listening socket, so that new connections are
  // refused; answers the requests already accepted or being read, each with
  // `Connection: close`; closes kept-alive connections waiting for their next request, and new
  // ones that have not begun their first within a second (clients that dial ahead). Returns
  // once every connection has ended, or when `timeout` is up; the destructor ends the rest.
  void drain(std::chrono::milliseconds timeout);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Connections closed at once because maxConnections were open, all answering requests.
  uint64_t refusedConnections() const { return refused_.load(); }
  // Connections cut to make room for a new one while they waited for their request.
  uint64_t evictedConnections() const { return evicted_.load(); }

 private:
  class Connection;
  // A connection's thread. `waitingSince` is when it began waiting for a request (steady
  // clock, ns), kBusy while it answers one, kEvicted once the accept thread has cut it; the
  // two threads move it with compare-and-swap, so a connection that has begun to answer is
  // never cut. `evictFd` (an eventfd) wakes its waits when it is cut.
  struct Worker {
    static constexpr int64_t kBusy = 0;
    static constexpr int64_t kEvicted = -1;
    explicit Worker(int evictFd);
    ~Worker();
    // Waiting -> kBusy; false when it was cut first.
    bool startAnswering();
    void startWaiting();
    std::thread thread;
    std::atomic<bool> done{false};
    std::atomic<int64_t> waitingSince;
    const int evictFd;
  };
  HttpServer() = default;
  void acceptLoop();
  // Accepts one connection and starts serving it; false when none was waiting.
  bool accept();
  void serve(int fd, Worker& worker);
  void reapFinished();
  // Cuts the connection that has waited longest for its request; false when every one is
  // answering.
  bool evictLongestWaiting();

  HttpServerOptions options_;
  HttpHandler handler_;
  int listenFd_ = -1;
  int stopFd_ = -1;   // an eventfd, readable once stopping: every wait also watches it
  int drainFd_ = -1;  // an eventfd, readable once draining: the accept loop and idle waits watch it
  std::atomic<bool> draining_{false};
  int port_ = 0;
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> evicted_{0};
  std::thread acceptThread_;
  std::list<std::unique_ptr<Worker>> workers_;  // the accept thread's; drain()'s once that has ended
  // A worker sets `done` under doneMu_ and notifies workerDone_: drain() waits for the last.
  std::mutex doneMu_;
  std::condition_variable workerDone_;
};

// %XX sequences decoded (and '+' as a space when `plusIsSpace`, as in a query); a malformed
// sequence is kept as it is.
std::string percentDecode(std::string_view s, bool plusIsSpace);

}  // namespace governor::kube
