// kube/time.h: metav1.Time and metav1.MicroTime as the API server writes them.
#include "kube/time.h"

#include <gtest/gtest.h>

namespace governor::kube {
namespace {

using namespace std::chrono;
const system_clock::time_point kAt(seconds(1'700'000'000));

TEST(Time, Rfc3339IsUtcSeconds) {
  EXPECT_EQ(rfc3339(kAt), "2023-11-14T22:13:20Z");
  EXPECT_EQ(rfc3339(kAt + milliseconds(999)), "2023-11-14T22:13:20Z") << "fractions are dropped";
  EXPECT_EQ(parseRfc3339("2023-11-14T22:13:20Z"), kAt);
  EXPECT_EQ(parseRfc3339(rfc3339(kAt + hours(24 * 400))), kAt + hours(24 * 400));
  for (const char* bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14T22:13:20Zjunk", "yesterday"}) {
    EXPECT_FALSE(parseRfc3339(bad)) << bad;
  }
}

TEST(Time, MicroTimeHasSixDigits) {
  EXPECT_EQ(microTime(kAt), "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(microTime(kAt + microseconds(42)), "2023-11-14T22:13:20.000042Z");
}

}  // namespace
}  // namespace governor::kube
