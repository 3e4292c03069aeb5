// exitStatusOf: the boundary every main runs behind.
#include "kube/result.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace governor::kube {
namespace {

TEST(ExitStatusOf, PassesTheBodysStatusAndTurnsAnEscapedExceptionInto70) {
  EXPECT_EQ(exitStatusOf("prog", [] { return 0; }), 0);
  EXPECT_EQ(exitStatusOf("prog", [] { return 3; }), 3);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(exitStatusOf("prog", []() -> int { throw std::invalid_argument("stoi"); }), 70);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "prog: internal error: stoi\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(exitStatusOf("prog", []() -> int { throw 42; }), 70);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "prog: internal error: unknown exception\n");
}

}  // namespace
}  // namespace governor::kube
