// Parses and prints millisecond durations; every term is computed exactly in integers, so
// "1.5h" is 5400000ms and overflow or sub-millisecond precision is reported, never rounded.
#include "kube/duration.h"

#include <cstdint>
#include <optional>

namespace governor::kube {
namespace {

struct Unit {
  std::string_view name;
  int64_t millis;
};

constexpr Unit kUnits[] = {
    {"w", int64_t{7} * 24 * 3'600'000},
    {"d", int64_t{24} * 3'600'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
};

Error invalid(std::string_view text, std::string_view why) {
  return Error{Status{0, "Invalid", "duration \"" + std::string(text) + "\": " + std::string(why)}, ""};
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<int64_t> unitMillis(std::string_view name) {
  for (const Unit& unit : kUnits) {
    if (unit.name == name) return unit.millis;
  }
  return std::nullopt;
}

// whole.fraction units in milliseconds, or an error when it overflows or is not whole.
Result<int64_t> termMillis(std::string_view text, std::string_view whole, std::string_view fraction,
                           int64_t millisPerUnit) {
  int64_t millis = 0;
  for (char c : whole) {
    if (__builtin_mul_overflow(millis, 10, &millis) || __builtin_add_overflow(millis, c - '0', &millis)) {
      return invalid(text, "out of range");
    }
  }
  if (__builtin_mul_overflow(millis, millisPerUnit, &millis)) return invalid(text, "out of range");

  fraction = fraction.substr(0, fraction.find_last_not_of('0') + 1);
  // A unit is at most 2^10 * 5^5 * 189 ms, so a whole number of milliseconds never needs more
  // than 10 fraction digits; capping at 18 keeps numerator * unit within 128 bits.
  if (fraction.size() > 18) return invalid(text, "finer than a millisecond");
  __extension__ __int128 numerator = 0;
  __extension__ __int128 denominator = 1;
  for (char c : fraction) {
    numerator = numerator * 10 + (c - '0');
    denominator *= 10;
  }
  numerator *= millisPerUnit;
  if (numerator % denominator != 0) return invalid(text, "finer than a millisecond");
  if (__builtin_add_overflow(millis, static_cast<int64_t>(numerator / denominator), &millis)) {
    return invalid(text, "out of range");
  }
  return millis;
}

}  // namespace

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return invalid(text, "empty");
  if (text[0] == '-') return invalid(text, "must not be negative");
  int64_t total = 0;
  size_t pos = 0;
  auto take = [&](auto belongs) {
    size_t start = pos;
    while (pos < text.size() && belongs(text[pos])) ++pos;
    return text.substr(start, pos - start);
  };
  while (pos < text.size()) {
    std::string_view whole = take(isDigit);
    std::string_view fraction;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      fraction = take(isDigit);
    }
    if (whole.empty() && fraction.empty()) return invalid(text, "expected a number");
    // As in Go, the unit is everything up to the next number, so "1 h" names the unit " h".
    std::string_view unit = take([](char c) { return !isDigit(c) && c != '.'; });
    if (unit.empty()) return invalid(text, "missing unit (ms, s, m, h, d or w)");
    std::optional<int64_t> millisPerUnit = unitMillis(unit);
    if (!millisPerUnit) {
      return invalid(text, "unknown unit \"" + std::string(unit) + "\" (ms, s, m, h, d or w)");
    }
    Result<int64_t> millis = termMillis(text, whole, fraction, *millisPerUnit);
    if (!millis) return millis.error();
    if (__builtin_add_overflow(total, *millis, &total)) return invalid(text, "out of range");
  }
  return std::chrono::milliseconds(total);
}

std::string formatDuration(std::chrono::milliseconds duration) {
  int64_t millis = duration.count();
  if (millis == 0) return "0s";
  // Unsigned, so that the most negative duration has a magnitude too.
  uint64_t rest = millis < 0 ? 0 - static_cast<uint64_t>(millis) : static_cast<uint64_t>(millis);
  std::string out = millis < 0 ? "-" : "";
  for (const Unit& unit : kUnits) {
    auto perUnit = static_cast<uint64_t>(unit.millis);
    // Prometheus writes weeks only when exact: "90d" reads better than "12w6d".
    if (unit.name == "w" && rest % perUnit != 0) continue;
    if (rest >= perUnit) {
      out += std::to_string(rest / perUnit) + std::string(unit.name);
      rest %= perUnit;
    }
  }
  return out;
}

}  // namespace governor::kube
