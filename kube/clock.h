// The one seam for time: a class that needs a clock a test can move takes a Now<Clock> (a
// function returning that clock's now), defaulting to the real clock's.
#pragma once

#include <chrono>
#include <functional>

namespace governor::kube {

template <class Clock>
using Now = std::function<typename Clock::time_point()>;

}  // namespace governor::kube
