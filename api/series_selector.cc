// See series_selector.h. The lexical rules follow prometheus/promql/parser/lex.go.
#include "api/series_selector.h"

#include <cstdio>
#include <utility>

namespace governor::api {
namespace {

struct Failure {
  size_t at;
  std::string message;
};

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
int hexDigit(char c) {
  if (isDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  SeriesSelector selector() {
    SeriesSelector out;
    blanks();
    if (pos_ < s_.size() && (isAlpha(s_[pos_]) || s_[pos_] == ':')) {
      while (pos_ < s_.size() && (isAlpha(s_[pos_]) || isDigit(s_[pos_]) || s_[pos_] == ':')) out.metric += s_[pos_++];
      blanks();
    }
    if (pos_ < s_.size() && s_[pos_] == '{') {
      ++pos_;
      blanks();
      while (!consume('}')) {
        out.matchers.push_back(matcher());
        blanks();
        if (consume('}')) break;
        if (!consume(',')) fail(pos_, "unexpected " + describe() + " in label matching, expected \",\" or \"}\"");
        blanks();
      }
      blanks();
    } else if (out.metric.empty()) {
      fail(pos_, "unexpected " + describe() + ", expected a metric name or \"{\"");
    }
    if (pos_ < s_.size()) fail(pos_, "unexpected " + describe() + " after the selector");
    if (out.metric.empty() && out.matchers.empty()) fail(0, "a selector needs a metric name or a matcher");
    return out;
  }

 private:
  [[noreturn]] void fail(size_t at, std::string message) { throw Failure{at, std::move(message)}; }

  std::string describe() const {
    if (pos_ >= s_.size()) return "end of input";
    return "\"" + std::string(1, s_[pos_]) + "\"";
  }

  // Blanks and # comments, as between any two PromQL tokens.
  void blanks() {
    while (pos_ < s_.size() && (isBlank(s_[pos_]) || s_[pos_] == '#')) {
      if (s_[pos_] == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        ++pos_;
      }
    }
  }

  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  LabelMatcher matcher() {
    LabelMatcher m;
    if (pos_ >= s_.size() || !isAlpha(s_[pos_])) {
      fail(pos_, "unexpected " + describe() + " in label matching, expected a label name");
    }
    while (pos_ < s_.size() && (isAlpha(s_[pos_]) || isDigit(s_[pos_]))) m.label += s_[pos_++];
    blanks();
    for (const char* op : {"=~", "!~", "!=", "="}) {
      if (s_.substr(pos_).starts_with(op)) {
        m.op = op;
        pos_ += m.op.size();
        break;
      }
    }
    if (m.op.empty()) {
      fail(pos_, "unexpected " + describe() + " in label matching, expected one of \"=\", \"!=\", \"=~\", \"!~\"");
    }
    blanks();
    m.value = string();
    return m;
  }

  // A quoted string at the cursor, unescaped as Go's strconv.Unquote does.
  std::string string() {
    const size_t start = pos_;
    const char q = pos_ < s_.size() ? s_[pos_] : '\0';
    if (q != '"' && q != '\'' && q != '`')
      fail(pos_, "unexpected " + describe() + " in label matching, expected string");
    ++pos_;
    std::string value;
    while (true) {
      if (pos_ >= s_.size() || (q != '`' && s_[pos_] == '\n')) fail(start, "unterminated quoted string");
      const char c = s_[pos_++];
      if (c == q) return value;
      if (c != '\\' || q == '`') {
        value += c;
        continue;
      }
      if (pos_ >= s_.size()) fail(start, "unterminated quoted string");
      const size_t escapeAt = pos_ - 1;
      const char e = s_[pos_++];
      switch (e) {
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 't': value += '\t'; break;
        case 'v': value += '\v'; break;
        case '\\': value += '\\'; break;
        case '"':
        case '\'':
          if (e != q) fail(escapeAt, "unknown escape sequence \"\\" + std::string(1, e) + "\"");
          value += e;
          break;
        case 'x': value += static_cast<char>(hex(2, escapeAt)); break;
        case 'u': appendUtf8(value, hex(4, escapeAt)); break;
        case 'U': appendUtf8(value, hex(8, escapeAt)); break;
        default:
          if (e >= '0' && e <= '7') {
            unsigned long v = static_cast<unsigned long>(e - '0');
            for (int i = 0; i < 2; ++i) {
              if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '7')
                fail(escapeAt, "invalid octal escape in string");
              v = v * 8 + static_cast<unsigned long>(s_[pos_++] - '0');
            }
            if (v > 255) fail(escapeAt, "invalid octal escape in string");
            value += static_cast<char>(v);
          } else {
            fail(escapeAt, "unknown escape sequence \"\\" + std::string(1, e) + "\"");
          }
      }
    }
  }

  unsigned long hex(int digits, size_t escapeAt) {
    unsigned long v = 0;
    for (int i = 0; i < digits; ++i) {
      const int d = pos_ < s_.size() ? hexDigit(s_[pos_]) : -1;
      if (d < 0) fail(escapeAt, "invalid hexadecimal escape in string");
      v = v * 16 + static_cast<unsigned long>(d);
      ++pos_;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) fail(escapeAt, "invalid Unicode code point in string");
    return v;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Line and column from 1, as Prometheus reports positions.
std::string position(std::string_view text, size_t at) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

kube::Result<SeriesSelector> parseSeriesSelector(std::string_view text) {
  try {
    return Parser(text).selector();
  } catch (const Failure& f) {
    return kube::Error{kube::Status{0, "Invalid", position(text, f.at) + ": " + f.message}, "series selector"};
  }
}

std::string renderSeriesSelector(const SeriesSelector& selector) {
  std::string out = selector.metric;
  if (selector.matchers.empty() && !selector.metric.empty()) return out;
  out += "{";
  for (size_t i = 0; i < selector.matchers.size(); ++i) {
    const LabelMatcher& m = selector.matchers[i];
    out += (i ? "," : "") + m.label + m.op + quoted(m.value);
  }
  return out + "}";
}

SeriesSelector inNamespace(SeriesSelector selector, const std::string& ns) {
  std::erase_if(selector.matchers, [](const LabelMatcher& m) { return m.label == "namespace"; });
  selector.matchers.insert(selector.matchers.begin(), LabelMatcher{"namespace", "=", ns});
  return selector;
}

}  // namespace governor::api
