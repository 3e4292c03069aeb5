// The largest ServiceLevel the CRD accepts, built from the bounds in the CRD file itself:
// every section, each text and map as long as the schema allows. Unit tests render it to
// prove every child fits in one object; the operator's integration test applies it.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/yaml.h"

namespace governor::testing {

using Json = nlohmann::json;

// The schema of spec in the CRD file at `crdFile` (crds/governor.io_servicelevels.yaml);
// null when it cannot be read.
inline Json crdSpecSchema(const std::string& crdFile) {
  std::ifstream in(crdFile);
  std::stringstream text;
  text << in.rdbuf();
  auto docs = kube::parseYamlDocuments(text.str());
  if (!docs || docs->empty()) return nullptr;
  return (*docs)[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
}

// The schema of a field under spec, like "alerting.labels".
inline Json field(const Json& spec, const std::string& path) {
  Json at = spec;
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) at = at["properties"][part];
  return at;
}

inline size_t maxLength(const Json& spec, const std::string& path) {
  const Json f = field(spec, path);
  return f.is_object() ? f.value("maxLength", size_t{0}) : 0;
}

// `head` and `tail` around as many matchers l0="xx…",l1="xx…" as fit in `limit` characters.
inline std::string filled(const std::string& head, const std::string& tail, size_t limit) {
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
inline std::string manySelectors(size_t limit) {
  const std::string one = "sum(rate(a[{{.window}}]))";
  std::string text = one;
  while (text.size() + 1 + one.size() <= limit) text += "+" + one;
  return text;
}

enum class Queries { LongSelectors, ManySelectors };

// A ServiceLevel with every section, each text and map as long as the CRD allows.
inline Json largest(const Json& spec, const std::string& name, const std::string& ns,
                    Queries queries = Queries::LongSelectors) {
  const std::string window = "[{{.window}}]))";
  auto query = [&](const std::string& path) {
    const size_t limit = maxLength(spec, path);
    return queries == Queries::ManySelectors ? manySelectors(limit)
                                             : filled("sum(rate(http_requests_total{", "}" + window, limit);
  };
  Json labels = Json::object();
  // The label names' bound is in a CEL rule (size(k) <= 128): object_limits_test checks it is.
  const Json labelSchema = field(spec, "alerting.labels");
  for (int i = 0; i < labelSchema.value("maxProperties", 0); ++i) {
    std::string key = "l" + std::to_string(i) + "_";
    labels[key + std::string(128 - key.size(), 'k')] =
        std::string(labelSchema["additionalProperties"].value("maxLength", size_t{0}), 'v');
  }
  const std::string url = "https://runbooks.example/";
  Json sl = {{"apiVersion", "governor.io/v1alpha1"},
             {"kind", "ServiceLevel"},
             {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}}},
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

}  // namespace governor::testing
