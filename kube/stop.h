// Waits that a stop request ends at once: a thread that paces itself (a retry period, a
// backoff, a poll) waits with these, so that stopping it never waits out the rest of a sleep.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

namespace governor::kube {

// Sleeps for `d` unless a stop is requested first; true when one was (before or during).
inline bool sleepUnlessStopped(const std::stop_token& stop, std::chrono::nanoseconds d) {
  std::mutex mu;
  std::condition_variable_any cv;  // only a stop request notifies it
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return stop.stop_requested();
}

// Returns once a stop is requested.
inline void waitUntilStopped(const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, stop, [] { return false; });
}

}  // namespace governor::kube
