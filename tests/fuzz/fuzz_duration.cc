// parseDuration on arbitrary text must not crash; what it accepts is non-negative and
// formatDuration prints it as text that parses back to the same duration. The first 8 bytes,
// read as a millisecond count, also drive formatDuration directly over the whole int64 range.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "kube/duration.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::kube::formatDuration;
using governor::kube::parseDuration;
using std::chrono::milliseconds;

// parseDuration(formatDuration(d)) == d for d >= 0; negative ones must only print.
void checkRoundTrip(milliseconds duration, const std::string& input) {
  const std::string text = formatDuration(duration);
  if (duration.count() < 0) {
    FUZZ_CHECK(text.starts_with("-"), "input \"%s\": %lld ms prints as \"%s\"", input.c_str(),
               static_cast<long long>(duration.count()), text.c_str());
    return;
  }
  auto back = parseDuration(text);
  FUZZ_CHECK(back.ok(), "input \"%s\": %lld ms prints as \"%s\", which does not parse: %s", input.c_str(),
             static_cast<long long>(duration.count()), text.c_str(), back.ok() ? "" : back.error().what().c_str());
  FUZZ_CHECK(*back == duration, "input \"%s\": %lld ms prints as \"%s\", which reads as %lld ms", input.c_str(),
             static_cast<long long>(duration.count()), text.c_str(), static_cast<long long>(back->count()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(governor::fuzz::input(data, size));
  if (size >= sizeof(int64_t)) {
    int64_t millis = 0;
    std::memcpy(&millis, data, sizeof millis);
    checkRoundTrip(milliseconds(millis), "<8 bytes as int64>");
  }
  auto duration = parseDuration(text);
  if (!duration) {
    (void)duration.error().what();
    return 0;
  }
  FUZZ_CHECK(duration->count() >= 0, "input \"%s\" parses as %lld ms", text.c_str(),
             static_cast<long long>(duration->count()));
  checkRoundTrip(*duration, text);
  return 0;
}
