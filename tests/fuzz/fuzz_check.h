// What every fuzz target shares: FUZZ_CHECK, which stops the run with __builtin_trap() after
// printing a violated property (libFuzzer and the replay test both report the trap), and the
// checks that recur across targets.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

// The target's name, for the messages: fuzz_yaml.cc -> "fuzz_yaml".
#define FUZZ_TARGET_NAME (std::strrchr("/" __FILE__, '/') + 1)

#define FUZZ_CHECK(condition, ...)                                                                                 \
  do {                                                                                                             \
    if (!(condition)) {                                                                                            \
      std::fprintf(stderr, "%.*s: property violated: %s\n", static_cast<int>(std::strcspn(FUZZ_TARGET_NAME, ".")), \
                   FUZZ_TARGET_NAME, #condition);                                                                  \
      std::fprintf(stderr, __VA_ARGS__);                                                                           \
      std::fprintf(stderr, "\n");                                                                                  \
      __builtin_trap();                                                                                            \
    }                                                                                                              \
  } while (0)

namespace governor::fuzz {

// The fuzzer's bytes as text, which every target parses.
inline std::string_view input(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// Whether `text` can go into JSON as it is: nlohmann's dump() throws on invalid UTF-8, and
// error messages end up in JSON (status conditions, events, API answers).
inline bool jsonSafe(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// Whether a JSON value serializes (strictly), as it must before it is sent anywhere.
inline bool dumps(const nlohmann::json& value) {
  try {
    (void)value.dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace governor::fuzz
