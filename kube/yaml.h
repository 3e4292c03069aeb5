// YAML <-> JSON for manifests: what users write (kubectl-style YAML, several documents)
// in, readable YAML out. Plain scalars get YAML 1.2 core types; quoted ones stay strings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/result.h"

namespace governor::kube {

// Every non-empty document of a "---"-separated stream, in order.
Result<std::vector<nlohmann::json>> parseYamlDocuments(std::string_view text);

// Block-style YAML of one value; strings that would read back as another type are quoted.
std::string toYaml(const nlohmann::json& value);

}  // namespace governor::kube
