// See promql.h. A recursive-descent parser over the text itself: PromQL's lexer is
// context-sensitive (a duration may stand only in [...] and after offset), which reads most
// plainly when the parser asks for the token it expects. The first error ends the parse,
// through the local exception Failure, caught in parse().
#include "operator/promql.h"

#include "api/series_selector.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace governor::op::promql {
namespace {

using V = ValueType;

struct Function {
  std::vector<ValueType> args;
  int variadic = 0;  // 0: exactly args; n > 0: up to n more of the last; -1: any number more
  ValueType result = V::InstantVector;
};

// promql/parser/functions.go without the experimental functions (they need
// --enable-feature=promql-experimental-functions).
const std::map<std::string, Function, std::less<>>& functions() {
  static const std::map<std::string, Function, std::less<>> all = [] {
    std::map<std::string, Function, std::less<>> f;
    for (const char* name : {"abs",
                             "absent",
                             "acos",
                             "acosh",
                             "asin",
                             "asinh",
                             "atan",
                             "atanh",
                             "ceil",
                             "cos",
                             "cosh",
                             "deg",
                             "exp",
                             "floor",
                             "histogram_avg",
                             "histogram_count",
                             "histogram_sum",
                             "histogram_stddev",
                             "histogram_stdvar",
                             "ln",
                             "log10",
                             "log2",
                             "rad",
                             "sgn",
                             "sin",
                             "sinh",
                             "sort",
                             "sort_desc",
                             "sqrt",
                             "tan",
                             "tanh",
                             "timestamp"}) {
      f[name] = {{V::InstantVector}};
    }
    for (const char* name :
         {"absent_over_time", "avg_over_time", "changes", "count_over_time", "delta", "deriv", "idelta", "increase",
          "irate", "last_over_time", "max_over_time", "min_over_time", "present_over_time", "rate", "resets",
          "stddev_over_time", "stdvar_over_time", "sum_over_time"}) {
      f[name] = {{V::RangeVector}};
    }
    for (const char* name :
         {"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"}) {
      f[name] = {{V::InstantVector}, 1};
    }
    f["clamp"] = {{V::InstantVector, V::Scalar, V::Scalar}};
    f["clamp_max"] = {{V::InstantVector, V::Scalar}};
    f["clamp_min"] = {{V::InstantVector, V::Scalar}};
    f["histogram_fraction"] = {{V::Scalar, V::Scalar, V::InstantVector}};
    f["histogram_quantile"] = {{V::Scalar, V::InstantVector}};
    f["label_join"] = {{V::InstantVector, V::String, V::String, V::String}, -1};
    f["label_replace"] = {{V::InstantVector, V::String, V::String, V::String, V::String}};
    f["pi"] = {{}, 0, V::Scalar};
    f["predict_linear"] = {{V::RangeVector, V::Scalar}};
    f["quantile_over_time"] = {{V::Scalar, V::RangeVector}};
    f["round"] = {{V::InstantVector, V::Scalar}, 1};
    f["scalar"] = {{V::InstantVector}, 0, V::Scalar};
    f["time"] = {{}, 0, V::Scalar};
    f["vector"] = {{V::Scalar}};
    return f;
  }();
  return all;
}

// Aggregation operators and the type of their parameter, if they take one.
const std::map<std::string, std::optional<ValueType>, std::less<>>& aggregators() {
  static const std::map<std::string, std::optional<ValueType>, std::less<>> all{
      {"avg", std::nullopt},    {"bottomk", V::Scalar},   {"count", std::nullopt}, {"count_values", V::String},
      {"group", std::nullopt},  {"max", std::nullopt},    {"min", std::nullopt},   {"quantile", V::Scalar},
      {"stddev", std::nullopt}, {"stdvar", std::nullopt}, {"sum", std::nullopt},   {"topk", V::Scalar}};
  return all;
}

// Keywords that cannot name a metric (and, by, offset, sum, ... can, where no operator or
// aggregation may stand).
bool isReserved(std::string_view w) {
  for (const char* k : {"atan2", "on", "ignoring", "group_left", "group_right", "bool"}) {
    if (w == k) return true;
  }
  return false;
}

struct BinaryOp {
  std::string text;
  int precedence = 0;  // 1 (or) to 6 (^)
  bool comparison = false;
  bool set = false;
};

std::optional<BinaryOp> binaryOp(std::string_view token) {
  static const std::vector<BinaryOp> ops{{"or", 1, false, true},
                                         {"and", 2, false, true},
                                         {"unless", 2, false, true},
                                         {"==", 3, true},
                                         {"!=", 3, true},
                                         {"<=", 3, true},
                                         {">=", 3, true},
                                         {"<", 3, true},
                                         {">", 3, true},
                                         {"+", 4},
                                         {"-", 4},
                                         {"*", 5},
                                         {"/", 5},
                                         {"%", 5},
                                         {"atan2", 5},
                                         {"^", 6}};
  for (const auto& op : ops) {
    if (token == op.text) return op;
  }
  return std::nullopt;
}
constexpr int kPowerPrecedence = 6;

struct Failure {
  size_t at;
  std::string message;
};

// What a parsed (sub)expression is, as far as the rules of PromQL need to know.
struct Node {
  enum class Kind { Other, Selector, RangeSelector, Subquery } kind = Kind::Other;
  ValueType type = V::InstantVector;
  bool offset = false;
  bool at = false;
};

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool identStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool identChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Parser {
 public:
  Parser(std::string_view text, const Options& options) : s_(text), options_(options) {}

  Node all() {
    Node n = expr(1);
    if (!atEnd()) fail("unexpected " + describe());
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& message) { fail(pos_, message); }
  [[noreturn]] void fail(size_t at, const std::string& message) { throw Failure{at, message}; }

  // Skips blanks and # comments.
  void skip() {
    while (pos_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[pos_]))) {
        ++pos_;
      } else if (s_[pos_] == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }
  bool atEnd() {
    skip();
    return pos_ >= s_.size();
  }
  char peek() {
    skip();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool consume(std::string_view token) {
    skip();
    if (s_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }
  void expect(std::string_view token, const char* unclosed) {
    if (consume(token)) return;
    fail(atEnd() ? std::string(unclosed) : "unexpected " + describe() + ", expected " + quote(token));
  }
  // The identifier (letters, digits, '_' and ':') at the cursor, not consumed.
  std::string_view word() {
    skip();
    size_t end = pos_;
    if (end < s_.size() && (identStart(s_[end]) || s_[end] == ':')) {
      while (end < s_.size() && (identChar(s_[end]) || s_[end] == ':')) ++end;
    }
    return s_.substr(pos_, end - pos_);
  }
  bool consumeWord(std::string_view w) {
    if (word() != w) return false;
    pos_ += w.size();
    return true;
  }
  // The token at the cursor, for messages.
  std::string describe() {
    if (atEnd()) return "end of input";
    if (auto w = word(); !w.empty()) return quote(w);
    size_t end = pos_ + 1;
    while (end < s_.size() && std::isalnum(static_cast<unsigned char>(s_[pos_])) &&
           std::isalnum(static_cast<unsigned char>(s_[end]))) {
      ++end;
    }
    return quote(s_.substr(pos_, end - pos_));
  }

  // ---- expressions ---------------------------------------------------------------------

  Node expr(int minPrecedence) {
    size_t lhsAt = (skip(), pos_);
    Node lhs = unary();
    while (true) {
      skip();
      size_t opAt = pos_;
      auto op = peekBinaryOp();
      if (!op || op->precedence < minPrecedence) return lhs;
      pos_ += op->text.size();
      lhs = binary(lhs, lhsAt, *op, opAt);
    }
  }

  std::optional<BinaryOp> peekBinaryOp() {
    if (auto w = word(); !w.empty()) return binaryOp(w);
    for (std::string_view two : {"==", "!=", "<=", ">="}) {
      if (s_.substr(pos_, 2) == two) return binaryOp(two);
    }
    if (pos_ < s_.size() && s_.substr(pos_, 2) != "=~" && s_.substr(pos_, 2) != "!~")
      return binaryOp(s_.substr(pos_, 1));
    return std::nullopt;
  }

  Node binary(const Node& lhs, size_t lhsAt, const BinaryOp& op, size_t opAt) {
    bool returnBool = consumeWord("bool");
    if (returnBool && !op.comparison) fail(opAt, "bool modifier can only be used on comparison operators");
    std::vector<std::string> matching;
    bool on = word() == "on";
    if (consumeWord("on") || consumeWord("ignoring")) {
      matching = labelList();
      if (consumeWord("group_left") || consumeWord("group_right")) {
        if (peek() == '(') {
          for (const auto& label : labelList()) {
            for (const auto& m : matching) {
              if (on && m == label)
                fail(opAt, "label " + quote(label) + " must not occur in ON and GROUP clause at once");
            }
          }
        }
        if (op.set) fail(opAt, "no grouping allowed for " + quote(op.text) + " operation");
      }
    } else if (auto w = word(); w == "group_left" || w == "group_right") {
      fail("unexpected " + quote(w) + ": " + std::string(w) + " needs on(...) or ignoring(...) before it");
    }
    size_t rhsAt = (skip(), pos_);
    // ^ is right-associative: a^b^c is a^(b^c).
    Node rhs = expr(op.precedence == kPowerPrecedence ? op.precedence : op.precedence + 1);
    for (const auto& [side, at] : {std::pair{lhs.type, lhsAt}, std::pair{rhs.type, rhsAt}}) {
      if (side != V::Scalar && side != V::InstantVector) {
        fail(at, "binary expression must contain only scalar and instant vector types");
      }
    }
    bool scalars = lhs.type == V::Scalar || rhs.type == V::Scalar;
    if (op.comparison && !returnBool && lhs.type == V::Scalar && rhs.type == V::Scalar) {
      fail(opAt, "comparisons between scalars must use BOOL modifier");
    }
    if (scalars && !matching.empty()) fail(opAt, "vector matching only allowed between instant vectors");
    if (scalars && op.set) fail(opAt, "set operator " + quote(op.text) + " not allowed in binary scalar expression");
    return Node{Node::Kind::Other, lhs.type == V::Scalar && rhs.type == V::Scalar ? V::Scalar : V::InstantVector};
  }

  Node unary() {
    skip();
    size_t at = pos_;
    if (consume("-") || consume("+")) {
      // As upstream (%prec MUL): -a^b is -(a^b), -a*b is (-a)*b.
      Node operand = expr(kPowerPrecedence);
      if (operand.type != V::Scalar && operand.type != V::InstantVector) {
        fail(at, "unary expression only allowed on expressions of type scalar or instant vector");
      }
      return Node{Node::Kind::Other, operand.type};
    }
    return postfix(primary());
  }

  // Range, subquery, offset and @ after an expression.
  Node postfix(Node n) {
    while (true) {
      skip();
      size_t at = pos_;
      if (consume("[")) {
        duration();
        if (consume(":")) {
          if (peek() != ']') duration();
          expect("]", "unclosed left bracket");
          if (n.type != V::InstantVector)
            fail(at, "subquery is only allowed on instant vector, got " + std::string(typeName(n.type)));
          n = Node{Node::Kind::Subquery, V::RangeVector};
        } else {
          expect("]", "unclosed left bracket");
          if (n.kind != Node::Kind::Selector) fail(at, "ranges only allowed for vector selectors");
          if (n.offset) fail(at, "no offset modifiers allowed before range");
          if (n.at) fail(at, "no @ modifiers allowed before range");
          n = Node{Node::Kind::RangeSelector, V::RangeVector};
        }
      } else if (consumeWord("offset")) {
        if (n.kind == Node::Kind::Other) {
          fail(at,
               "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
        }
        if (n.offset) fail(at, "offset may not be set multiple times");
        consume("-");
        duration();
        n.offset = true;
      } else if (consume("@")) {
        if (n.kind == Node::Kind::Other) {
          fail(at, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
        }
        if (n.at) fail(at, "@ <timestamp> may not be set multiple times");
        if (consumeWord("start") || consumeWord("end")) {
          expect("(", "unclosed left parenthesis");
          expect(")", "unclosed left parenthesis");
        } else {
          if (!consume("-")) consume("+");
          if (!number()) fail("unexpected " + describe() + " after @, expected a timestamp, start() or end()");
        }
        n.at = true;
      } else {
        return n;
      }
    }
  }

  Node primary() {
    skip();
    size_t at = pos_;
    if (atEnd()) fail("unexpected end of input");
    char c = s_[pos_];
    if (consume("(")) {
      Node inner = expr(1);
      expect(")", "unclosed left parenthesis");
      return Node{Node::Kind::Other, inner.type};
    }
    if (c == '"' || c == '\'' || c == '`') {
      string();
      return Node{Node::Kind::Other, V::String};
    }
    if (number()) return Node{Node::Kind::Other, V::Scalar};
    if (c == '{') return selector("", at);
    std::string name(word());
    if (name.empty()) fail("unexpected " + describe());
    pos_ += name.size();
    if (aggregators().contains(name) && (peek() == '(' || word() == "by" || word() == "without")) {
      return aggregation(name, at);
    }
    if (name.find(':') == std::string::npos && peek() == '(') return call(name, at);
    if (isReserved(name)) fail(at, "unexpected " + quote(name));
    if (name == "inf" || name == "nan" || name == "Inf" || name == "NaN") return Node{Node::Kind::Other, V::Scalar};
    return selector(name, at);
  }

  // A number literal at the cursor, consumed; false (nothing consumed) when there is none.
  bool number() {
    skip();
    size_t start = pos_, i = pos_;
    auto digits = [&] {
      size_t from = i;
      while (i < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i]))) ++i;
      return i > from;
    };
    if (s_.substr(i, 2) == "0x" || s_.substr(i, 2) == "0X") {
      i += 2;
      size_t from = i;
      while (i < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i]))) ++i;
      if (i == from) fail(start, "bad number syntax: " + quote(s_.substr(start, i - start)));
    } else {
      bool whole = digits();
      bool fraction = false;
      if (i < s_.size() && s_[i] == '.') {
        ++i;
        fraction = digits();
      }
      if (!whole && !fraction) return false;
      if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
        ++i;
        if (i < s_.size() && (s_[i] == '+' || s_[i] == '-')) ++i;
        if (!digits()) fail(start, "bad number syntax: " + quote(s_.substr(start, i - start)));
      }
    }
    if (i < s_.size() && identChar(s_[i])) {
      size_t end = i;
      while (end < s_.size() && identChar(s_[end])) ++end;
      fail(start, "bad number or duration syntax: " + quote(s_.substr(start, end - start)));
    }
    pos_ = i;
    return true;
  }

  // A duration such as 5m or 1h30m (units y, w, d, h, m, s, ms, each at most once, largest
  // first), or {{.window}} when the options allow it.
  // Longer than 0, as every duration in PromQL.
  void duration() {
    skip();
    size_t start = pos_;
    if (options_.windowPlaceholder) {
      static const std::regex placeholder(R"(^\{\{\s*\.window\s*\}\})");
      std::match_results<std::string_view::const_iterator> m;
      if (std::regex_search(s_.begin() + static_cast<long>(pos_), s_.end(), m, placeholder)) {
        pos_ += static_cast<size_t>(m.length(0));
        return;
      }
    }
    // In the order they are tried ("ms" before "m"), each with its rank from largest.
    static const std::vector<std::pair<std::string_view, int>> units{{"y", 0},  {"w", 1}, {"d", 2}, {"h", 3},
                                                                     {"ms", 6}, {"m", 4}, {"s", 5}};
    size_t i = pos_;
    int lastRank = -1;
    while (i < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i]))) {
      size_t digitsEnd = i;
      while (digitsEnd < s_.size() && std::isdigit(static_cast<unsigned char>(s_[digitsEnd]))) ++digitsEnd;
      auto unit = std::find_if(units.begin(), units.end(),
                               [&](const auto& u) { return s_.substr(digitsEnd, u.first.size()) == u.first; });
      if (unit == units.end() || unit->second <= lastRank) break;
      i = digitsEnd + unit->first.size();
      lastRank = unit->second;
    }
    bool any = lastRank >= 0;
    size_t end = i;
    while (end < s_.size() && identChar(s_[end])) ++end;
    if (!any || end != i) {
      if (end == start) fail(start, "unexpected " + describe() + ", expected a duration like 5m");
      fail(start, "not a valid duration string: " + quote(s_.substr(start, end - start)));
    }
    if (s_.substr(start, i - start).find_first_of("123456789") == std::string_view::npos) {
      fail(start, "duration must be greater than 0");
    }
    pos_ = i;
  }

  // A quoted string at the cursor, consumed; returns its value (escapes approximated,
  // enough to tell whether a matcher can match the empty string).
  std::string string() {
    skip();
    size_t start = pos_;
    char q = s_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= s_.size() || (q != '`' && s_[pos_] == '\n')) fail(start, "unterminated quoted string");
      char c = s_[pos_++];
      if (c == q) return value;
      if (c != '\\' || q == '`') {
        value += c;
        continue;
      }
      if (pos_ >= s_.size()) fail(start, "escape sequence not terminated");
      char e = s_[pos_++];
      int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
      if (e >= '0' && e <= '7') {
        for (int k = 0; k < 2; ++k, ++pos_) {
          if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '7') fail(pos_, "invalid octal escape in string");
        }
        value += '?';
      } else if (hex) {
        for (int k = 0; k < hex; ++k, ++pos_) {
          if (pos_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_]))) {
            fail(pos_, "invalid hexadecimal escape in string");
          }
        }
        value += '?';
      } else if (e == q || std::string_view("abfnrtv\\").find(e) != std::string_view::npos) {
        value += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        fail(pos_ - 2, "unknown escape sequence " + quote(std::string("\\") + e));
      }
    }
  }

  // After an item of a list: a comma, or the closing character (left for the loop).
  void separator(char close, const std::string& where, const char* unclosed) {
    if (consume(",") || peek() == close) return;
    if (atEnd()) fail(unclosed);
    fail("unexpected " + describe() + (where.empty() ? "" : " in " + where) + ", expected \",\" or \"" + close + "\"");
  }

  // (label, ...) of by, without, on, ignoring and group_left/right; a trailing comma is allowed.
  std::vector<std::string> labelList() {
    expect("(", "unclosed left parenthesis");
    std::vector<std::string> labels;
    while (!consume(")")) {
      if (atEnd()) fail("unclosed left parenthesis");
      labels.push_back(labelName("grouping labels"));
      separator(')', "grouping labels", "unclosed left parenthesis");
    }
    return labels;
  }

  std::string labelName(const char* where) {
    std::string_view w = word();
    if (w.empty() || !identStart(w[0]) || w.find(':') != std::string_view::npos) {
      fail("unexpected " + describe() + " in " + where + ", expected a label name");
    }
    pos_ += w.size();
    return std::string(w);
  }

  // name{matchers}, name, or {matchers}; `name` is consumed already.
  Node selector(const std::string& name, size_t at) {
    bool nonEmpty = !name.empty();
    size_t end = at + name.size();  // without the blanks and comments after it
    if (consume("{")) {
      while (!consume("}")) {
        if (atEnd()) fail("unclosed left brace");
        size_t labelAt = pos_;
        std::string label = labelName("label matching");
        std::string op;
        for (const char* candidate : {"=~", "!~", "!=", "="}) {
          if (op.empty() && consume(candidate)) op = candidate;
        }
        if (op.empty())
          fail("unexpected " + describe() + " in label matching, expected one of \"=\", \"!=\", \"=~\", \"!~\"");
        char q = peek();
        if (q != '"' && q != '\'' && q != '`') fail("unexpected " + describe() + " in label matching, expected string");
        std::string value = string();
        if (label == "__name__" && !name.empty()) {
          fail(labelAt, "metric name must not be set twice: " + quote(name) + " or " + quote(value));
        }
        if ((op == "=~" || op == "!~") && !readableRegex(value)) {
          fail(labelAt, "error parsing regexp " + quote(value));
        }
        nonEmpty |= !matchesEmpty(op, value);
        separator('}', "label matching", "unclosed left brace");
      }
      end = pos_;
    }
    if (!nonEmpty) fail(at, "vector selector must contain at least one non-empty matcher");
    selectors_.push_back({at, end});
    return Node{Node::Kind::Selector, V::InstantVector};
  }

  // False for a regular expression that both std::regex (ECMAScript) and RE2 refuse, like
  // "(": one that uses RE2's own syntax ((?i), \pL, ...) is taken as it is.
  static bool readableRegex(const std::string& re) {
    for (const char* re2Only : {"(?", "\\p", "\\P", "\\A", "\\z", "\\Q", "\\C"}) {
      if (re.find(re2Only) != std::string::npos) return true;
    }
    try {
      std::regex compiled(re);
    } catch (const std::regex_error&) {
      return false;
    }
    return true;
  }

  // Whether the matcher accepts an empty label value. A regular expression that std::regex
  // cannot read (RE2 has more syntax) is taken not to.
  static bool matchesEmpty(const std::string& op, const std::string& value) {
    if (op == "=") return value.empty();
    if (op == "!=") return !value.empty();
    bool empty = false;
    try {
      empty = std::regex_match("", std::regex(value));
    } catch (const std::regex_error&) {
      return op == "!~";
    }
    return op == "=~" ? empty : !empty;
  }

  std::vector<std::pair<Node, size_t>> arguments() {
    std::vector<std::pair<Node, size_t>> args;
    expect("(", "unclosed left parenthesis");
    while (!consume(")")) {
      if (atEnd()) fail("unclosed left parenthesis");
      skip();
      size_t at = pos_;
      args.emplace_back(expr(1), at);
      separator(')', "", "unclosed left parenthesis");
      if (s_[pos_ - 1] == ',' && peek() == ')') fail("trailing commas not allowed in function call args");
    }
    return args;
  }

  Node call(const std::string& name, size_t at) {
    auto it = functions().find(name);
    if (it == functions().end()) fail(at, "unknown function with name " + quote(name));
    const Function& f = it->second;
    auto args = arguments();
    const int declared = static_cast<int>(f.args.size()), given = static_cast<int>(args.size());
    auto count = [&](const char* bound, int n) {
      fail(at, std::string("expected ") + bound + std::to_string(n) + " argument(s) in call to " + quote(name) +
                   ", got " + std::to_string(given));
    };
    if (f.variadic == 0 && given != declared) count("", declared);
    if (f.variadic != 0 && given < declared - 1) count("at least ", declared - 1);
    if (f.variadic > 0 && given > declared - 1 + f.variadic) count("at most ", declared - 1 + f.variadic);
    for (int i = 0; i < given; ++i) {
      ValueType want = f.args[static_cast<size_t>(std::min(i, declared - 1))];
      if (args[static_cast<size_t>(i)].first.type != want) {
        fail(args[static_cast<size_t>(i)].second, "expected type " + std::string(typeName(want)) +
                                                      " in call to function " + quote(name) + ", got " +
                                                      typeName(args[static_cast<size_t>(i)].first.type));
      }
    }
    return Node{Node::Kind::Other, f.result};
  }

  // sum by (a) (x), sum (x) without (a), topk(5, x), count_values("value", x).
  Node aggregation(const std::string& name, size_t at) {
    bool grouped = false;
    if (consumeWord("by") || consumeWord("without")) {
      labelList();
      grouped = true;
    }
    if (peek() != '(') fail("unexpected " + describe() + " in aggregation, expected \"(\"");
    auto args = arguments();
    if (!grouped && (consumeWord("by") || consumeWord("without"))) labelList();
    const auto& param = aggregators().at(name);
    size_t want = param ? 2 : 1;
    if (args.size() != want) {
      fail(at, "wrong number of arguments for aggregate expression provided, expected " + std::to_string(want) +
                   ", got " + std::to_string(args.size()));
    }
    if (param && args[0].first.type != *param) {
      fail(args[0].second, "expected type " + std::string(typeName(*param)) + " in aggregation parameter, got " +
                               typeName(args[0].first.type));
    }
    if (args.back().first.type != V::InstantVector) {
      fail(args.back().second, "expected type instant vector in aggregation expression, got " +
                                   std::string(typeName(args.back().first.type)));
    }
    return Node{Node::Kind::Other, V::InstantVector};
  }

  std::string_view s_;
  Options options_;
  size_t pos_ = 0;

 public:
  std::vector<std::pair<size_t, size_t>> selectors_;  // of Expression::selectors
};

std::string position(std::string_view text, size_t at) {
  int line = 1;
  size_t lineStart = 0;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(at - lineStart + 1);
}

}  // namespace

const char* typeName(ValueType type) {
  switch (type) {
    case V::Scalar: return "scalar";
    case V::InstantVector: return "instant vector";
    case V::RangeVector: return "range vector";
    case V::String: return "string";
  }
  return "";
}

kube::Result<Expression> parse(std::string_view text, const Options& options) {
  try {
    Parser parser(text, options);
    Node n = parser.all();
    return Expression{n.type, n.kind == Node::Kind::Selector && !n.offset && !n.at, std::move(parser.selectors_)};
  } catch (const Failure& f) {
    return kube::Error{{0, "Invalid", position(text, f.at) + ": " + f.message}, "PromQL"};
  }
}

kube::Result<std::string> withNamespaceMatcher(std::string_view text, const std::string& ns, const Options& options) {
  auto parsed = parse(text, options);
  if (!parsed) return parsed.error();
  std::string out(text);
  for (auto it = parsed->selectors.rbegin(); it != parsed->selectors.rend(); ++it) {
    auto selector = api::parseSeriesSelector(out.substr(it->first, it->second - it->first));
    if (!selector) return kube::Error{selector.error().status, "PromQL"};
    out.replace(it->first, it->second - it->first, api::renderSeriesSelector(api::inNamespace(*selector, ns)));
  }
  return out;
}

}  // namespace governor::op::promql
