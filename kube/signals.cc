// See signals.h.
#include "kube/signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <stdexcept>

namespace governor::kube {
namespace {

// The write end of the live StopOnSignals' pipe (one at a time): what the handler may touch.
std::atomic<int> signalPipe{-1};

void onStopSignal(int) {
  const int saved = errno;
  const char byte = 0;
  (void)!::write(signalPipe.load(), &byte, 1);
  errno = saved;
}

void setHandler(int sig, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(sig, &action, nullptr);
}

}  // namespace

void ignoreSigpipe() { setHandler(SIGPIPE, SIG_IGN); }

StopOnSignals::StopOnSignals(std::stop_source stop) {
  if (pipe2(pipe_, O_CLOEXEC) != 0) throw std::runtime_error("cannot make the signal pipe");
  signalPipe = pipe_[1];
  reader_ = std::jthread([fd = pipe_[0], stop = std::move(stop)](const std::stop_token& closing) mutable {
    char byte;
    while (::read(fd, &byte, 1) < 0 && errno == EINTR) {
    }
    if (!closing.stop_requested()) stop.request_stop();
  });
  setHandler(SIGTERM, onStopSignal);
  setHandler(SIGINT, onStopSignal);
}

StopOnSignals::~StopOnSignals() {
  setHandler(SIGTERM, SIG_DFL);
  setHandler(SIGINT, SIG_DFL);
  reader_.request_stop();
  const char byte = 0;
  (void)!::write(pipe_[1], &byte, 1);  // wakes the reader if no signal has
  reader_.join();
  signalPipe = -1;
  close(pipe_[0]);
  close(pipe_[1]);
}

}  // namespace governor::kube
