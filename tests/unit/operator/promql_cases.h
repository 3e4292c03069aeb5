// PromQL that Prometheus accepts and PromQL it refuses, with the error operator/promql gives:
// the unit test checks the errors, tests/integration/promtool_test.cc that a real promtool
// gives the same verdict on every case.
#pragma once

#include <vector>

namespace governor::op::promql::cases {

inline const std::vector<const char*>& valid() {
  static const std::vector<const char*> all{
      "up",
      "http_requests_total{job=\"api\",code=~\"5..\"}",
      "{__name__=~\"job:.*\", env!=\"\"}",
      "sum(rate(http_requests_total{job=\"api\"}[5m]))",
      "sum by (job, code) (rate(x[1h30m]))",
      "sum(rate(x[5m])) without (instance,)",
      "topk(5, x)",
      "count_values(\"version\", build_info)",
      "quantile(0.99, x)",
      "histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))",
      "a / on (job) group_left (team) b",
      "a * ignoring (code) group_right b",
      "a > bool 1",
      "1 < bool 2",
      "a and b or c unless d",
      "a + b * c ^ d ^ e % f atan2 g",
      "-x",
      "-1 ^ 2",
      "max_over_time(rate(x[5m])[1h:])",
      "rate(x[5m:1m])",
      "x offset 5m",
      "x offset -1h",
      "x[5m] offset 1w",
      "x @ 1609746000",
      "x @ start()",
      "rate(x[5m] @ end())",
      "label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\")",
      "label_join(up, \"dst\", \",\", \"a\", \"b\", \"c\")",
      "round(x)",
      "round(x, 0.5)",
      "day_of_week()",
      "vector(1)",
      "time() - 300",
      "0x1f + 1e3 + .5 + Inf + NaN",
      "'single' ",
      "`raw \\ string`",
      "x # a comment\n+ y",
      "(a)",
      "absent(nonexistent{job=\"x\"})",
      "sum",
      "by{a=\"b\"} and offset",
      "x{a=~\"(?i)get|post\"}",
      "x{a=\"b\",}",
  };
  return all;
}

struct Invalid {
  const char* text;
  const char* error;
};

inline const std::vector<Invalid>& invalid() {
  static const std::vector<Invalid> all{
      {"sum(rate(x[5m])", "1:16: unclosed left parenthesis"},
      {"rate(x[5m]))", "1:12: unexpected \")\""},
      {"x{job=\"api\"", "1:12: unclosed left brace"},
      {"x{job=api}", "1:7: unexpected \"api\" in label matching, expected string"},
      {"x{job:=\"a\"}", "1:3: unexpected \"job:\" in label matching, expected a label name"},
      {"x[5m", "1:5: unclosed left bracket"},
      {"x[5 minutes]", "1:3: not a valid duration string: \"5\""},
      {"x[5m30h]", "1:3: not a valid duration string: \"5m30h\""},
      {"rate(x)", "1:6: expected type range vector in call to function \"rate\", got instant vector"},
      {"rate(x[5m], 1)", "1:1: expected 1 argument(s) in call to \"rate\", got 2"},
      {"round()", "1:1: expected at least 1 argument(s) in call to \"round\", got 0"},
      {"round(x, 1, 2)", "1:1: expected at most 2 argument(s) in call to \"round\", got 3"},
      {"rat(x[5m])", "1:1: unknown function with name \"rat\""},
      {"sum(x[5m])", "1:5: expected type instant vector in aggregation expression, got range vector"},
      {"topk(x)", "1:1: wrong number of arguments for aggregate expression provided, expected 2, got 1"},
      {"topk(\"5\", x)", "1:6: expected type scalar in aggregation parameter, got string"},
      {"sum x", "1:5: unexpected \"x\""},
      {"(x)[5m]", "1:4: ranges only allowed for vector selectors"},
      {"x offset 5m [5m]", "1:13: no offset modifiers allowed before range"},
      {"sum(x) offset 5m",
       "1:8: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
      {"x offset 1m offset 2m", "1:13: offset may not be set multiple times"},
      {"x[5m][10m:1m]", "1:6: subquery is only allowed on instant vector, got range vector"},
      {"1 > 2", "1:3: comparisons between scalars must use BOOL modifier"},
      {"a + bool b", "1:3: bool modifier can only be used on comparison operators"},
      {"1 and x", "1:3: set operator \"and\" not allowed in binary scalar expression"},
      {"a and on (x) group_left b", "1:3: no grouping allowed for \"and\" operation"},
      {"x[5m] + 1", "1:1: binary expression must contain only scalar and instant vector types"},
      {"1 + on (job) x", "1:3: vector matching only allowed between instant vectors"},
      {"a * group_left b", "1:5: unexpected \"group_left\": group_left needs on(...) or ignoring(...) before it"},
      {"-x[5m]", "1:1: unary expression only allowed on expressions of type scalar or instant vector"},
      {"{job=~\".*\"}", "1:1: vector selector must contain at least one non-empty matcher"},
      {"{}", "1:1: vector selector must contain at least one non-empty matcher"},
      {"x{__name__=\"y\"}", "1:3: metric name must not be set twice: \"x\" or \"y\""},
      {"x{job=\"a\nb\"}", "1:7: unterminated quoted string"},
      {"x{job=\"\\q\"}", "1:8: unknown escape sequence \"\\q\""},
      {"5m", "1:1: bad number or duration syntax: \"5m\""},
      {"", "1:1: unexpected end of input"},
      {"x +", "1:4: unexpected end of input"},
      {"sum(x)\n  by (job", "2:10: unclosed left parenthesis"},
      {"x y", "1:3: unexpected \"y\""},
      {"on", "1:1: unexpected \"on\""},
      {"atan2", "1:1: unexpected \"atan2\""},
      {"rate(x[0s])", "1:8: duration must be greater than 0"},
      {"x[5m:0s]", "1:6: duration must be greater than 0"},
      {"x offset 0s", "1:10: duration must be greater than 0"},
      {"x[5]", "1:3: not a valid duration string: \"5\""},
      {"x offset", "1:9: unexpected end of input, expected a duration like 5m"},
      {"sum(x,)", "1:7: trailing commas not allowed in function call args"},
      {"vector(1,)", "1:10: trailing commas not allowed in function call args"},
      {"x{a=~\"(\"}", "1:3: error parsing regexp \"(\""},
  };
  return all;
}

}  // namespace governor::op::promql::cases
