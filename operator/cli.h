// governor-operator's commands that need no cluster: `render` prints what ServiceLevel files
// imply, `validate` checks them. Both check a file as the API server and the operator
// would: the CRD's schema (unknown fields too), the operator's own rules and the PromQL.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "operator/render/render.h"

namespace governor::op {

struct RenderCommand {
  std::string file;  // "-" for standard input
  bool prometheusRuleCrd = true;
  std::string only;  // one of renderParts(), or "" for every object
  BacklogApi backlogApi = BacklogApi::External;
  bool rulesNamespaceMatcher = false;  // withNamespaceMatchers, as the operator's flag
};

// --backlog-api: "external" or "custom" (BacklogApi).
const std::map<std::string, BacklogApi>& backlogApis();

// What --only may name: hpa, quota, cache, rules, dashboard.
const std::vector<std::string>& renderParts();

// What `render` prints for a ServiceLevel's children: each a YAML document after "---" and a
// comment naming its group and ServiceLevel. tests/unit/operator/testdata/ holds such output.
std::string objectsYaml(const ServiceLevel& sl, const std::vector<Child>& children);

// The exit status: 0, or 1 after saying on standard error what is wrong, naming file,
// ServiceLevel and field.
int render(const RenderCommand& command);
int validate(const std::vector<std::string>& files);

}  // namespace governor::op
