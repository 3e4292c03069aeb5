// Label selector parsing follows upstream's lexer and grammar token for token, so that a
// selector the API server accepts parses here alike and prints back the same.
#include "kube/selector.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

namespace governor::kube {
namespace {

using Operator = Requirement::Operator;
using Labels = std::map<std::string, std::string>;

Error invalid(std::string_view what, std::string_view why) {
  std::string message = "label selector " + std::string(what) + ": " + std::string(why);
  return Error{Status{0, "Invalid", std::move(message)}, ""};
}

std::string inQuotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A label name or non-empty value: [A-Za-z0-9-_.], beginning and ending alphanumeric.
bool isLabelName(std::string_view s) {
  return !s.empty() && isAlnum(s.front()) && isAlnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// Dot-separated labels of [a-z0-9-], each beginning and ending with [a-z0-9].
bool isDnsSubdomain(std::string_view s) {
  auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (size_t start = 0;;) {
    size_t end = std::min(s.find('.', start), s.size());
    std::string_view label = s.substr(start, end - start);
    auto labelChar = [&](char c) { return lowerAlnum(c) || c == '-'; };
    if (label.empty() || !lowerAlnum(label.front()) || !lowerAlnum(label.back()) ||
        !std::all_of(label.begin(), label.end(), labelChar)) {
      return false;
    }
    if (end == s.size()) return true;
    start = end + 1;
  }
}

std::optional<std::string> keyProblem(std::string_view key) {
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.size() > 253 || !isDnsSubdomain(prefix)) {
      return "the prefix must be a lowercase DNS-1123 subdomain of at most 253 characters";
    }
  }
  if (name.size() > 63) return "the name must be no more than 63 characters";
  if (!isLabelName(name)) {
    return "the name must be non-empty, consist of alphanumeric characters, '-', '_' or '.', "
           "and start and end with an alphanumeric character";
  }
  return std::nullopt;
}

std::optional<std::string> valueProblem(std::string_view value) {
  if (value.size() > 63) return "must be no more than 63 characters";
  if (!value.empty() && !isLabelName(value)) {
    return "must be empty or consist of alphanumeric characters, '-', '_' or '.', and start and "
           "end with an alphanumeric character";
  }
  return std::nullopt;
}

// What upstream's NewRequirement checks: a valid key, valid values, and as many as the
// operator takes.
std::optional<std::string> requirementProblem(const Requirement& requirement) {
  if (auto problem = keyProblem(requirement.key)) {
    return "invalid key " + inQuotes(requirement.key) + ": " + *problem;
  }
  size_t count = requirement.values.size();
  switch (requirement.op) {
    case Operator::Equals:
    case Operator::DoubleEquals:
    case Operator::NotEquals:
      if (count != 1) return "key " + inQuotes(requirement.key) + " needs exactly one value";
      break;
    case Operator::In:
    case Operator::NotIn:
      if (count == 0) return "key " + inQuotes(requirement.key) + " needs at least one value";
      break;
    case Operator::Exists:
    case Operator::DoesNotExist:
      if (count != 0) return "key " + inQuotes(requirement.key) + " takes no values";
      break;
  }
  for (const std::string& value : requirement.values) {
    if (auto problem = valueProblem(value)) {
      return "invalid value " + inQuotes(value) + " for key " + inQuotes(requirement.key) + ": " + *problem;
    }
  }
  return std::nullopt;
}

std::vector<std::string> sortedUnique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

// Keyed on the index, not on out.empty(): the empty value is a legitimate first item.
std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i == 0 ? "" : ",") + values[i];
  return out;
}

// The operators metav1.LabelSelector allows; the string form's =, == and != are not among them.
std::optional<Operator> expressionOperator(const std::string& name) {
  if (name == "In") return Operator::In;
  if (name == "NotIn") return Operator::NotIn;
  if (name == "Exists") return Operator::Exists;
  if (name == "DoesNotExist") return Operator::DoesNotExist;
  return std::nullopt;
}

// "in" and "notin" are plain identifiers: they are operators only where an operator is
// expected, so "in in (notin)" is a valid selector.
enum class Token { End, Identifier, Comma, OpenParen, CloseParen, Not, Equals, DoubleEquals, NotEquals, Unsupported };

struct Item {
  Token token;
  std::string_view text;
};

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// '<' and '>' are upstream's Gt/Lt operators, which Governor does not support; they still end
// an identifier so that errors point at them.
bool isSpecial(char c) { return std::string_view("=!(),<>").find(c) != std::string_view::npos; }

Token specialToken(char c) {
  switch (c) {
    case '=': return Token::Equals;
    case '!': return Token::Not;
    case '(': return Token::OpenParen;
    case ')': return Token::CloseParen;
    case ',': return Token::Comma;
    default: return Token::Unsupported;
  }
}

std::vector<Item> lex(std::string_view text) {
  std::vector<Item> items;
  size_t pos = 0;
  while (true) {
    while (pos < text.size() && isWhitespace(text[pos])) ++pos;
    std::string_view rest = text.substr(pos);
    if (rest.empty()) {
      items.push_back({Token::End, {}});
      return items;
    }
    if (rest.starts_with("==") || rest.starts_with("!=")) {
      items.push_back({rest[0] == '=' ? Token::DoubleEquals : Token::NotEquals, rest.substr(0, 2)});
      pos += 2;
    } else if (isSpecial(rest[0])) {
      items.push_back({specialToken(rest[0]), rest.substr(0, 1)});
      ++pos;
    } else {
      size_t length = 0;
      while (length < rest.size() && !isSpecial(rest[length]) && !isWhitespace(rest[length])) {
        ++length;
      }
      items.push_back({Token::Identifier, rest.substr(0, length)});
      pos += length;
    }
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), items_(lex(text)) {}

  Result<Selector> parse() {
    std::vector<Requirement> requirements;
    if (peek().token == Token::End) return Selector();
    while (true) {
      Result<Requirement> requirement = parseRequirement();
      if (!requirement) return requirement.error();
      requirements.push_back(std::move(*requirement));
      const Item& item = next();
      if (item.token == Token::End) return Selector(std::move(requirements));
      if (item.token != Token::Comma) return unexpected(item, "',' or end of string");
    }
  }

 private:
  const Item& peek() const { return items_[pos_]; }
  // Stays on End, so a parser that reads too far keeps seeing End.
  const Item& next() {
    const Item& item = items_[pos_];
    if (item.token != Token::End) ++pos_;
    return item;
  }

  Error unexpected(const Item& item, std::string_view expected) const {
    std::string found = item.token == Token::End ? "end of string" : "'" + std::string(item.text) + "'";
    return invalid(inQuotes(text_), "found " + found + ", expected " + std::string(expected));
  }

  Result<Requirement> parseRequirement() {
    bool negated = peek().token == Token::Not;
    if (negated) next();
    const Item& key = next();
    if (key.token != Token::Identifier) return unexpected(key, "a key");
    Requirement requirement{std::string(key.text), Operator::Exists, {}};
    if (negated) {
      requirement.op = Operator::DoesNotExist;
    } else if (peek().token != Token::End && peek().token != Token::Comma) {
      const Item& op = next();
      if (op.token == Token::Equals || op.token == Token::DoubleEquals || op.token == Token::NotEquals) {
        requirement.op = op.token == Token::Equals         ? Operator::Equals
                         : op.token == Token::DoubleEquals ? Operator::DoubleEquals
                                                           : Operator::NotEquals;
        // "k=" compares with the empty value.
        requirement.values = {peek().token == Token::Identifier ? std::string(next().text) : ""};
      } else if (op.token == Token::Identifier && (op.text == "in" || op.text == "notin")) {
        requirement.op = op.text == "in" ? Operator::In : Operator::NotIn;
        Result<std::vector<std::string>> values = parseValueSet();
        if (!values) return values.error();
        requirement.values = sortedUnique(std::move(*values));
      } else {
        return unexpected(op, "one of =, ==, !=, in, notin");
      }
    }
    if (auto problem = requirementProblem(requirement)) return invalid(inQuotes(text_), *problem);
    return requirement;
  }

  // "(a,b)"; an item may be empty, as in "(a,)" or "()", and then stands for the empty value.
  Result<std::vector<std::string>> parseValueSet() {
    if (const Item& open = next(); open.token != Token::OpenParen) return unexpected(open, "'('");
    std::vector<std::string> values;
    while (true) {
      values.emplace_back(peek().token == Token::Identifier ? next().text : "");
      const Item& item = next();
      if (item.token == Token::CloseParen) return values;
      if (item.token != Token::Comma) return unexpected(item, "',' or ')'");
    }
  }

  std::string_view text_;
  std::vector<Item> items_;
  size_t pos_ = 0;
};

}  // namespace

bool Requirement::matches(const Labels& labels) const {
  auto label = labels.find(key);
  bool present = label != labels.end();
  bool listed = present && std::find(values.begin(), values.end(), label->second) != values.end();
  switch (op) {
    case Operator::Exists: return present;
    case Operator::DoesNotExist: return !present;
    case Operator::Equals:
    case Operator::DoubleEquals:
    case Operator::In: return listed;
    case Operator::NotEquals:
    case Operator::NotIn: return !listed;
  }
  return false;  // not reached: the switch covers every operator
}

std::string Requirement::toString() const {
  switch (op) {
    case Operator::Exists: return key;
    case Operator::DoesNotExist: return "!" + key;
    case Operator::Equals: return key + "=" + values.front();
    case Operator::DoubleEquals: return key + "==" + values.front();
    case Operator::NotEquals: return key + "!=" + values.front();
    case Operator::In: return key + " in (" + joined(values) + ")";
    case Operator::NotIn: return key + " notin (" + joined(values) + ")";
  }
  return {};  // not reached: the switch covers every operator
}

Selector::Selector(std::vector<Requirement> requirements) : requirements_(std::move(requirements)) {
  std::stable_sort(requirements_.begin(), requirements_.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
}

bool Selector::matches(const Labels& labels) const {
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const Requirement& requirement) { return requirement.matches(labels); });
}

std::string Selector::toString() const {
  std::vector<std::string> parts;
  for (const Requirement& requirement : requirements_) parts.push_back(requirement.toString());
  return joined(parts);
}

Result<Selector> parseSelector(std::string_view text) { return Parser(text).parse(); }

Selector fromMatchLabels(const Labels& labels) {
  std::vector<Requirement> requirements;
  for (const auto& [key, value] : labels) requirements.push_back({key, Operator::Equals, {value}});
  return Selector(std::move(requirements));
}

Result<Selector> selectorFromJson(const nlohmann::json& labelSelector) {
  // dump() throws on strings that are not UTF-8 (parsed YAML or JSON can hold any bytes); an
  // error message must not.
  auto show = [](const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  auto fail = [&](std::string_view why) { return invalid(show(labelSelector), why); };
  if (!labelSelector.is_object()) return fail("must be an object");
  std::vector<Requirement> requirements;

  auto matchLabels = labelSelector.find("matchLabels");
  if (matchLabels != labelSelector.end() && !matchLabels->is_null()) {
    if (!matchLabels->is_object()) return fail("matchLabels must be an object");
    for (const auto& label : matchLabels->items()) {
      if (!label.value().is_string()) {
        return fail("matchLabels." + label.key() + " must be a string");
      }
      requirements.push_back({label.key(), Operator::Equals, {label.value().get<std::string>()}});
    }
  }

  auto matchExpressions = labelSelector.find("matchExpressions");
  if (matchExpressions != labelSelector.end() && !matchExpressions->is_null()) {
    if (!matchExpressions->is_array()) return fail("matchExpressions must be an array");
    for (size_t i = 0; i < matchExpressions->size(); ++i) {
      const nlohmann::json& expression = (*matchExpressions)[i];
      std::string where = "matchExpressions[" + std::to_string(i) + "]";
      if (!expression.is_object()) return fail(where + " must be an object");
      auto key = expression.find("key");
      if (key == expression.end() || !key->is_string()) {
        return fail(where + ".key must be a string");
      }
      auto op = expression.find("operator");
      if (op == expression.end() || !op->is_string()) {
        return fail(where + ".operator must be a string");
      }
      std::optional<Operator> known = expressionOperator(op->get<std::string>());
      if (!known) {
        return fail(where + ".operator " + show(*op) + " is not In, NotIn, Exists or DoesNotExist");
      }
      std::vector<std::string> values;
      auto jsonValues = expression.find("values");
      if (jsonValues != expression.end() && !jsonValues->is_null()) {
        if (!jsonValues->is_array()) return fail(where + ".values must be an array of strings");
        for (const nlohmann::json& value : *jsonValues) {
          if (!value.is_string()) return fail(where + ".values must be an array of strings");
          values.push_back(value.get<std::string>());
        }
      }
      requirements.push_back({key->get<std::string>(), *known, sortedUnique(values)});
    }
  }

  for (const Requirement& requirement : requirements) {
    if (auto problem = requirementProblem(requirement)) return fail(*problem);
  }
  return Selector(std::move(requirements));
}

}  // namespace governor::kube
