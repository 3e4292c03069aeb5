// See rate_limit.h.
#include "kube/rate_limit.h"

#include <algorithm>

namespace governor::kube {

TokenBucket::TokenBucket(double qps, int burst, Now<std::chrono::steady_clock> now)
    : qps_(qps), burst_(std::max(1, burst)), now_(std::move(now)), tokens_(burst_), last_(now_()) {}

std::chrono::nanoseconds TokenBucket::reserve() {
  if (qps_ <= 0) return {};
  std::lock_guard lock(mu_);
  auto now = now_();
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
  last_ = now;
  tokens_ -= 1;
  if (tokens_ >= 0) return {};
  return std::chrono::round<std::chrono::nanoseconds>(std::chrono::duration<double>(-tokens_ / qps_));
}

}  // namespace governor::kube
