// parseSelector on arbitrary text must not crash; what it accepts must print (toString) as
// text that parses back to an equal selector, and printing must be a fixed point. When the
// input is JSON, selectorFromJson gets it too; when it is not, selectorFromJson gets it as a
// label key and value. What selectorFromJson accepts must print and parse back alike (the
// string form can say everything a metav1.LabelSelector can), and it must never throw.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/selector.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::kube::parseSelector;
using governor::kube::Selector;
using governor::kube::selectorFromJson;

void checkPrintsBack(const Selector& selector, const std::string& input) {
  const std::string text = selector.toString();
  auto back = parseSelector(text);
  FUZZ_CHECK(back.ok(), "input \"%s\" prints as \"%s\", which does not parse: %s", input.c_str(), text.c_str(),
             back.ok() ? "" : back.error().what().c_str());
  FUZZ_CHECK(*back == selector, "input \"%s\" prints as \"%s\", which reads back as \"%s\"", input.c_str(),
             text.c_str(), back->toString().c_str());
  FUZZ_CHECK(back->toString() == text, "input \"%s\" prints as \"%s\", then as \"%s\"", input.c_str(), text.c_str(),
             back->toString().c_str());

  // Matching must not crash; a label set made of the selector's own keys and first values.
  std::map<std::string, std::string> labels;
  for (const auto& requirement : selector.requirements()) {
    labels.emplace(requirement.key, requirement.values.empty() ? std::string() : requirement.values.front());
  }
  (void)selector.matches(labels);
  (void)selector.matches({});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(governor::fuzz::input(data, size));
  auto selector = parseSelector(text);
  if (selector) {
    checkPrintsBack(*selector, text);
  } else {
    (void)selector.error().what();
  }

  // parse() without exceptions gives a discarded value on malformed JSON.
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  std::vector<nlohmann::json> labelSelectors;
  if (!json.is_discarded()) {
    labelSelectors.push_back(std::move(json));
  } else {
    // Not JSON: the text as a label key and value, as parsed YAML can deliver them -- any
    // bytes at all. selectorFromJson must reject what is invalid, not throw.
    nlohmann::json expression = nlohmann::json::object();
    expression["key"] = text;
    expression["operator"] = "In";
    expression["values"] = nlohmann::json::array({text});
    labelSelectors.push_back({{"matchExpressions", nlohmann::json::array({expression})}});
    nlohmann::json matchLabels = nlohmann::json::object();
    matchLabels[text] = text;
    labelSelectors.push_back({{"matchLabels", matchLabels}});
  }
  for (const nlohmann::json& labelSelector : labelSelectors) {
    auto fromJson = selectorFromJson(labelSelector);
    if (fromJson) {
      checkPrintsBack(*fromJson, text);
    } else {
      (void)fromJson.error().what();
    }
  }
  return 0;
}
