// Faults the CRD's bounds rule out, proven from the CRD itself: the largest ServiceLevel
// crds/governor.io_servicelevels.yaml accepts renders children that each fit in one object
// (a ConfigMap holds at most 1 MiB, etcd an object of 1.5 MiB by default), and no two
// ServiceLevels of one namespace render a child of the same kind and name.
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "api/servicelevel.h"
#include "kube/yaml.h"
#include "operator/promql_check.h"
#include "operator/render/render.h"
#include "support/largest_service_level.h"

namespace governor::op {
namespace {

using kube::Json;
using testing::crdSpecSchema;
using testing::field;
using testing::largest;
using testing::maxLength;
using testing::Queries;

Json crdSpecSchema() {
  return crdSpecSchema(std::string(GOVERNOR_SOURCE_DIR) + "/crds/governor.io_servicelevels.yaml");
}

constexpr size_t kConfigMapLimit = 1 << 20;  // the API server's limit on a ConfigMap's data

ServiceLevel parsed(const Json& object) {
  auto result = parseServiceLevel(object);
  EXPECT_TRUE(result.problems.empty()) << result.problems.front();
  return result.serviceLevel.value_or(ServiceLevel{});
}

TEST(ObjectLimits, TheLargestServiceLevelTheCrdAcceptsRendersChildrenThatFitInOneObject) {
  const Json spec = crdSpecSchema();
  ASSERT_TRUE(spec.is_object()) << "cannot read the CRD";
  ASSERT_GT(maxLength(spec, "objectives.availability.errorQuery"), 1000u) << "the CRD's bounds were not found";
  EXPECT_NE(field(spec, "alerting.labels").dump().find("size(k) <= 128"), std::string::npos)
      << "the bound of alerting label names moved: largest() fills them to 128 characters";
  // Long label values everywhere; and queries of as many selectors as fit, each of which
  // --rules-namespace-matcher lengthens by the (longest) namespace.
  const ServiceLevel longest = parsed(largest(spec, "largest", std::string(63, 'n')));
  const ServiceLevel scoped =
      withNamespaceMatchers(parsed(largest(spec, "largest", std::string(63, 'n'), Queries::ManySelectors)));
  for (const auto& [sl, shape] : {std::pair(&longest, "long labels and matchers"),
                                  std::pair(&scoped, "many selectors scoped to the namespace")}) {
    for (bool prometheusRuleCrd : {true, false}) {
      size_t rules = 0;
      for (const auto& child : render(*sl, {.prometheusRuleCrd = prometheusRuleCrd})) {
        const size_t bytes = child.object.dump().size();
        EXPECT_LT(bytes, kConfigMapLimit) << child.object["kind"] << " " << child.object["metadata"]["name"];
        if (child.group == ChildGroup::Rules) rules = std::max(rules, bytes);
      }
      EXPECT_GT(rules, 100'000u) << "the worst case is not filled in";
      std::cout << "the largest rules (" << (prometheusRuleCrd ? "PrometheusRule" : "ConfigMap") << ", " << shape
                << ") the CRD allows: " << rules / 1024 << " KiB\n";
    }
  }
}

TEST(ObjectLimits, NoTwoServiceLevelsInANamespaceRenderAChildOfTheSameKindAndName) {
  const Json spec = crdSpecSchema();
  ASSERT_TRUE(spec.is_object());
  for (bool prometheusRuleCrd : {true, false}) {
    auto children = [&](const std::string& name) {
      std::set<std::pair<std::string, std::string>> keys;
      for (const auto& child : render(parsed(largest(spec, name, "shop")), {.prometheusRuleCrd = prometheusRuleCrd})) {
        auto key = std::pair(child.resource.group + "/" + child.resource.plural,
                             child.object["metadata"]["name"].get<std::string>());
        EXPECT_TRUE(keys.insert(key).second)
            << "one ServiceLevel renders " << key.first << " " << key.second << " twice";
      }
      return keys;
    };
    // Every child of "a" is named "a" or "a-<suffix>": a ServiceLevel named like it is the
    // only one that could render the same name.
    const auto a = children("a");
    ASSERT_GT(a.size(), 5u);
    for (const auto& [resource, name] : a) {
      if (name == "a") continue;
      for (const auto& key : children(name)) {
        EXPECT_FALSE(a.contains(key)) << "ServiceLevels a and " << name << " both render " << key.first << " "
                                      << key.second;
      }
    }
  }
}

}  // namespace
}  // namespace governor::op
