// See promql_check.h.
#include "operator/promql_check.h"

#include "api/series_selector.h"
#include "operator/promql.h"
#include "operator/render/render.h"

namespace governor::op {

namespace {
// What a field must hold: a query whose value is an instant vector, or a bare selector.
enum class Want { Vector, Selector };
}  // namespace

std::vector<std::string> queryProblems(const ServiceLevel& sl) {
  std::vector<std::string> problems;
  auto check = [&](const std::string& field, const std::string& text, Want want) {
    auto parsed = promql::parse(text, {.windowPlaceholder = true});
    if (!parsed) {
      problems.push_back(field + ": invalid PromQL: " + parsed.error().status.message);
    } else if (want == Want::Selector && !parsed->vectorSelector) {
      problems.push_back(field +
                         ": must be a series selector such as http_request_duration_seconds_bucket{job=\"api\"}");
    } else if (want == Want::Vector && parsed->type != promql::ValueType::InstantVector) {
      problems.push_back(field +
                         ": must be an instant vector such as sum(rate(http_requests_total[{{.window}}])), not a " +
                         promql::typeName(parsed->type));
    }
  };
  if (sl.objectives && sl.objectives->availability) {
    check("spec.objectives.availability.errorQuery", sl.objectives->availability->errorQuery, Want::Vector);
    check("spec.objectives.availability.totalQuery", sl.objectives->availability->totalQuery, Want::Vector);
  }
  if (sl.objectives && sl.objectives->latency) {
    check("spec.objectives.latency.histogram", sl.objectives->latency->histogram, Want::Selector);
  }
  if (!problems.empty()) return problems;
  // What the operator writes around them: a mistake here is Governor's, still never Prometheus's problem.
  Json groups = ruleGroups(sl);
  if (groups.is_null()) return problems;
  for (const auto& group : groups["groups"]) {
    for (const auto& rule : group["rules"]) {
      auto parsed = promql::parse(rule.value("expr", ""));
      if (!parsed) {
        problems.push_back("rule " + rule.value("record", rule.value("alert", "")) + " of group " +
                           group.value("name", "") + ": invalid PromQL: " + parsed.error().status.message);
      }
    }
  }
  return problems;
}

ServiceLevel withNamespaceMatchers(ServiceLevel sl) {
  if (sl.objectives && sl.objectives->availability) {
    for (std::string* query : {&sl.objectives->availability->errorQuery, &sl.objectives->availability->totalQuery}) {
      if (auto scoped = promql::withNamespaceMatcher(*query, sl.namespaceName, {.windowPlaceholder = true})) {
        *query = *scoped;
      }
    }
  }
  if (sl.objectives && sl.objectives->latency) {
    if (auto histogram = api::parseSeriesSelector(sl.objectives->latency->histogram)) {
      sl.objectives->latency->histogram = api::renderSeriesSelector(api::inNamespace(*histogram, sl.namespaceName));
    }
  }
  return sl;
}

}  // namespace governor::op
