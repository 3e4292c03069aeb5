// The ServiceLevel CRD's OpenAPI schema (crds/governor.io_servicelevels.yaml, compiled in)
// applied to an object as the API server applies it, for files checked without a cluster
// (`governor-operator render` and `validate`). CEL rules are not evaluated here:
// parseServiceLevel re-implements each of them.
#pragma once

#include <string>
#include <vector>

#include "api/servicelevel.h"

namespace governor::api {

// The CRD as written in crds/.
const Json& crd();
// Its openAPIV3Schema for governor.io/v1alpha1.
const Json& schema();

// Every way `object` breaks the schema, each naming its field as the API server does:
// unknown fields (strict field validation, "spec.autoscalling: unknown field ..."), types,
// enums, patterns, lengths, bounds and required fields. Fields of metadata other than
// name are the API server's own and are not checked.
std::vector<std::string> schemaProblems(const Json& object);

}  // namespace governor::api
