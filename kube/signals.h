// The two programs' signals, set up once in each main (docs/architecture.md, Signals).
#pragma once

#include <stop_token>
#include <thread>

namespace governor::kube {

// Ignores SIGPIPE for the whole process, so that writing to a peer that closed its connection
// is an error (EPIPE), not the end of the program: OpenSSL's SSL_write (the kube client's,
// the servers', the Redis client's TLS) writes with write(2), which cannot pass MSG_NOSIGNAL. A
// library must not change a process-wide disposition, so only a main (or a test main) calls
// this; Governor's own send() calls pass MSG_NOSIGNAL.
void ignoreSigpipe();

// While it lives, SIGTERM and SIGINT request `stop`. A signal handler may not touch a stop
// source (its callbacks take locks): the handler writes to a pipe, and a thread of its own
// reads it and requests the stop, which wakes every wait on the source's tokens at once.
class StopOnSignals {
 public:
  explicit StopOnSignals(std::stop_source stop);
  ~StopOnSignals();  // the default dispositions back
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  int pipe_[2] = {-1, -1};
  std::jthread reader_;
};

}  // namespace governor::kube
