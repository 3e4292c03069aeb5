// The answer of Prometheus' /api/v1/query, as kube/prometheus.cc reads it (prometheusData, then
// prometheusValue or prometheusSeries), on arbitrary bytes: no crash, no exception. A value it
// accepts is finite and, printed as Prometheus prints samples, reads back as the same number;
// series are an array; every error message can go into JSON (conditions, API answers).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/prometheus.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::fuzz::jsonSafe;
using governor::kube::prometheusData;
using governor::kube::prometheusSeries;
using governor::kube::prometheusValue;
using nlohmann::json;

// The shortest text that reads back as `value`, as Go's strconv prints it.
std::string shortest(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

void checkValueRoundTrip(double value) {
  const std::string text = shortest(value);
  // As a scalar, and as a vector of one series.
  const json answers[] = {
      {{"status", "success"}, {"data", {{"resultType", "scalar"}, {"result", {1700000000.5, text}}}}},
      {{"status", "success"},
       {"data", {{"resultType", "vector"}, {"result", {{{"metric", json::object()}, {"value", {1, text}}}}}}}},
  };
  for (const json& answer : answers) {
    auto data = prometheusData(200, answer.dump());
    FUZZ_CHECK(data.ok(), "%s does not read back: %s", answer.dump().c_str(),
               data.ok() ? "" : data.error().what().c_str());
    auto back = prometheusValue(*data);
    FUZZ_CHECK(back.ok() && std::memcmp(&*back, &value, sizeof value) == 0, "value %s reads back as %s", text.c_str(),
               back.ok() ? shortest(*back).c_str() : back.error().what().c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(governor::fuzz::input(data, size));
  // Prometheus answers errors with the same JSON as 400, 422 or 503.
  for (int code : {200, 422}) {
    auto answer = prometheusData(code, body);
    if (!answer) {
      FUZZ_CHECK(jsonSafe(answer.error().what()), "error is not UTF-8: %s", answer.error().what().c_str());
      FUZZ_CHECK(answer.error().status.code == code, "error has code %d, not %d", answer.error().status.code, code);
      continue;
    }
    FUZZ_CHECK(answer->is_object() && answer->contains("result"), "data is %s", answer->dump().c_str());
    auto value = prometheusValue(*answer);
    if (value) {
      FUZZ_CHECK(std::isfinite(*value), "value %s", shortest(*value).c_str());
      // -0 prints as "-0", which Go's ParseFloat reads back as -0 too.
      checkValueRoundTrip(*value);
    } else {
      FUZZ_CHECK(jsonSafe(value.error().what()), "error is not UTF-8: %s", value.error().what().c_str());
    }
    auto series = prometheusSeries(*answer);
    if (series) {
      FUZZ_CHECK(series->is_array(), "series is %s", series->dump().c_str());
    } else {
      FUZZ_CHECK(jsonSafe(series.error().what()), "error is not UTF-8: %s", series.error().what().c_str());
    }
  }
  return 0;
}
