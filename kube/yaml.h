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

// Block-style YAML of one value that parseYamlDocuments reads back as exactly that value, with
// the keys in the value's order (toYamlInOrder: an ordered_json keeps the order it was built in). Strings are
// plain where every YAML reader (1.1 included) takes them back unchanged, else single-quoted,
// literal blocks ("|", "|-") for text of several lines, double-quoted with escapes for control
// characters. Invalid UTF-8 and noncharacters, which the parser rejects, come out as U+FFFD.
// The one YAML writer of both binaries: manifests, `operator render`, the rule files.
std::string toYaml(const nlohmann::json& value);
std::string toYamlInOrder(const nlohmann::ordered_json& value);

}  // namespace governor::kube
