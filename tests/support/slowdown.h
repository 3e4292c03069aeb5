// How many times slower a sanitized build runs the code under test: the few tests that bound
// a latency scale the bound by it, so that the bound says the same thing in every build.
#pragma once

namespace governor::testing {

#if defined(__SANITIZE_THREAD__)
inline constexpr int kSlowdown = 10;  // TSan: every memory access and lock is recorded
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSlowdown = 3;
#else
inline constexpr int kSlowdown = 1;
#endif

}  // namespace governor::testing
