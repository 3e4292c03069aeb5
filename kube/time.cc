#include "kube/time.h"

#include <time.h>

#include <cstdio>
#include <ctime>

namespace governor::kube {
namespace {

// "2026-12-06T07:00:00" of `t`, in UTC; `micros` the microseconds past its second.
std::string seconds(std::chrono::system_clock::time_point t, long long* micros = nullptr) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  if (micros) *micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1'000'000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  return std::string(buf, n);
}

}  // namespace

std::string rfc3339(std::chrono::system_clock::time_point t) { return seconds(t) + "Z"; }

std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text) {
  std::tm utc{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  if (!end || *end != '\0') return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&utc));
}

std::string microTime(std::chrono::system_clock::time_point t) {
  long long micros = 0;
  std::string text = seconds(t, &micros);
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%06lldZ", micros);
  return text + fraction;
}

}  // namespace governor::kube
