// The one grammar of a PromQL series selector, `metric{label op "value", ...}`, that every
// part of Governor reads a user's selector with: the ServiceLevel's validation, the adapter's
// latency query and the operator's rules. Rendering it back quotes every value, so nothing a
// user writes can leave its string: a selector stays a selector.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kube/result.h"

namespace governor::api {

struct LabelMatcher {
  std::string label;
  std::string op;     // "=", "!=", "=~" or "!~"
  std::string value;  // unescaped: what Prometheus compares with
  bool operator==(const LabelMatcher&) const = default;
};

struct SeriesSelector {
  std::string metric;  // empty for `{__name__="x"}`
  std::vector<LabelMatcher> matchers;
  bool operator==(const SeriesSelector&) const = default;
};

// `name`, `name{matchers}` or `{matchers}` with PromQL's lexical rules (blanks between
// tokens, a trailing comma, strings in "", '' with Go escapes, or `` raw), and nothing else:
// no range, offset, function or operator. Errors are Invalid, their message starting with
// the column: `1:11: unexpected "[" after the selector`.
kube::Result<SeriesSelector> parseSeriesSelector(std::string_view text);

// `metric{label="value",...}`, every value in double quotes with PromQL escapes.
std::string renderSeriesSelector(const SeriesSelector& selector);

// The selector with every namespace matcher replaced by namespace="<ns>", placed first.
SeriesSelector inNamespace(SeriesSelector selector, const std::string& ns);

}  // namespace governor::api
