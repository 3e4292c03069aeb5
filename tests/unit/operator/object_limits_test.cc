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

namespace governor::op {
namespace {

using kube::Json;

constexpr size_t kConfigMapLimit = 1 << 20;  // the API server's limit on a ConfigMap's data

Json crdSpecSchema() {
  std::ifstream in(std::string(GOVERNOR_SOURCE_DIR) + "/crds/governor.io_servicelevels.yaml");
  std::stringstream text;
  text << in.rdbuf();
  auto docs = kube::parseYamlDocuments(text.str());
  if (!docs || docs->empty()) return nullptr;
  return (*docs)[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
}

// The schema of a field under spec, like "alerting.labels".
Json field(const Json& spec, const std::string& path) {
  Json at = spec;
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) at = at["properties"][part];
  return at;
}

size_t maxLength(const Json& spec, const std::string& path) {
  const Json f = field(spec, path);
  return f.is_object() ? f.value("maxLength", size_t{0}) : 0;
}

// `head` and `tail` around as many matchers l0="xx…",l1="xx…" as fit in `limit` characters.
std::string filled(const std::string& head, const std::string& tail, size_t limit) {
  std::string text = head;
  for (int i = 0;; ++i) {
    std::string matcher = (i ? "," : "") + ("l" + std::to_string(i)) + "=\"" + std::string(40, 'x') + "\"";
    if (text.size() + matcher.size() + tail.size() > limit) break;
    text += matcher;
  }
  return text + tail;
}

// As many sum(rate(a[{{.window}}])) summed as fit in `limit`: the most selectors
// --rules-namespace-matcher adds namespace="…" to.
std::string manySelectors(size_t limit) {
  const std::string one = "sum(rate(a[{{.window}}]))";
  std::string text = one;
  while (text.size() + 1 + one.size() <= limit) text += "+" + one;
  return text;
}

enum class Queries { LongSelectors, ManySelectors };

// A ServiceLevel with every section, each text and map as long as the CRD allows.
Json largest(const Json& spec, const std::string& name, Queries queries = Queries::LongSelectors) {
  const std::string window = "[{{.window}}]))";
  auto query = [&](const std::string& path) {
    const size_t limit = maxLength(spec, path);
    return queries == Queries::ManySelectors ? manySelectors(limit)
                                             : filled("sum(rate(http_requests_total{", "}" + window, limit);
  };
  Json labels = Json::object();
  const Json labelSchema = field(spec, "alerting.labels");
  EXPECT_NE(labelSchema.dump().find("size(k) <= 128"), std::string::npos) << "the label names' bound moved";
  for (int i = 0; i < labelSchema.value("maxProperties", 0); ++i) {
    std::string key = "l" + std::to_string(i) + "_";
    labels[key + std::string(128 - key.size(), 'k')] =
        std::string(labelSchema["additionalProperties"].value("maxLength", size_t{0}), 'v');
  }
  const std::string url = "https://runbooks.example/";
  Json sl = {
      {"apiVersion", "governor.io/v1alpha1"},
      {"kind", "ServiceLevel"},
      {"metadata", {{"name", name}, {"namespace", std::string(63, 'n')}, {"uid", "uid-" + name}}},
      {"spec",
       {{"workload", {{"name", "app"}}},
        {"autoscaling",
         {{"minReplicas", 1},
          {"maxReplicas", 10},
          {"queue", {{"redis", {{"address", "redis:6379"}, {"key", "jobs"}}}, {"targetPerReplica", 10}}}}},
        {"cache", {{"maxMemory", "64Mi"}, {"hitRatioTarget", "0.9"}}},
        {"quota", {{"hard", {{"pods", "20"}}}, {"limitRange", {{"defaultRequest", {{"cpu", "100m"}}}}}}},
        {"objectives",
         {{"availability",
           {{"target", "99.9"},
            {"errorQuery", query("objectives.availability.errorQuery")},
            {"totalQuery", query("objectives.availability.totalQuery")}}},
          {"latency",
           {{"threshold", "500ms"},
            {"target", "99"},
            {"histogram", filled("http_request_duration_seconds_bucket{", "}",
                                 maxLength(spec, "objectives.latency.histogram"))}}}}},
        {"alerting",
         {{"labels", labels},
          {"runbookURL", url + std::string(maxLength(spec, "alerting.runbookURL") - url.size(), 'r')},
          {"page", {{"severity", std::string(maxLength(spec, "alerting.page.severity"), 's')}}},
          {"ticket", {{"severity", std::string(maxLength(spec, "alerting.ticket.severity"), 's')}}}}}}}};
  return sl;
}

ServiceLevel parsed(const Json& object) {
  auto result = parseServiceLevel(object);
  EXPECT_TRUE(result.problems.empty()) << result.problems.front();
  return result.serviceLevel.value_or(ServiceLevel{});
}

TEST(ObjectLimits, TheLargestServiceLevelTheCrdAcceptsRendersChildrenThatFitInOneObject) {
  const Json spec = crdSpecSchema();
  ASSERT_TRUE(spec.is_object()) << "cannot read the CRD";
  ASSERT_GT(maxLength(spec, "objectives.availability.errorQuery"), 1000u) << "the CRD's bounds were not found";
  // Long label values everywhere; and queries of as many selectors as fit, each of which
  // --rules-namespace-matcher lengthens by the (longest) namespace.
  const ServiceLevel longest = parsed(largest(spec, "largest"));
  const ServiceLevel scoped = withNamespaceMatchers(parsed(largest(spec, "largest", Queries::ManySelectors)));
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
      std::cout << "the largest rules (" << (prometheusRuleCrd ? "PrometheusRule" : "ConfigMap")
                << ", " << shape << ") the CRD allows: " << rules / 1024 << " KiB\n";
    }
  }
}

TEST(ObjectLimits, NoTwoServiceLevelsInANamespaceRenderAChildOfTheSameKindAndName) {
  const Json spec = crdSpecSchema();
  ASSERT_TRUE(spec.is_object());
  for (bool prometheusRuleCrd : {true, false}) {
    auto children = [&](const std::string& name) {
      std::set<std::pair<std::string, std::string>> keys;
      for (const auto& child : render(parsed(largest(spec, name)), {.prometheusRuleCrd = prometheusRuleCrd})) {
        auto key = std::pair(child.resource.group + "/" + child.resource.plural,
                             child.object["metadata"]["name"].get<std::string>());
        EXPECT_TRUE(keys.insert(key).second) << "one ServiceLevel renders " << key.first << " " << key.second << " twice";
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
