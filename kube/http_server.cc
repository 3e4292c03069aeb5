// See http_server.h. Sockets are non-blocking; every wait is a poll() on the socket and the
// stop eventfd with the time left until the current deadline.
#include "kube/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "kube/c_ptr.h"

namespace governor::kube {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();
// How long a new connection may wait for its first request before a drain closes it.
constexpr auto kFirstRequestGrace = std::chrono::seconds(1);

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* reasonPhrase(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

// A refusal of the request as sent: answered, then the connection is closed (whatever
// else the client sent is never read).
struct Refusal {
  int status;
  std::string why;
};

// Parses a complete request head (without its final empty line) into `req`.
std::optional<Refusal> parseHead(std::string_view head, const HttpServerOptions& o, HttpRequest& req, bool& keepAlive) {
  auto lineEnd = head.find("\r\n");
  auto requestLine = head.substr(0, lineEnd);
  auto sp1 = requestLine.find(' ');
  auto sp2 = requestLine.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return Refusal{400, "malformed request line"};
  req.method = std::string(requestLine.substr(0, sp1));
  auto target = requestLine.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = requestLine.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return Refusal{400, "only HTTP/1.0 and HTTP/1.1"};
  if (target.empty() || target.front() != '/') return Refusal{400, "the target must be a path"};
  keepAlive = version == "HTTP/1.1";

  for (size_t pos = lineEnd; pos != std::string_view::npos && pos + 2 <= head.size();) {
    auto next = head.find("\r\n", pos + 2);
    auto line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    pos = next;
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos || line.front() == ' ' || line.front() == '\t' ||
        line.find_first_of("\r\n") != std::string_view::npos) {
      return Refusal{400, "malformed header line"};
    }
    if (req.headers.size() == o.maxHeaders)
      return Refusal{431, "more than " + std::to_string(o.maxHeaders) + " headers"};
    req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  for (const auto& [name, value] : req.headers) {
    if (equalsIgnoreCase(name, "Transfer-Encoding")) return Refusal{501, "no Transfer-Encoding is accepted"};
    if (equalsIgnoreCase(name, "Content-Encoding")) return Refusal{415, "no Content-Encoding is accepted"};
    if (equalsIgnoreCase(name, "Content-Length") && value != "0") return Refusal{413, "no request body is accepted"};
    if (equalsIgnoreCase(name, "Connection")) {
      if (equalsIgnoreCase(value, "close")) keepAlive = false;
      if (equalsIgnoreCase(value, "keep-alive")) keepAlive = true;
    }
  }
  if (req.method != "GET") return Refusal{405, "only GET is served"};

  auto question = target.find('?');
  req.path = percentDecode(target.substr(0, question), false);
  if (question != std::string_view::npos) {
    auto q = target.substr(question + 1);
    while (!q.empty()) {
      auto amp = q.find('&');
      auto pair = q.substr(0, amp);
      auto eq = pair.find('=');
      if (!pair.empty()) {
        req.query.emplace(percentDecode(pair.substr(0, eq), true),
                          eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1), true));
      }
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    }
  }
  return std::nullopt;
}

std::string serialize(const HttpResponse& res, bool keepAlive) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reasonPhrase(res.status) + "\r\n";
  out += "Content-Type: " + res.contentType + "\r\n";
  out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  if (res.status == 405) out += "Allow: GET\r\n";
  out += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += res.body;
  return out;
}

}  // namespace

std::string percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += plusIsSpace && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) return v;
  }
  return "";
}

// One accepted socket, TLS or not, read and written against deadlines.
class HttpServer::Connection {
 public:
  Connection(int fd, SSL_CTX* tls, int stopFd, int drainFd, int evictFd)
      : fd_(fd), stopFd_(stopFd), drainFd_(drainFd), evictFd_(evictFd) {
    if (tls) {
      ssl_ = SSL_new(tls);
      if (ssl_) SSL_set_fd(ssl_, fd);
    }
  }
  ~Connection() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool tlsFailed(bool wantTls) const { return wantTls && !ssl_; }
  const SSL* ssl() const { return ssl_; }

  bool handshake(Clock::time_point deadline) {
    return retry(deadline, POLLIN, [this] { return SSL_accept(ssl_); });
  }

  // Appends what arrives (at most `max` bytes) to `buf`; false on end of stream, error,
  // deadline, stop or cut, and, from `idleFrom` on (waiting for a request), on drain.
  bool read(std::string& buf, size_t max, Clock::time_point deadline, Clock::time_point idleFrom = kNever) {
    char chunk[16384];
    size_t want = std::min(max, sizeof chunk);
    if (want == 0) return false;
    int n = 0;
    bool ok = ssl_ ? retry(
                         deadline, POLLIN, [&] { return n = SSL_read(ssl_, chunk, static_cast<int>(want)); }, idleFrom)
                   : retry(
                         deadline, POLLIN, [&] { return n = static_cast<int>(recv(fd_, chunk, want, 0)); }, idleFrom);
    if (ok) buf.append(chunk, static_cast<size_t>(n));
    return ok;
  }

  bool write(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      int n = 0;
      int len = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
      bool ok = ssl_ ? retry(deadline, POLLOUT, [&] { return n = SSL_write(ssl_, data.data(), len); })
                     : retry(deadline, POLLOUT, [&] {
                         return n = static_cast<int>(send(fd_, data.data(), static_cast<size_t>(len), MSG_NOSIGNAL));
                       });
      if (!ok) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // After a refusal: stop sending, then read and drop what the client is still sending (at
  // most `max` bytes, until `deadline`), so that closing does not reset the connection
  // before the client has read the answer.
  void drain(size_t max, Clock::time_point deadline) {
    if (ssl_) SSL_shutdown(ssl_);
    shutdown(fd_, SHUT_WR);
    char chunk[16384];
    for (size_t dropped = 0; dropped < max;) {
      auto n = recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        dropped += static_cast<size_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR) || !wait(POLLIN, deadline)) {
        return;
      }
    }
  }

 private:
  // Runs `op` (an OpenSSL call, or a plain recv or send that waits for `plainEvents`) until
  // it makes progress (> 0), waiting for the socket between tries.
  template <typename Op>
  bool retry(Clock::time_point deadline, short plainEvents, Op op, Clock::time_point idleFrom = kNever) {
    for (;;) {
      // SSL_get_error reads the thread's error queue: what a handler left there (a failed
      // certificate check) would pass for this connection's error.
      ERR_clear_error();
      int n = op();
      if (n > 0) return true;
      short events = plainEvents;
      if (ssl_) {
        int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_WRITE) {
          events = POLLOUT;
        } else if (e == SSL_ERROR_WANT_READ) {
          events = POLLIN;
        } else {
          ERR_clear_error();
          return false;
        }
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        return false;
      }
      if (!wait(events, deadline, idleFrom)) return false;
    }
  }

  // The drain counts from `idleFrom` on: until then the wait ends at that time and goes on.
  bool wait(short events, Clock::time_point deadline, Clock::time_point idleFrom = kNever) {
    for (;;) {
      const auto now = Clock::now();
      const bool idle = now >= idleFrom;
      const auto until = idle ? deadline : std::min(deadline, idleFrom);
      auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
      if (left <= 0 && until == deadline) return false;
      pollfd fds[4] = {{fd_, events, 0}, {stopFd_, POLLIN, 0}, {evictFd_, POLLIN, 0}, {drainFd_, POLLIN, 0}};
      int n = poll(fds, idle ? 4 : 3, static_cast<int>(std::max<long>(left, 0)));
      if (n < 0 && errno == EINTR) return true;
      if (n == 0 && until != deadline) continue;  // idle from now on
      return n > 0 && fds[1].revents == 0 && fds[2].revents == 0 && fds[3].revents == 0;
    }
  }

  int fd_;
  int stopFd_;
  int drainFd_;
  int evictFd_;
  SSL* ssl_ = nullptr;
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, HttpHandler handler) {
  auto where = options.host + ":" + std::to_string(options.port);
  auto fail = [&](const std::string& why) {
    return Error{Status{0, "Invalid", "cannot listen on " + where + ": " + why}, ""};
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port = std::to_string(options.port);
  if (int rc = getaddrinfo(options.host.empty() ? nullptr : options.host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return fail(gai_strerror(rc));
  }
  const CPtr<addrinfo, freeaddrinfo> addrs(found);
  auto s = std::unique_ptr<HttpServer>(new HttpServer());
  s->listenFd_ = socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, found->ai_protocol);
  if (s->listenFd_ < 0) return fail(std::strerror(errno));
  int one = 1;
  setsockopt(s->listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s->listenFd_, found->ai_addr, found->ai_addrlen) != 0 || listen(s->listenFd_, 128) != 0) {
    return fail(std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(s->listenFd_, reinterpret_cast<sockaddr*>(&bound), &len);
  s->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->stopFd_ = eventfd(0, EFD_CLOEXEC);
  s->drainFd_ = eventfd(0, EFD_CLOEXEC);
  if (s->stopFd_ < 0 || s->drainFd_ < 0) return fail(std::strerror(errno));
  s->options_ = std::move(options);
  s->handler_ = std::move(handler);
  s->acceptThread_ = std::thread([self = s.get()] { self->acceptLoop(); });
  return s;
}

HttpServer::~HttpServer() {
  if (stopFd_ >= 0) {
    uint64_t one = 1;
    if (::write(stopFd_, &one, sizeof one) < 0) spdlog::warn("http server: cannot signal stop: {}", strerror(errno));
  }
  if (acceptThread_.joinable()) acceptThread_.join();
  for (auto& w : workers_) w->thread.join();
  if (listenFd_ >= 0) close(listenFd_);
  if (stopFd_ >= 0) close(stopFd_);
  if (drainFd_ >= 0) close(drainFd_);
}

void HttpServer::drain(std::chrono::milliseconds timeout) {
  if (draining_.exchange(true) || listenFd_ < 0) return;
  uint64_t one = 1;
  if (::write(drainFd_, &one, sizeof one) < 0) spdlog::warn("http server: cannot signal drain: {}", strerror(errno));
  if (acceptThread_.joinable()) acceptThread_.join();  // it accepts what is queued, then returns
  close(listenFd_);
  listenFd_ = -1;
  bool allDone;
  {
    std::unique_lock lock(doneMu_);
    allDone = workerDone_.wait_for(
        lock, timeout, [this] { return std::ranges::all_of(workers_, [](const auto& w) { return w->done.load(); }); });
  }
  reapFinished();
  if (!allDone) {
    spdlog::warn("http server: {} connections still open after {}ms of draining; closing them", workers_.size(),
                 timeout.count());
  }
}

void HttpServer::reapFinished() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::acceptLoop() {
  for (;;) {
    pollfd fds[3] = {{listenFd_, POLLIN, 0}, {stopFd_, POLLIN, 0}, {drainFd_, POLLIN, 0}};
    if (poll(fds, 3, 1000) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    reapFinished();
    // Cut connections end within a poll, but their threads still count: past twice the cap,
    // new connections wait in the listen queue until they have.
    if (workers_.size() >= 2 * options_.maxConnections && fds[2].revents == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (fds[2].revents != 0) {
      // Draining: the connections the kernel completed before the socket closes are served.
      while (accept()) {
      }
      return;
    }
    if ((fds[0].revents & POLLIN) != 0) accept();
  }
}

bool HttpServer::accept() {
  int fd = accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    // Out of file descriptors: give the open connections time to end instead of spinning.
    if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return false;
  }
  const auto open =
      std::ranges::count_if(workers_, [](const auto& w) { return !w->done && w->waitingSince != Worker::kEvicted; });
  if (static_cast<size_t>(open) >= options_.maxConnections && !evictLongestWaiting()) {
    ++refused_;
    close(fd);
    return true;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int evictFd = eventfd(0, EFD_CLOEXEC);
  if (evictFd < 0) {
    close(fd);
    return true;
  }
  auto w = std::make_unique<Worker>(evictFd);
  try {
    w->thread = std::thread([this, fd, worker = w.get()] {
      serve(fd, *worker);
      {
        std::lock_guard lock(doneMu_);
        worker->done = true;
      }
      workerDone_.notify_all();
    });
  } catch (const std::system_error& e) {
    spdlog::warn("http server: cannot start a connection thread: {}", e.what());
    close(fd);
    return true;
  }
  workers_.push_back(std::move(w));
  return true;
}

namespace {
int64_t nowNanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
}  // namespace

HttpServer::Worker::Worker(int fd) : waitingSince(nowNanoseconds()), evictFd(fd) {}

HttpServer::Worker::~Worker() { close(evictFd); }

bool HttpServer::Worker::startAnswering() {
  int64_t since = waitingSince.load();
  return since != kEvicted && waitingSince.compare_exchange_strong(since, kBusy);
}

void HttpServer::Worker::startWaiting() { waitingSince = nowNanoseconds(); }

bool HttpServer::evictLongestWaiting() {
  for (;;) {
    Worker* longest = nullptr;
    int64_t since = 0;
    for (auto& w : workers_) {
      int64_t s = w->waitingSince.load();
      if (!w->done && s > Worker::kBusy && (!longest || s < since)) {
        longest = w.get();
        since = s;
      }
    }
    if (!longest) return false;
    // Lost to the connection itself starting to answer: look again.
    if (!longest->waitingSince.compare_exchange_strong(since, Worker::kEvicted)) continue;
    uint64_t one = 1;
    if (::write(longest->evictFd, &one, sizeof one) < 0) {
      spdlog::warn("http server: cannot cut a connection: {}", strerror(errno));
    }
    ++evicted_;
    return true;
  }
}

void HttpServer::serve(int fd, Worker& worker) {
  Connection conn(fd, options_.tls.get(), stopFd_, drainFd_, worker.evictFd);
  auto deadline = Clock::now() + options_.requestTimeout;
  if (conn.tlsFailed(options_.tls != nullptr) || (options_.tls && !conn.handshake(deadline))) return;
  std::string buf;
  for (int served = 0; served < options_.maxRequestsPerConnection; ++served) {
    if (served > 0) {
      worker.startWaiting();
      if (buf.empty() && !conn.read(buf, options_.maxHeaderBytes, Clock::now() + options_.idleTimeout, Clock::now())) {
        return;
      }
      deadline = Clock::now() + options_.requestTimeout;
    }
    // A client that dials ahead (Go's transport does) may keep a new connection without a
    // request: after a grace for the first one, it is idle too and a drain closes it.
    const auto idleFrom = served == 0 ? Clock::now() + kFirstRequestGrace : kNever;
    // Read until the head is complete, never more than the limits allow.
    size_t end;
    std::optional<Refusal> refusal;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.find("\r\n") == std::string::npos && buf.size() > options_.maxRequestLine) {
        refusal = Refusal{414, "the request line is longer than " + std::to_string(options_.maxRequestLine) + " bytes"};
        break;
      }
      if (buf.size() >= options_.maxHeaderBytes) {
        refusal = Refusal{431, "the request head is longer than " + std::to_string(options_.maxHeaderBytes) + " bytes"};
        break;
      }
      if (!conn.read(buf, options_.maxHeaderBytes - buf.size(), deadline, buf.empty() ? idleFrom : kNever)) return;
    }
    if (!worker.startAnswering()) return;  // cut for a newer connection just now
    HttpRequest req;
    bool keepAlive = false;
    if (!refusal && buf.find("\r\n") > options_.maxRequestLine) {
      refusal = Refusal{414, "the request line is longer than " + std::to_string(options_.maxRequestLine) + " bytes"};
    }
    if (!refusal) refusal = parseHead(std::string_view(buf).substr(0, end), options_, req, keepAlive);
    HttpResponse res;
    if (refusal) {
      res = {refusal->status, "text/plain", refusal->why + "\n"};
      keepAlive = false;
    } else {
      buf.erase(0, end + 4);
      req.ssl = conn.ssl();
      try {
        res = handler_(req);
      } catch (const std::exception& e) {
        spdlog::error("http {} {}: {}", req.method, req.path, e.what());
        res = {500, "text/plain", "internal error\n"};
      }
    }
    keepAlive = keepAlive && served + 1 < options_.maxRequestsPerConnection && !draining_;
    if (!conn.write(serialize(res, keepAlive), Clock::now() + options_.writeTimeout)) return;
    if (refusal) conn.drain(1 << 20, Clock::now() + std::chrono::seconds(1));
    if (!keepAlive) return;
  }
}

}  // namespace governor::kube
