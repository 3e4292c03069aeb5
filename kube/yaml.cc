// YAML <-> JSON: yaml-cpp's event parser behind a JSON face (its exceptions stop here), and
// a writer of our own.
//
// Reading drives yaml-cpp's event parser (YAML::Parser::HandleNextDocument) with an own
// EventHandler that builds the JSON directly, rather than YAML::LoadAll and its node graph:
//  - yaml-cpp 0.7's LoadAll loops forever on input such as "," (jbeder/yaml-cpp#1040): a
//    document that consumes no input is reported again and again. We stop at the second one.
//  - aliases are expanded here, so this is where "billion laughs" input (a few hundred bytes
//    that expand to 10^9 values) has to be stopped: the values and string bytes produced are
//    counted against a budget.
//  - every string is checked to be UTF-8 without noncharacters, as JSON (dump()) and yaml-cpp's
//    emitter need; yaml-cpp itself passes any bytes through.
#include "kube/yaml.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace governor::kube {
namespace {

using Json = nlohmann::json;

// Deepest nesting of a value (the document itself is at depth 0).
constexpr size_t kMaxDepth = 200;
// What aliases may expand a stream to, unless the text itself is larger: JSON values
// (scalars, sequences and maps, keys included; the copy an anchor keeps counts too) and bytes
// of strings. Far more than any manifest needs (the API server takes objects of up to 1.5 MiB),
// and little enough that parsing, printing and parsing again stay well within a second
// (a few seconds under ASan, where the fuzzer stops at 10).
constexpr size_t kMaxValues = 100'000;
constexpr size_t kMaxStringBytes = size_t{1} << 20;

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Advances `pos` past a run of digits; false when there is none.
bool skipDigits(std::string_view s, size_t& pos) {
  size_t start = pos;
  while (pos < s.size() && isDigit(s[pos])) ++pos;
  return pos > start;
}

// ^[-+]?[0-9]+$
bool isInteger(std::string_view s) {
  size_t pos = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  return skipDigits(s, pos) && pos == s.size();
}

// ^0x[0-9a-fA-F]+$
bool isHex(std::string_view s) {
  return s.size() > 2 && s.starts_with("0x") && std::all_of(s.begin() + 2, s.end(), isHexDigit);
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool isNumber(std::string_view s) {
  size_t pos = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    if (!skipDigits(s, pos)) return false;
  } else {
    if (!skipDigits(s, pos)) return false;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      skipDigits(s, pos);
    }
  }
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) ++pos;
    if (!skipDigits(s, pos)) return false;
  }
  return pos == s.size();
}

// YAML 1.2 core schema for an untagged plain scalar. (Matched by hand: std::regex recurses
// once per character and overflows the stack on long scalars.)
Json plainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (isInteger(s)) return std::stoll(s);
    if (isHex(s)) return std::stoll(s, nullptr, 16);
    if (isNumber(s)) return std::stod(s);
  } catch (const std::out_of_range&) {
    // Too large for a 64-bit number, or a double out of range: keep the text.
  }
  return s;
}

std::string hex(unsigned value, int digits) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%0*X", digits, value);
  return buffer;
}

// Why `s` cannot be a JSON string (nlohmann's dump() throws on invalid UTF-8) that yaml-cpp's
// emitter writes back unchanged (it turns noncharacters into U+FFFD); nullopt when it can.
std::optional<std::string> stringProblem(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t more = 0;
    char32_t code = 0;
    char32_t least = 0;
    if ((lead & 0xE0) == 0xC0) {
      more = 1, code = lead & 0x1F, least = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      more = 2, code = lead & 0x0F, least = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      more = 3, code = lead & 0x07, least = 0x10000;
    }
    bool valid = more > 0 && i + more < s.size();
    for (size_t k = 1; valid && k <= more; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    if (!valid || code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return "a string is not valid UTF-8 (byte 0x" + hex(lead, 2) + " at offset " + std::to_string(i) + ")";
    }
    if ((code >= 0xFDD0 && code <= 0xFDEF) || (code & 0xFFFE) == 0xFFFE) {
      return "a string holds the noncharacter U+" + hex(static_cast<unsigned>(code), 4) + ", which is not allowed";
    }
    i += more + 1;
  }
  return std::nullopt;
}

// A finished value, with what it costs and what it is as a mapping key.
struct Value {  // NOLINT(bugprone-exception-escape): its implicit moves move members that do not throw
  Json json;
  std::optional<std::string> key;  // its text as a mapping key: scalars and null only
  size_t height = 0;               // levels of nesting below it
  size_t values = 1;               // budget it used: JSON values in it, itself included
  size_t bytes = 0;                // budget it used: string bytes in it
};

// Builds one JSON value per document from yaml-cpp's events; errors are thrown as
// YAML::ParserException, which carries the position.
class JsonBuilder : public YAML::EventHandler {
 public:
  JsonBuilder(size_t maxValues, size_t maxBytes) : maxValues_(maxValues), maxBytes_(maxBytes) {}

  // The document just handled; null when it was empty.
  Json take() { return std::exchange(root_, nullptr); }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 reports a document at a token it cannot parse without consuming it, and so
    // the same document again forever (jbeder/yaml-cpp#1040).
    if (documentStart_ && documentStart_->pos == mark.pos) {
      throw YAML::ParserException(mark, "unexpected token where a node should start");
    }
    documentStart_ = mark;
    stack_.clear();
    anchors_.clear();  // anchors are per document, and so are yaml-cpp's anchor numbers
    root_ = nullptr;
  }

  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    checkDepth(mark, 0);
    charge(mark, 1, 0);
    add(mark, Value{nullptr, "null"}, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor == YAML::NullAnchor || anchor > anchors_.size() || !anchors_[anchor - 1]) {
      throw YAML::ParserException(mark, "an alias refers to a node that contains it");
    }
    checkDepth(mark, anchors_[anchor - 1]->height);
    charge(mark, anchors_[anchor - 1]->values, anchors_[anchor - 1]->bytes);
    Value copy = *anchors_[anchor - 1];
    add(mark, std::move(copy), YAML::NullAnchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    checkDepth(mark, 0);
    if (auto problem = stringProblem(text)) throw YAML::ParserException(mark, *problem);
    charge(mark, 1, text.size());
    Value value;
    value.bytes = text.size();
    // As a key, the text as it is; as a value, "!" marks a quoted scalar, "?" a plain one, and
    // an explicit tag like !!str keeps the text. An anchored scalar may become either.
    const bool key = atKey();
    if (!key || anchor != YAML::NullAnchor) {
      value.json = tag == "?" ? plainScalar(text) : Json(text);
    }
    if (key || anchor != YAML::NullAnchor) value.key = text;
    add(mark, std::move(value), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open(mark, Json::array(), anchor);
  }

  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open(mark, Json::object(), anchor);
  }

  void OnMapEnd() override { close(); }

 private:
  // A sequence or map being read.
  struct Frame {
    Json json;
    std::optional<std::string> key;  // in a map: the key whose value comes next
    YAML::anchor_t anchor = YAML::NullAnchor;
    YAML::Mark mark;
    size_t valuesBefore = 0;
    size_t bytesBefore = 0;
    size_t height = 0;
  };

  // True when the next value is a mapping key.
  bool atKey() const { return !stack_.empty() && stack_.back().json.is_object() && !stack_.back().key; }

  void checkDepth(const YAML::Mark& mark, size_t height) const {
    if (stack_.size() + height > kMaxDepth) {
      throw YAML::ParserException(mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
  }

  void charge(const YAML::Mark& mark, size_t values, size_t bytes) {
    values_ += values;
    bytes_ += bytes;
    if (values_ > maxValues_) {
      throw YAML::ParserException(mark, "document expands to more than " + std::to_string(maxValues_) + " values");
    }
    if (bytes_ > maxBytes_) {
      throw YAML::ParserException(mark,
                                  "document expands to more than " + std::to_string(maxBytes_) + " bytes of strings");
    }
  }

  void open(const YAML::Mark& mark, Json json, YAML::anchor_t anchor) {
    checkDepth(mark, 0);
    if (atKey()) throw YAML::ParserException(mark, "a mapping key must be a scalar");
    charge(mark, 1, 0);
    if (anchor != YAML::NullAnchor) {
      // Known from here on, but not usable until complete: an alias inside would be a cycle.
      if (anchors_.size() < anchor) anchors_.resize(anchor);
      anchors_[anchor - 1].reset();
    }
    stack_.push_back(Frame{std::move(json), std::nullopt, anchor, mark, values_, bytes_, 0});
  }

  void close() {
    if (stack_.empty()) return;  // not expected: yaml-cpp pairs starts and ends
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.key) frame.json[*frame.key] = nullptr;  // not expected: yaml-cpp gives each key a value
    Value value{std::move(frame.json), std::nullopt, frame.height, values_ - frame.valuesBefore + 1,
                bytes_ - frame.bytesBefore};
    add(frame.mark, std::move(value), frame.anchor);
  }

  // Puts a finished value into its sequence or map (or makes it the document), and remembers
  // it under its anchor.
  void add(const YAML::Mark& mark, Value value, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      charge(mark, value.values, value.bytes);  // the copy kept for aliases
      if (anchors_.size() < anchor) anchors_.resize(anchor);
      anchors_[anchor - 1] = value;
    }
    if (stack_.empty()) {
      root_ = std::move(value.json);
      return;
    }
    Frame& top = stack_.back();
    top.height = std::max(top.height, value.height + 1);
    if (top.json.is_array()) {
      top.json.push_back(std::move(value.json));
    } else if (!top.key) {
      if (!value.key) throw YAML::ParserException(mark, "a mapping key must be a scalar");
      top.key = std::move(value.key);
    } else {
      top.json[*top.key] = std::move(value.json);  // of equal keys, the last wins
      top.key.reset();
    }
  }

  const size_t maxValues_;
  const size_t maxBytes_;
  size_t values_ = 0;
  size_t bytes_ = 0;
  std::optional<YAML::Mark> documentStart_;
  std::vector<Frame> stack_;
  std::vector<std::optional<Value>> anchors_;  // by yaml-cpp's anchor number - 1
  Json root_;
};

// Characters that a plain scalar or a literal block would not carry through: C0 controls
// (tab and line feed included), DEL, C1 controls, U+2028, U+2029 and the byte order mark.
bool hasControl(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const auto third = i + 2 < s.size() ? static_cast<unsigned char>(s[i + 2]) : 0;
    if (c == 0xC2 && next >= 0x80 && next <= 0x9F) return true;                      // U+0080-U+009F
    if (c == 0xE2 && next == 0x80 && (third == 0xA8 || third == 0xA9)) return true;  // U+2028/9
    if (c == 0xEF && next == 0xBB && third == 0xBF) return true;                     // U+FEFF
  }
  return false;
}

bool isBlank(char c) { return c == ' ' || c == '\t'; }

// ---- writing ----------------------------------------------------------------------------
// Written here rather than with yaml-cpp's emitter, which has no literal block without a final
// newline ("|-") and no way to keep the keys of an ordered_json in order. Each string takes
// the first form that reads back as exactly that string, for this parser and for YAML 1.1
// readers such as Prometheus' (so "yes", "1_000" or "2024-01-01" are never plain):
//   plain                  dur: 15m, expr: rate(x[5m]) > 0.1
//   single-quoted          num: '1.0', odd: 'a: b #c', utf8: 'café'
//   literal block          expr: |-  (text with line feeds, no line of blanks only)
//   double-quoted          anything else, with escapes for control characters

// The string with every invalid UTF-8 sequence and noncharacter (which the parser refuses)
// replaced by U+FFFD.
std::string validUtf8(std::string_view s) {
  if (!stringProblem(s)) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t length = 1;
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead >= 0xF0)
      length = 4;
    else if (lead >= 0xE0)
      length = 3;
    else if (lead >= 0xC0)
      length = 2;
    const std::string_view one = s.substr(i, std::min(length, s.size() - i));
    if (lead < 0x80 || (one.size() == length && !stringProblem(one))) {
      out += one;
      i += one.size();
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// What a YAML 1.1 reader takes for a boolean, null, number or timestamp. (The patterns look at
// 64 characters at most: std::regex recurses once per character.)
bool yaml11Special(std::string_view s) {
  static const std::regex special(R"(^(y|n|yes|no|on|off|true|false|null)$)", std::regex::icase);
  static const std::regex numeric(R"(^[-+]?(\.?[0-9][0-9_:.eE+-]*|0[xXoObB].*|\.(inf|nan))$)", std::regex::icase);
  static const std::regex timestamp(R"(^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})");
  if (s.size() > 64) return s.find_first_not_of("0123456789_:.eE+-") == std::string_view::npos;
  const std::string text(s);
  return std::regex_match(text, special) || std::regex_search(text, timestamp) || std::regex_match(text, numeric);
}

// Printable ASCII that no YAML reader takes for anything but this string.
bool plainSafe(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`.~<=").find(s.front()) != std::string_view::npos) return false;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
  return plainScalar(s).is_string() && !yaml11Special(s);
}

// A literal block reads back as `s`: line feeds and no other control character, a first line
// that is neither empty nor indented, no line of blanks only, and at most one final line feed
// ("|" keeps it, "|-" has none).
bool literalFits(std::string_view s) {
  if (s.find('\n') == std::string_view::npos || s.front() == '\n' || isBlank(s.front())) return false;
  if (s.ends_with("\n\n")) return false;
  for (size_t start = 0; start < s.size();) {
    size_t end = std::min(s.find('\n', start), s.size());
    std::string_view line = s.substr(start, end - start);
    if (hasControl(line)) return false;
    if (!line.empty() && std::all_of(line.begin(), line.end(), isBlank)) return false;
    start = end + 1;
  }
  return true;
}

std::string doubleQuoted(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const auto third = i + 2 < s.size() ? static_cast<unsigned char>(s[i + 2]) : 0;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x" + hex(c, 2);
    } else if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {  // C1 controls
      out += "\\x" + hex(next, 2);
      ++i;
    } else if (c == 0xE2 && next == 0x80 && (third == 0xA8 || third == 0xA9)) {  // U+2028, U+2029
      out += third == 0xA8 ? "\\L" : "\\P";
      i += 2;
    } else if (c == 0xEF && next == 0xBB && third == 0xBF) {  // U+FEFF
      out += "\\uFEFF";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string spaces(size_t n) { return std::string(n, ' '); }

// A string on one line: as a mapping key, or where no literal block fits.
std::string inline_(const std::string& s) {
  if (plainSafe(s)) return s;
  if (!hasControl(s)) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }
  return doubleQuoted(s);
}

template <class J>
class Writer {
 public:
  std::string out;

  // A value after "key:" or "- " (or at the top, `inSequence` false and `indent` 0), whose
  // nested lines start at column `indent`.
  void value(const J& v, size_t indent) {
    if (v.is_object() && !v.empty()) {
      out += "\n";
      object(v, indent, false);
    } else if (v.is_array() && !v.empty()) {
      out += "\n";
      array(v, indent);
    } else {
      out += " " + scalar(v, indent) + "\n";
    }
  }

  // The keys of `v` at column `indent`; the first after "- " when it is a sequence's item.
  void object(const J& v, size_t indent, bool inSequence) {
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      out += (first && inSequence ? spaces(indent - 2) + "- " : spaces(indent)) + inline_(validUtf8(it.key())) + ":";
      first = false;
      value(*it, indent + 2);
    }
  }

  // The items of `v`, their dashes at column `indent`.
  void array(const J& v, size_t indent) {
    for (const J& item : v) {
      if (item.is_object() && !item.empty()) {
        object(item, indent + 2, true);
      } else {
        out += spaces(indent) + "-";
        value(item, indent + 2);
      }
    }
  }

  // A scalar or an empty collection; a literal block's lines at column `indent`.
  std::string scalar(const J& v, size_t indent) {
    if (v.is_object()) return "{}";
    if (v.is_array()) return "[]";
    if (!v.is_string()) return v.dump();
    const std::string s = validUtf8(v.template get_ref<const std::string&>());
    if (!literalFits(s)) return inline_(s);
    std::string block = s.ends_with('\n') ? "|" : "|-";
    for (size_t start = 0; start < s.size();) {
      size_t end = std::min(s.find('\n', start), s.size());
      block += "\n" + (end == start ? "" : spaces(indent) + s.substr(start, end - start));
      start = end + 1;
    }
    return block;
  }
};

template <class J>
std::string write(const J& value) {
  Writer<J> w;
  if (value.is_structured() && !value.empty()) {
    if (value.is_object())
      w.object(value, 0, false);
    else
      w.array(value, 0);
  } else {
    w.out = w.scalar(value, 2) + "\n";
  }
  return w.out;
}

}  // namespace

Result<std::vector<Json>> parseYamlDocuments(std::string_view text) {
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    // Aliases may expand the text to kMaxValues values and kMaxStringBytes bytes of strings,
    // and a larger text to as many values and twice as many bytes as it has bytes (which a
    // text without aliases never reaches, anchors counted twice included).
    JsonBuilder builder(std::max(kMaxValues, text.size()), std::max(kMaxStringBytes, 2 * text.size()));
    std::vector<Json> docs;
    for (size_t count = 0; parser.HandleNextDocument(builder); ++count) {
      // Each document takes at least one byte; more would be another endless loop.
      if (count > text.size()) {
        throw YAML::ParserException(YAML::Mark::null_mark(), "more documents than bytes");
      }
      Json doc = builder.take();
      if (!doc.is_null()) docs.push_back(std::move(doc));
    }
    return docs;
  } catch (const YAML::Exception& e) {
    return Error{Status{0, "Invalid", "YAML: " + std::string(e.what())}, ""};
  }
}

std::string toYaml(const Json& value) { return write(value); }

std::string toYamlInOrder(const nlohmann::ordered_json& value) { return write(value); }

}  // namespace governor::kube
