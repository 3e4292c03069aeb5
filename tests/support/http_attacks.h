// What the HTTP servers' abuse tests share: a raw client (plain TCP or TLS) that sends
// exactly the bytes a test wants, the process's resident memory, a gzip bomb, and clients
// that trickle a TLS ClientHello one byte at a time.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace governor::testing {

// A TCP connection to 127.0.0.1:port (a blocking socket), or -1.
int connectLoopback(int port);

struct TlsClientOptions {
  int minVersion = 0;  // e.g. TLS1_1_VERSION; 0 = OpenSSL's default
  int maxVersion = 0;
  std::string ciphers;  // TLS 1.2 cipher list; "" = OpenSSL's default
};

class RawClient {
 public:
  // Connects to 127.0.0.1:port; with `tls`, also completes a handshake (see handshaken()).
  explicit RawClient(int port);
  RawClient(int port, const TlsClientOptions& tls);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool handshaken() const { return ssl_ != nullptr; }
  // Writes all of `data`; false as soon as the server has closed or reset the connection.
  bool send(std::string_view data);
  // Writes `total` bytes of `fill` in chunks; returns how many were written before a failure.
  size_t flood(size_t total, char fill);
  // What arrives until the server closes the connection or `timeout` passes.
  std::string receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closes the connection within `timeout`.
  bool closedWithin(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// How far this process's resident memory rose above what it was at construction: its
// peak (VmHWM, reset at construction), not what is left once a large buffer is freed.
class PeakMemory {
 public:
  PeakMemory();
  long growth() const;

 private:
  long start_;
};

// The status code of an HTTP/1.1 answer ("HTTP/1.1 413 ..."), or 0.
int statusOf(const std::string& answer);

// A gzip stream that decodes to `decodedBytes` zero bytes (about 1/1000 of that).
std::string gzipBomb(size_t decodedBytes);

// `count` connections to 127.0.0.1:port, each sending the next byte of a TLS ClientHello
// every `interval` until the server closes it or the Trickle is destroyed.
class Trickle {
 public:
  Trickle(int port, int count, std::chrono::milliseconds interval);
  ~Trickle();
  // How many of the connections the server has closed so far.
  int closedByServer() const { return closed_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> closed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace governor::testing
