// ServedMetrics against the fake API: one request per namespace and metric while the reading
// is fresh, the single object's path when the list fails, and nothing for what is not served.
#include "operator/reconcile/served_metrics.h"

#include <gtest/gtest.h>

#include "support/fake_api.h"

namespace governor::op {
namespace {

using namespace std::chrono_literals;
using testing::FakeApi;

const std::string kList = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/servicelevels.governor.io/*/m";
std::string objectPath(const std::string& name) {
  return "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/servicelevels.governor.io/" + name + "/m";
}

Json item(const std::string& name, const std::string& value) {
  return {{"describedObject", {{"kind", "ServiceLevel"}, {"name", name}}}, {"value", value}};
}

struct Fixture {
  FakeApi api;
  std::chrono::steady_clock::time_point now{};
  ServedMetrics served{api, 10s, [this] { return now; }};
  std::optional<std::string> value(const std::string& name) {
    auto found = served.item(kList, name, objectPath(name));
    if (!found) return std::nullopt;
    return found->value("value", "");
  }
};

TEST(ServedMetrics, ANamespacesValuesAreReadInOneRequestAndKeptForMaxAge) {
  Fixture f;
  f.api.servePath(kList, Json{{"items", {item("a", "1"), item("b", "2")}}});
  EXPECT_EQ(f.value("a"), "1");
  EXPECT_EQ(f.value("b"), "2");
  EXPECT_EQ(f.value("c"), std::nullopt) << "not served for c";
  EXPECT_EQ(f.api.reads(), std::vector<std::string>{"getPath " + kList});

  f.api.servePath(kList, Json{{"items", {item("a", "3")}}});
  f.now += 9s;
  EXPECT_EQ(f.value("a"), "1") << "still fresh";
  f.now += 1s;
  EXPECT_EQ(f.value("a"), "3") << "read again after maxAge";
  EXPECT_EQ(f.value("b"), std::nullopt) << "no longer served";
  EXPECT_EQ(f.api.reads().size(), 2u);
}

// The adapter fails a whole list for one value it cannot measure: the others are asked for one by one.
TEST(ServedMetrics, AFailedListFallsBackToTheObjectsOwnPath) {
  Fixture f;
  f.api.servePath(kList, kube::Error{{503, "ServiceUnavailable", "one value cannot be measured"}, "GET"});
  f.api.servePath(objectPath("a"), Json{{"items", {item("a", "1")}}});
  EXPECT_EQ(f.value("a"), "1");
  EXPECT_EQ(f.value("b"), std::nullopt) << "its own path is not served either";
  EXPECT_EQ(f.api.reads(),
            (std::vector<std::string>{"getPath " + kList, "getPath " + objectPath("a"), "getPath " + objectPath("b")}))
      << "the failed list is not asked again while fresh";
}

TEST(ServedMetrics, AMetricServedForNothingInTheNamespaceIsNone) {
  Fixture f;  // the fake answers 404 at every path not served
  EXPECT_EQ(f.value("a"), std::nullopt);
  EXPECT_EQ(f.value("b"), std::nullopt);
  EXPECT_EQ(f.api.reads(), std::vector<std::string>{"getPath " + kList}) << "404: no object's path to ask";
}

}  // namespace
}  // namespace governor::op
