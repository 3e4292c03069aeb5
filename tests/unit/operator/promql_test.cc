// operator/promql: what it accepts and the errors it gives, with their positions. That
// its verdicts agree with a real promtool is tests/integration/promtool_test.cc's job.
#include "operator/promql.h"

#include <gtest/gtest.h>

#include "promql_cases.h"

namespace governor::op::promql {
namespace {

std::string errorOf(const std::string& text, const Options& options = {}) {
  auto r = parse(text, options);
  return r ? "" : r.error().status.message;
}

TEST(Promql, AcceptsTheGrammar) {
  for (const char* text : cases::valid()) EXPECT_EQ(errorOf(text), "") << text;
}

TEST(Promql, RejectsWithThePosition) {
  for (const auto& c : cases::invalid()) EXPECT_EQ(errorOf(c.text), c.error) << c.text;
}

TEST(Promql, KnowsTypesAndSelectors) {
  auto scalar = parse("1 + 2");
  ASSERT_TRUE(scalar);
  EXPECT_EQ(scalar->type, ValueType::Scalar);
  auto range = parse("x[5m]");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->type, ValueType::RangeVector);
  EXPECT_FALSE(range->vectorSelector);
  auto selector = parse(" http_request_duration_seconds_bucket{job=\"api\"} ");
  ASSERT_TRUE(selector);
  EXPECT_TRUE(selector->vectorSelector);
  auto sum = parse("sum(x)");
  ASSERT_TRUE(sum);
  EXPECT_FALSE(sum->vectorSelector);
}

// --rules-namespace-matcher: every selector gets the namespace, nothing else changes.
TEST(Promql, WithNamespaceMatcherScopesEverySelector) {
  auto scoped = withNamespaceMatcher(
      R"(sum(rate(http_requests_total{code=~"5..", namespace="other"}[{{.window}}])) # errors
 / on() group_left sum(rate({__name__="http_requests_total"}[{{.window}}] offset 1h)) or vector(0) * up)",
      "shop", {.windowPlaceholder = true});
  ASSERT_TRUE(scoped) << scoped.error().what();
  EXPECT_EQ(*scoped, R"(sum(rate(http_requests_total{namespace="shop",code=~"5.."}[{{.window}}])) # errors
 / on() group_left sum(rate({namespace="shop",__name__="http_requests_total"}[{{.window}}] offset 1h)) or vector(0) * up{namespace="shop"})");
  auto reparsed = parse(*scoped, {.windowPlaceholder = true});
  EXPECT_TRUE(reparsed) << reparsed.error().what();
  // A label value holding PromQL stays a value.
  auto quoted = withNamespaceMatcher(R"(x{job="a\"}) or up{namespace=\"kube-system"})", "shop");
  ASSERT_TRUE(quoted) << quoted.error().what();
  EXPECT_EQ(*quoted, R"(x{namespace="shop",job="a\"}) or up{namespace=\"kube-system"})");
  EXPECT_FALSE(withNamespaceMatcher("sum(x", "shop"));
}

TEST(Promql, TheWindowPlaceholderStandsForADurationWhenAllowed) {
  EXPECT_EQ(errorOf("rate(x[{{.window}}])", {.windowPlaceholder = true}), "");
  EXPECT_EQ(errorOf("rate(x[{{ .window }}] offset 1h)", {.windowPlaceholder = true}), "");
  EXPECT_EQ(errorOf("rate(x[5m:{{.window}}])", {.windowPlaceholder = true}), "");
  EXPECT_EQ(errorOf("rate(x[{{.window}}])"), "1:8: unexpected \"{\", expected a duration like 5m");
  EXPECT_EQ(errorOf("rate(x[{{.window}}]", {.windowPlaceholder = true}), "1:20: unclosed left parenthesis");
}

}  // namespace
}  // namespace governor::op::promql
