// A client-side token bucket, as client-go's flowcontrol.NewTokenBucketRateLimiter: up to
// `burst` requests at once, then `qps` a second, so that one process cannot flood the API
// server (and its priority-and-fairness queue) when many objects change at once.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

namespace governor::kube {

class TokenBucket {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // qps <= 0: no limit.
  TokenBucket(double qps, int burst, Clock now = std::chrono::steady_clock::now);

  // Takes a token and returns how long the caller must wait before using it (zero while
  // the bucket holds tokens), as golang.org/x/time/rate's Reserve: callers are served in
  // the order they asked.
  std::chrono::nanoseconds reserve();

 private:
  double qps_;
  double burst_;
  Clock now_;
  std::mutex mu_;
  double tokens_;  // negative: owed by callers already waiting
  std::chrono::steady_clock::time_point last_;
};

}  // namespace governor::kube
