// A client-side token bucket, as client-go's flowcontrol.NewTokenBucketRateLimiter: up to
// `burst` requests at once, then `qps` a second, so that one process cannot flood the API
// server (and its priority-and-fairness queue) when many objects change at once.
#pragma once

#include <chrono>
#include <mutex>

#include "kube/clock.h"

namespace governor::kube {

class TokenBucket {
 public:
  // qps <= 0: no limit.
  TokenBucket(double qps, int burst, Now<std::chrono::steady_clock> now = std::chrono::steady_clock::now);

  // Takes a token and returns how long the caller must wait before using it (zero while
  // the bucket holds tokens), as golang.org/x/time/rate's Reserve: callers are served in
  // the order they asked.
  std::chrono::nanoseconds reserve();

 private:
  double qps_;
  double burst_;
  Now<std::chrono::steady_clock> now_;
  std::mutex mu_;
  double tokens_;  // negative: owed by callers already waiting
  std::chrono::steady_clock::time_point last_;
};

}  // namespace governor::kube
