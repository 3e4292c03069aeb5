// Table and round-trip tests for parseDuration and formatDuration.
#include "kube/duration.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace governor::kube {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kWeek = 7 * kDay;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(DurationTest, ParsesUnitsSequencesAndFractions) {
  struct Case {
    std::string input;
    int64_t millis;
  };
  const Case cases[] = {
      {"0", 0},
      {"0s", 0},
      {"0ms", 0},
      {"250ms", 250},
      {"1s", kSecond},
      {"90s", 90 * kSecond},
      {"5m", 5 * kMinute},
      {"1h", kHour},
      {"1h30m", kHour + 30 * kMinute},
      {"1.5h", kHour + 30 * kMinute},
      {"30d", 30 * kDay},
      {"1w", kWeek},
      {"2w3d", 2 * kWeek + 3 * kDay},
      {"1d2h3m4s5ms", kDay + 2 * kHour + 3 * kMinute + 4 * kSecond + 5},
      {"1h1h", 2 * kHour},  // Go sums repeated units
      {"30m1h", kHour + 30 * kMinute},
      {".5s", 500},
      {"1.s", kSecond},
      {"0.001s", 1},
      {"1.25m", 75 * kSecond},
      {"0.5w", 84 * kHour},
      {"1.5000000000000000000000000h", kHour + 30 * kMinute},  // trailing zeros are exact
      {"007m", 7 * kMinute},
      {"9223372036854775807ms", kMax},
      {"15250284452w", 15250284452 * kWeek},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Result<milliseconds> duration = parseDuration(c.input);
    ASSERT_TRUE(duration.ok()) << duration.error().what();
    EXPECT_EQ(duration->count(), c.millis);
  }
}

TEST(DurationTest, RejectsMalformedInputNamingIt) {
  struct Case {
    std::string input;
    std::string reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"5", "missing unit"},
      {"1h5", "missing unit"},
      {"1.5.5s", "missing unit"},
      {"-5m", "negative"},
      {"-0", "negative"},
      {"+5m", "expected a number"},
      {"h", "expected a number"},
      {".s", "expected a number"},
      {" 1h", "expected a number"},
      {"1h ", "unknown unit \"h \""},
      {"1 h", "unknown unit \" h\""},
      {"1x", "unknown unit \"x\""},
      {"1y", "unknown unit \"y\""},
      {"1us", "unknown unit \"us\""},
      {"1µs", "unknown unit \"µs\""},
      {"1ns", "unknown unit \"ns\""},
      {"1H", "unknown unit \"H\""},
      {"0.5ms", "finer than a millisecond"},
      {"1.0001s", "finer than a millisecond"},
      {"0.0000000000000000001w", "finer than a millisecond"},
      {"9223372036854775808ms", "out of range"},
      {"106751991167w", "out of range"},
      {"15250284452w4d", "out of range"},
      {"99999999999999999999999h", "out of range"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Result<milliseconds> duration = parseDuration(c.input);
    ASSERT_FALSE(duration.ok()) << duration->count();
    const Status& status = duration.error().status;
    EXPECT_EQ(status.code, 0);
    EXPECT_EQ(status.reason, "Invalid");
    EXPECT_NE(status.message.find("duration \"" + c.input + "\""), std::string::npos) << status.message;
    EXPECT_NE(status.message.find(c.reason), std::string::npos) << status.message;
    EXPECT_EQ(duration.error().context, "");
  }
}

TEST(DurationTest, FormatsShortestPrometheusForm) {
  struct Case {
    int64_t millis;
    std::string text;
  };
  const Case cases[] = {
      {0, "0s"},
      {1, "1ms"},
      {250, "250ms"},
      {kSecond, "1s"},
      {90 * kSecond, "1m30s"},
      {5 * kMinute, "5m"},
      {kHour + 30 * kMinute, "1h30m"},
      {kHour + 1, "1h1ms"},
      {25 * kHour, "1d1h"},
      {kDay + kSecond, "1d1s"},
      {8 * kDay, "8d"},  // weeks only when exact
      {14 * kDay, "2w"},
      {30 * kDay, "30d"},
      {90 * kDay, "90d"},
      {kWeek, "1w"},
      {-5 * kMinute, "-5m"},
      {kMax, "106751991167d7h12m55s807ms"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(formatDuration(milliseconds(c.millis)), c.text);
  }
}

TEST(DurationTest, RoundTrips) {
  const int64_t durations[] = {0,     1,         999,        kSecond + 1, kMinute - 1, kHour + 1, kDay - 1,
                               kWeek, kWeek + 1, 13 * kWeek, 30 * kDay,   365 * kDay,  kMax - 1,  kMax};
  for (int64_t millis : durations) {
    std::string text = formatDuration(milliseconds(millis));
    SCOPED_TRACE(text);
    Result<milliseconds> parsed = parseDuration(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().what();
    EXPECT_EQ(parsed->count(), millis);
  }
  for (const std::string text : {"0s", "250ms", "5m", "1h30m", "30d", "2w", "1d1h1m1s1ms"}) {
    SCOPED_TRACE(text);
    Result<milliseconds> parsed = parseDuration(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().what();
    EXPECT_EQ(formatDuration(*parsed), text);
  }
}

}  // namespace
}  // namespace governor::kube
