// See http_attacks.h.
#include "support/http_attacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace governor::testing {
int connectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

namespace {

// Waits until `fd` is readable; false after `timeout`.
bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

}  // namespace

RawClient::RawClient(int port) : fd_(connectLoopback(port)) {
  timeval tv{10, 0};
  if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

RawClient::RawClient(int port, const TlsClientOptions& tls) : RawClient(port) {
  if (fd_ < 0) return;
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  // Old versions and suites must be offered for the server to be the one refusing them.
  SSL_CTX_set_security_level(ctx_, 0);
  if (tls.minVersion) SSL_CTX_set_min_proto_version(ctx_, tls.minVersion);
  if (tls.maxVersion) SSL_CTX_set_max_proto_version(ctx_, tls.maxVersion);
  if (!tls.ciphers.empty()) SSL_CTX_set_cipher_list(ctx_, tls.ciphers.c_str());
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd_);
  if (SSL_connect(ssl) == 1) {
    ssl_ = ssl;
  } else {
    ERR_clear_error();
    SSL_free(ssl);
  }
}

RawClient::~RawClient() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

bool RawClient::send(std::string_view data) {
  while (!data.empty()) {
    long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                  : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

size_t RawClient::flood(size_t total, char fill) {
  const std::string chunk(16384, fill);
  size_t sent = 0;
  while (sent < total && send(std::string_view(chunk).substr(0, std::min(chunk.size(), total - sent)))) {
    sent += std::min(chunk.size(), total - sent);
  }
  return sent;
}

std::string RawClient::receive(std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (!(ssl_ && SSL_pending(ssl_) > 0) && !readable(fd_, left))) return out;
    long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      ERR_clear_error();
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

bool RawClient::closedWithin(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!readable(fd_, left)) return false;
    if (recv(fd_, buf, sizeof buf, 0) <= 0) return true;  // raw bytes: a TLS alert counts as data
  }
  return false;
}

namespace {

// A "VmRSS:" or "VmHWM:" line of /proc/self/status, in bytes.
long statusBytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + field.size()) * 1024;
  }
  throw std::runtime_error("no " + field + " in /proc/self/status");
}

}  // namespace

PeakMemory::PeakMemory() {
  // "5" resets the peak resident size to the current one (proc(5), clear_refs).
  std::ofstream("/proc/self/clear_refs") << "5";
  start_ = statusBytes("VmRSS:");
}

long PeakMemory::growth() const { return statusBytes("VmHWM:") - start_; }

int statusOf(const std::string& answer) {
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) return 0;
  return std::atoi(answer.substr(9, 3).c_str());
}

std::string gzipBomb(size_t decodedBytes) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::string zeros(1 << 20, '\0'), out;
  char buf[1 << 16];
  for (size_t left = decodedBytes; left > 0 || z.avail_in > 0;) {
    if (z.avail_in == 0) {
      size_t n = std::min(left, zeros.size());
      z.next_in = reinterpret_cast<Bytef*>(zeros.data());
      z.avail_in = static_cast<uInt>(n);
      left -= n;
    }
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

Trickle::Trickle(int port, int count, std::chrono::milliseconds interval) {
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this, port, interval] {
      // A TLS handshake record announcing a 508-byte ClientHello, sent one byte at a time.
      std::string hello = std::string("\x16\x03\x01\x01\xfc\x01\x00\x01\xf8\x03\x03", 11) + std::string(501, '\x42');
      int fd = connectLoopback(port);
      if (fd < 0) {
        ++closed_;
        return;
      }
      for (size_t next = 0; !stop_ && next < hello.size(); ++next) {
        if (::send(fd, &hello[next], 1, MSG_NOSIGNAL) != 1) {
          ++closed_;
          break;
        }
        bool closed = false;
        for (auto waited = std::chrono::milliseconds(0); !stop_ && waited < interval;
             waited += std::chrono::milliseconds(50)) {
          char c;
          if (readable(fd, std::chrono::milliseconds(50)) && recv(fd, &c, 1, 0) <= 0) {
            closed = true;
            break;
          }
        }
        if (closed) {
          ++closed_;
          break;
        }
      }
      close(fd);
    });
  }
}

Trickle::~Trickle() {
  stop_ = true;
  for (auto& t : threads_) t.join();
}

}  // namespace governor::testing
