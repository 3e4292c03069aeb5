// A PromQL syntax and type checker following the upstream grammar
// (prometheus/promql/parser): vector selectors with matchers, range vectors, subqueries,
// offset and @ modifiers, function calls (the functions a Prometheus without feature
// flags knows), aggregations with by/without, binary operators with bool, on/ignoring and
// group_left/group_right, number and string literals, durations and comments. It finds
// what `promtool check rules` would refuse, before a rule reaches Prometheus; it builds no
// tree and evaluates nothing. Regular expressions in matchers are RE2 and not checked.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/result.h"

namespace governor::op::promql {

enum class ValueType { Scalar, InstantVector, RangeVector, String };
const char* typeName(ValueType type);  // "instant vector", as Prometheus says it

struct Expression {
  ValueType type = ValueType::InstantVector;
  bool vectorSelector = false;  // the whole expression is one selector, like x_bucket{job="a"}
  // Where each vector selector stands, [begin, end) in the text, in order.
  std::vector<std::pair<size_t, size_t>> selectors;
};

struct Options {
  // Accept Governor's placeholder {{.window}} wherever a duration may stand.
  bool windowPlaceholder = false;
};

// The expression's type, or an Invalid error whose message starts with the position as
// Prometheus gives it, line:column from 1:1 ("1:14: unclosed left parenthesis").
kube::Result<Expression> parse(std::string_view text, const Options& options = {});

// The query with namespace="<ns>" in every vector selector, replacing any namespace matcher
// there: sum(rate(x{job="a"}[5m])) -> sum(rate(x{namespace="shop",job="a"}[5m])). The rest
// of the text is unchanged. Invalid when the query is.
kube::Result<std::string> withNamespaceMatcher(std::string_view text, const std::string& ns,
                                               const Options& options = {});

}  // namespace governor::op::promql
