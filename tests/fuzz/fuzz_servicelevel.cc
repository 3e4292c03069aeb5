// The ServiceLevel parser (api/servicelevel.cc) on what kubectl users and the API server can
// hand it: the input as JSON, or else as YAML documents (kube::parseYamlDocuments), each read
// by parseServiceLevel. No crash, no exception; a ServiceLevel is accepted exactly when no
// problem is listed; every problem can go into a status condition (JSON); reading is
// deterministic; what is accepted renders (operator/render, both backlog APIs, pausing with
// the workload's replicas) into children whose objects serialize, each with metadata.name.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/servicelevel.h"
#include "kube/yaml.h"
#include "operator/render/render.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::api::parseServiceLevel;
using governor::fuzz::dumps;
using governor::fuzz::jsonSafe;
using nlohmann::json;

void checkServiceLevel(const json& object) {
  const auto parsed = parseServiceLevel(object);
  FUZZ_CHECK(parsed.serviceLevel.has_value() == parsed.problems.empty(), "%zu problems, ServiceLevel %s",
             parsed.problems.size(), parsed.serviceLevel ? "accepted" : "refused");
  for (const std::string& problem : parsed.problems) {
    FUZZ_CHECK(jsonSafe(problem), "problem is not UTF-8: %s", problem.c_str());
  }
  const auto again = parseServiceLevel(object);
  FUZZ_CHECK(again.problems == parsed.problems, "a second reading lists %zu problems, not %zu", again.problems.size(),
             parsed.problems.size());
  if (!parsed.serviceLevel) return;

  const auto& sl = *parsed.serviceLevel;
  FUZZ_CHECK(!sl.name.empty(), "accepted without a name");
  FUZZ_CHECK(dumps(governor::api::ownerReference(sl)), "the owner reference does not serialize");
  for (auto backlogApi : {governor::op::BacklogApi::External, governor::op::BacklogApi::Custom}) {
    governor::op::RenderOptions options;
    options.backlogApi = backlogApi;
    options.prometheusRuleCrd = backlogApi == governor::op::BacklogApi::External;
    options.workloadReplicas = 3;
    options.guardFloor = 2;
    for (const auto& child : governor::op::render(sl, options)) {
      FUZZ_CHECK(dumps(child.object), "a %s child does not serialize", child.resource.plural.c_str());
      FUZZ_CHECK(
          child.object.is_object() && child.object.contains("metadata") && child.object["metadata"].contains("name"),
          "a %s child has no name", child.resource.plural.c_str());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(governor::fuzz::input(data, size));
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_discarded()) {
    checkServiceLevel(object);
    return 0;
  }
  auto documents = governor::kube::parseYamlDocuments(text);
  if (!documents) return 0;
  for (const json& document : *documents) checkServiceLevel(document);
  return 0;
}
