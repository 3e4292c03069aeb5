// The PromQL of a ServiceLevel, checked before any of it reaches Prometheus: the reconciler
// writes no rules while this finds a problem (RulesReady=False, InvalidQuery), and
// `governor-operator render` and `validate` refuse the file.
#pragma once

#include <string>
#include <vector>

#include "operator/api.h"

namespace governor::op {

// Every problem, each naming its field ("spec.objectives.availability.errorQuery: invalid
// PromQL: 1:14: unclosed left parenthesis"): the queries the user wrote first, then every
// expression of the rules the operator would write from them.
std::vector<std::string> queryProblems(const ServiceLevel& sl);

// The ServiceLevel with namespace="<its namespace>" in every series selector of errorQuery,
// totalQuery and the histogram, replacing any namespace matcher (--rules-namespace-matcher):
// its rules then read only its namespace. A query that does not parse is left as it is, for
// queryProblems to report.
ServiceLevel withNamespaceMatchers(ServiceLevel sl);

}  // namespace governor::op
