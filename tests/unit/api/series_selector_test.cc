// The series-selector grammar: what it accepts, what it refuses (an injection above all), and
// that rendering keeps every value inside its string.
#include "api/series_selector.h"

#include <gtest/gtest.h>

#include <regex>

#include "api/schema.h"
#include "api/servicelevel.h"
#include "kube/yaml.h"

namespace governor::api {
namespace {

// Issue 16 part 4: closes the adapter's rate( ... ) and reads kube-system through scalar().
const std::string kInjection =
    "x_bucket{}[1m]))) or vector(0) + scalar(count(up{namespace=\"kube-system\"})) or sum(sum(rate(x_bucket{}";

TEST(SeriesSelector, ParsesNameAndMatchersWithEveryOperatorAndQuote) {
  auto s = parseSeriesSelector(" http_bucket { job = \"a\", code!='5..' , path=~`/x\\d+`, env!~\"t.*\", } ");
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(s->metric, "http_bucket");
  EXPECT_EQ(s->matchers,
            (std::vector<LabelMatcher>{
                {"job", "=", "a"}, {"code", "!=", "5.."}, {"path", "=~", "/x\\d+"}, {"env", "!~", "t.*"}}));
  EXPECT_EQ(renderSeriesSelector(*s), R"(http_bucket{job="a",code!="5..",path=~"/x\\d+",env!~"t.*"})");
  EXPECT_EQ(renderSeriesSelector(parseSeriesSelector("a:b_bucket").value()), "a:b_bucket");
  EXPECT_EQ(renderSeriesSelector(parseSeriesSelector("a{}").value()), "a");
  EXPECT_EQ(renderSeriesSelector(parseSeriesSelector("{__name__=\"a\"}").value()), "{__name__=\"a\"}");
}

TEST(SeriesSelector, UnescapesAsPromQLAndRendersBackTheSameValue) {
  auto s = parseSeriesSelector(R"(m{a="q\"b\\c\n\x41\u00e9\101", b='it\'s'})");
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(s->matchers[0].value,
            "q\"b\\c\nA\xc3\xa9"
            "A");
  EXPECT_EQ(s->matchers[1].value, "it's");
  auto again = parseSeriesSelector(renderSeriesSelector(*s));
  ASSERT_TRUE(again.ok()) << again.error().what();
  EXPECT_EQ(*again, *s);
}

TEST(SeriesSelector, RefusesAnythingButASelector) {
  for (const std::string& text :
       {kInjection, std::string("x_bucket{job=\"a\"}[5m]"), std::string("rate(x_bucket[5m])"),
        std::string("x_bucket offset 5m"), std::string("x_bucket or up"), std::string("x_bucket{job=\"a\"} + 1"),
        std::string("x_bucket{job=\"a\"})) or vector(1"), std::string("x_bucket{job=a}"),
        std::string("x_bucket{job==\"a\"}"), std::string("x_bucket{job=\"a\""), std::string("x_bucket{\"a\"}"),
        std::string("x_bucket{job=\"a\\q\"}"), std::string("x_bucket{job=\"a\nb\"}"), std::string(""),
        std::string("{}"), std::string("9x_bucket"), std::string("x_bucket{job=\"a\"}{b=\"c\"}")}) {
    auto s = parseSeriesSelector(text);
    EXPECT_FALSE(s.ok()) << text << " parsed as " << renderSeriesSelector(*s);
  }
  auto injection = parseSeriesSelector(kInjection);
  ASSERT_FALSE(injection.ok());
  EXPECT_EQ(injection.error().status.reason, "Invalid");
  EXPECT_EQ(injection.error().status.message, "1:11: unexpected \"[\" after the selector");
}

TEST(SeriesSelector, InNamespaceReplacesEveryNamespaceMatcher) {
  auto s = parseSeriesSelector(R"(x_bucket{job="a",namespace="other",namespace=~".+"})");
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(renderSeriesSelector(inNamespace(*s, "shop")), R"(x_bucket{namespace="shop",job="a"})");
  EXPECT_EQ(renderSeriesSelector(inNamespace(parseSeriesSelector("x_bucket").value(), "shop")),
            R"(x_bucket{namespace="shop"})");
}

TEST(SeriesSelector, AServiceLevelWithTheInjectionIsRefused) {
  auto docs = kube::parseYamlDocuments(
      "apiVersion: governor.io/v1alpha1\nkind: ServiceLevel\nmetadata: {name: checkout, namespace: shop}\n"
      "spec:\n  workload: {name: x}\n  objectives:\n    latency:\n      threshold: 1s\n      target: '95'\n"
      "      histogram: '" +
      kInjection + "'\n");
  ASSERT_TRUE(docs.ok()) << docs.error().what();
  auto r = parseServiceLevel((*docs)[0]);
  EXPECT_FALSE(r.serviceLevel.has_value());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0],
            "spec.objectives.latency.histogram: must be a histogram's _bucket series with an optional selector, like "
            "http_request_duration_seconds_bucket{job=\"x\"}: 1:11: unexpected \"[\" after the selector");
}

// The CRD's CEL rule is the same grammar as a regular expression (RE2; std::regex reads this
// one alike), so kubectl refuses what the operator and the adapter would.
TEST(SeriesSelector, TheCrdRuleAcceptsAndRefusesAsTheParser) {
  const Json& histogram =
      schema()["properties"]["spec"]["properties"]["objectives"]["properties"]["latency"]["properties"]["histogram"];
  const std::string rule = histogram["x-kubernetes-validations"][0]["rule"];
  const size_t start = rule.find("r'''"), end = rule.rfind("'''");
  ASSERT_NE(start, std::string::npos) << rule;
  const std::regex pattern(rule.substr(start + 4, end - start - 4));
  for (const char* good : {"x_bucket", R"(x_bucket{job="a"})", R"( x_bucket { job = "a\"}", b!~'c', d=~`e`, } )",
                           R"(x_bucket{namespace="other"})"}) {
    EXPECT_TRUE(std::regex_search(good, pattern)) << good;
    EXPECT_TRUE(parseSeriesSelector(good).ok()) << good;
  }
  for (const std::string& bad : {kInjection, std::string("x_count{a=\"b\"}"), std::string("x_bucket{a=\"b\"}[5m]"),
                                 std::string("x_bucket{a=\"b\"} or up"), std::string("x_bucket{a=b}")}) {
    EXPECT_FALSE(std::regex_search(bad, pattern)) << bad;
  }
}

}  // namespace
}  // namespace governor::api
