// YAML <-> JSON for manifests: what users write (kubectl-style YAML, several documents)
// in, readable YAML out. Plain scalars get YAML 1.2 core types; quoted ones stay strings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/result.h"

namespace governor::kube {

// Every non-empty document of a "---"-separated stream, in order. Rejected (Invalid, naming
// line and column): strings that are not UTF-8 or hold a noncharacter (U+FFFE, U+FFFF,
// U+FDD0-U+FDEF, ...), nesting deeper than 200 levels, collections as mapping keys, and
// aliases that expand the stream past 100,000 values or 1 MiB of strings (more for larger
// texts, so that what is written out in full always fits).
Result<std::vector<nlohmann::json>> parseYamlDocuments(std::string_view text);

// Block-style YAML of one value that parseYamlDocuments reads back as exactly that value:
// strings that would read back as another type, or changed, are double-quoted; literal blocks
// ("|") only for text that ends in exactly one newline. (Noncharacters, which the parser
// rejects, come out as U+FFFD.)
std::string toYaml(const nlohmann::json& value);

}  // namespace governor::kube
