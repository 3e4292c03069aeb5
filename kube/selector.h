// Kubernetes label selectors, from their string form ("app=web,tier in (a,b),!canary") or a
// metav1.LabelSelector object, with the parsing, validation and matching of k8s.io/apimachinery.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kube/result.h"

namespace governor::kube {

struct Requirement {
  // Equals and DoubleEquals mean the same; both are kept so that printing gives back the input.
  enum class Operator { Equals, DoubleEquals, NotEquals, In, NotIn, Exists, DoesNotExist };

  std::string key;
  Operator op = Operator::Exists;
  // Sorted and unique: one value for the (not-)equals operators, at least one for In and NotIn,
  // none for Exists and DoesNotExist.
  std::vector<std::string> values;

  bool matches(const std::map<std::string, std::string>& labels) const;
  std::string toString() const;  // "a in (x,y)", "b!=c", "!d"
  bool operator==(const Requirement&) const = default;
};

// The AND of its requirements; with none it matches everything.
class Selector {
 public:
  Selector() = default;
  // Orders the requirements by key (stably), as upstream does, so equal selectors print alike.
  // Like upstream's Add, it trusts the requirements: validation is the parsers' job.
  explicit Selector(std::vector<Requirement> requirements);

  const std::vector<Requirement>& requirements() const { return requirements_; }
  bool matches(const std::map<std::string, std::string>& labels) const;
  // Upstream's canonical form, e.g. "a in (x,y),b!=c,!d"; parseSelector reads it back equal.
  std::string toString() const;
  bool operator==(const Selector&) const = default;

 private:
  std::vector<Requirement> requirements_;
};

// Requirements joined by ',': "k=v", "k==v", "k!=v", "k in (v1,v2)", "k notin (v)", "k", "!k".
// Spaces, tabs and newlines may surround any token. Keys are [prefix/]name (prefix: a DNS-1123
// subdomain of at most 253 characters; name: at most 63 of [A-Za-z0-9-_.], starting and ending
// alphanumeric); values are empty or like a name. "k=" and "k in ()" mean the empty value.
Result<Selector> parseSelector(std::string_view text);

// The selector a matchLabels map stands for; like upstream's SelectorFromSet it does not validate.
Selector fromMatchLabels(const std::map<std::string, std::string>& labels);

// A metav1.LabelSelector: {"matchLabels": {...}, "matchExpressions": [{"key", "operator": In |
// NotIn | Exists | DoesNotExist, "values"}]}. Keys and values are validated; {} matches everything.
Result<Selector> selectorFromJson(const nlohmann::json& labelSelector);

}  // namespace governor::kube
