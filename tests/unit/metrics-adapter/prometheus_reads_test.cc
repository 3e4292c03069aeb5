// PrometheusReads without a Prometheus: the one query of a shape (shapeQuery), which selectors
// share one, and the errors each read gets, named by its own query. The values themselves are
// checked against a real Prometheus in tests/integration/adapter/prometheus_source_test.cc.
#include "metrics-adapter/prometheus_reads.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metrics-adapter/sources/prometheus_source.h"

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;

api::SeriesSelector selector(const std::string& text) {
  auto parsed = api::parseSeriesSelector(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? *parsed : api::SeriesSelector{};
}

// The shape PrometheusReads makes of `text`: its `=` matchers variable but le's.
Shape shapeOf(const std::string& text, std::set<int> percentiles) {
  Shape shape{selector(text), {}, std::move(percentiles)};
  for (size_t i = 0; i < shape.selector.matchers.size(); ++i) {
    if (shape.selector.matchers[i].op == "=" && shape.selector.matchers[i].label != "le") shape.variable.push_back(i);
  }
  return shape;
}

TEST(ShapeQueryTest, ALoneSelectorIsItsOwnQuery) {
  const Shape shape = shapeOf(R"(http_bucket{namespace="",job=""})", {95});
  const ShapeQuery q = shapeQuery(shape, {{"shop", "web"}}, "2m");
  EXPECT_EQ(q.promql, latencyQuery(R"(http_bucket{namespace="shop",job="web"})", 0.95, "2m"));
  EXPECT_TRUE(q.by.empty());
  EXPECT_EQ(shapeQuery(shapeOf(R"(jobs_total{namespace=""})", {}), {{"shop"}}, "1m").promql,
            counterRateQuery(R"(jobs_total{namespace="shop"})", "1m"));
}

TEST(ShapeQueryTest, ValuesThatDifferAreOneAlternationKeptApartAndPercentilesAreLabelled) {
  const Shape shape = shapeOf(R"(http_bucket{namespace="",job="",le="1"})", {50, 95});
  const ShapeQuery q = shapeQuery(shape, {{"shop", "web"}, {"cart", "web"}, {"shop", "web"}}, "2m");
  const std::string inner =
      R"(sum by (le, namespace) (rate(http_bucket{namespace=~"cart|shop",job="web",le="1"}[2m]))))";
  EXPECT_EQ(q.promql, "label_replace(histogram_quantile(0.5, " + inner +
                          R"(, "governor_percentile", "50", "", "") or label_replace(histogram_quantile(0.95, )" +
                          inner + R"(, "governor_percentile", "95", "", ""))");
  EXPECT_EQ(q.by, std::vector<size_t>{0}) << "job is the same for all: matched by =, not kept apart";
  EXPECT_EQ(shapeQuery(shapeOf(R"(jobs_total{namespace=""})", {}), {{"a"}, {"b"}}, "1m").promql,
            R"(sum by (namespace) (rate(jobs_total{namespace=~"a|b"}[1m])))");
}

TEST(ShapeQueryTest, AValueIsQuotedSoThatItMatchesOnlyItself) {
  const ShapeQuery q = shapeQuery(shapeOf(R"(x{job=""})", {}), {{"a.b"}, {"c|d"}, {""}, {"e\"f"}}, "1m");
  // The regex `|a\.b|c\|d|e"f` (the empty value first: a series without job), in PromQL quotes.
  EXPECT_EQ(q.promql, R"(sum by (job) (rate(x{job=~"|a\\.b|c\\|d|e\"f"}[1m])))");
}

TEST(PrometheusReadsTest, SelectorsOfOneShapeAreOneQueryAndErrorsNameTheirOwnQuery) {
  kube::PrometheusClient nobody("http://127.0.0.1:1", 300ms);
  PrometheusReads reads(nobody, "2m", "1m");
  const size_t shop = reads.addQuantile(selector(R"(http_bucket{namespace="shop",job="web"})"), 95);
  const size_t cart = reads.addQuantile(selector(R"(http_bucket{namespace="cart",job="api"})"), 50);
  const size_t cart99 = reads.addQuantile(selector(R"(http_bucket{namespace="cart",job="api"})"), 99);
  // Other shapes: another metric, a matcher that is not `=`, a label matched twice, a rate.
  const size_t other = reads.addQuantile(selector(R"(rpc_bucket{namespace="shop"})"), 95);
  const size_t regex = reads.addQuantile(selector(R"(http_bucket{namespace="shop",job=~"web"})"), 95);
  const size_t twice = reads.addQuantile(selector(R"(http_bucket{namespace="shop",job="web",job="api"})"), 95);
  const size_t rate = reads.addRate(selector(R"(http_bucket{namespace="shop",job="web"})"));

  const auto value = reads.reading(cart99);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().what(), "prometheus http://127.0.0.1:1 query \"" +
                                      latencyQuery(R"(http_bucket{namespace="cart",job="api"})", 0.99, "2m") +
                                      "\": Unavailable: could not connect");
  EXPECT_EQ(reads.queries(), 1u);
  EXPECT_FALSE(reads.reading(shop).ok());
  EXPECT_FALSE(reads.reading(cart).ok());
  EXPECT_EQ(reads.queries(), 1u) << "one query for the three reads of one shape";
  for (size_t r : {other, regex, twice, rate}) EXPECT_FALSE(reads.reading(r).ok());
  EXPECT_EQ(reads.queries(), 5u);
  const std::string rateQuery = counterRateQuery(R"(http_bucket{namespace="shop",job="web"})", "1m");
  EXPECT_NE(reads.reading(rate).error().what().find("query \"" + rateQuery + "\""), std::string::npos)
      << reads.reading(rate).error().what();
  EXPECT_EQ(reads.queries(), 5u) << "a reading is read once per round";

  reads.nextRound();
  EXPECT_FALSE(reads.reading(cart).ok());
  EXPECT_EQ(reads.queries(), 6u) << "the next round queries again";
  for (size_t r : {shop, cart99}) EXPECT_FALSE(reads.reading(r).ok());
  EXPECT_EQ(reads.queries(), 6u) << "once per shape";
}

}  // namespace
}  // namespace governor::adapter
