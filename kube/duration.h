// Durations as written in Governor's specs and SLO windows ("250ms", "1h30m", "30d"): Go's
// time.ParseDuration syntax with Prometheus' day and week units, at millisecond resolution.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "kube/result.h"

namespace governor::kube {

// One or more <number><unit> terms, summed, as in Go: "1h30m", "1.5h", "90s", "1h1h" (= 2h).
// Units: ms, s, m, h, d (24h), w (7d). Go's ns/us/µs are not accepted: nothing in Governor is
// finer than a millisecond, and a term that does not come to whole milliseconds ("0.5ms") is an
// error rather than silently truncated. The bare number "0" is the only unitless duration; signs,
// whitespace and results beyond the int64 millisecond range are errors.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

// The shortest Prometheus-style spelling, largest unit first: "30d", "1h30m", "250ms", "2w",
// "0s". Weeks appear only when they divide the duration exactly ("8d", not "1w1d"), so that
// parseDuration(formatDuration(d)) == d for every non-negative d.
std::string formatDuration(std::chrono::milliseconds duration);

}  // namespace governor::kube
