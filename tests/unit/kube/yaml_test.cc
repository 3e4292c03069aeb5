// YAML in and out as kubectl users write it.
#include <gtest/gtest.h>

#include "kube/yaml.h"

namespace governor::kube {
namespace {

using Json = nlohmann::json;

TEST(Yaml, PlainScalarsGetTypesQuotedOnesStayStrings) {
  auto docs = parseYamlDocuments(R"(
a: 1
b: "1"
c: true
d: 'true'
e: 1.5
f: null
g: ~
h: 250ms
i: 0x1F
j: -3
k: 99.9
l: ""
m: !!str 12
n: [1, "x", {y: false}]
)");
  ASSERT_TRUE(docs.ok()) << docs.error().what();
  ASSERT_EQ(docs->size(), 1u);
  Json want = {{"a", 1},       {"b", "1"},
               {"c", true},    {"d", "true"},
               {"e", 1.5},     {"f", nullptr},
               {"g", nullptr}, {"h", "250ms"},
               {"i", 31},      {"j", -3},
               {"k", 99.9},    {"l", ""},
               {"m", "12"},    {"n", Json::array({1, "x", {{"y", false}}})}};
  EXPECT_EQ((*docs)[0], want);
}

TEST(Yaml, SeveralDocumentsSkippingEmptyOnes) {
  auto docs = parseYamlDocuments("---\nkind: A\n---\n---\nkind: B\n...\n");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1]["kind"], "B");
}

TEST(Yaml, ErrorsSayWhere) {
  auto bad = parseYamlDocuments("a: [1, 2\nb: 3\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().status.message.find("line"), std::string::npos) << bad.error().status.message;
}

TEST(Yaml, EmitsYamlThatReadsBackAsTheSameJson) {
  Json v = {{"s", "plain"},
            {"looksLikeBool", "true"},
            {"looksLikeNumber", "8"},
            {"empty", ""},
            {"multi", "line one\nline two\n"},
            {"colon", "a: b # c"},
            {"list", Json::array({1, 2.5, false, nullptr})},
            {"nested", {{"x", Json::object()}, {"y", Json::array()}}}};
  auto text = toYaml(v);
  auto back = parseYamlDocuments(text);
  ASSERT_TRUE(back.ok()) << text;
  EXPECT_EQ((*back)[0], v) << text;
  EXPECT_NE(text.find("multi: |"), std::string::npos) << "multi-line strings read best as literal blocks:\n" << text;
}

// Regression tests for what fuzzing found (docs/fuzzing.md, Y1-Y7).

std::string messageOf(const Result<std::vector<Json>>& result) {
  return result.ok() ? "(no error)" : result.error().status.message;
}

// Y1, Y6: JSON strings are UTF-8 (dump() throws on anything else) and yaml-cpp's emitter turns
// noncharacters into U+FFFD, so neither may come out of the parser.
TEST(Yaml, RejectsStringsThatAreNotUtf8OrHoldNoncharacters) {
  struct Case {
    std::string yaml;
    std::string why;
  };
  const Case cases[] = {
      {"name: caf\xE9\n", "line 1, column 7: a string is not valid UTF-8 (byte 0xE9 at offset 3)"},
      {"caf\xE9: x\n", "not valid UTF-8"},
      {"a:\n  - ok\n  - \"x\xC3\"\n", "line 3, column 5: a string is not valid UTF-8"},
      {"a: \xC0\x80\n", "not valid UTF-8"},          // overlong NUL
      {"a: \xED\xA0\x80\n", "not valid UTF-8"},      // a surrogate
      {"a: \xF4\x90\x80\x80\n", "not valid UTF-8"},  // past U+10FFFF
      {"a: \"\\uD800\"\n", "invalid unicode"},       // a surrogate, escaped: yaml-cpp says so itself
      {"\"\\x01\\uFFFF\"\n", "the noncharacter U+FFFF"},
      {"a: \"\\uFFFE\"\n", "the noncharacter U+FFFE"},
      {"a: \xEF\xBF\xBF\n", "the noncharacter U+FFFF"},
      {"a: \"\\uFDD0\"\n", "the noncharacter U+FDD0"},
      {"a: \"\\U0010FFFF\"\n", "the noncharacter U+10FFFF"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto docs = parseYamlDocuments(c.yaml);
    ASSERT_FALSE(docs.ok()) << Json(*docs).dump(-1, ' ', false, Json::error_handler_t::replace);
    EXPECT_EQ(docs.error().status.reason, "Invalid");
    EXPECT_NE(messageOf(docs).find(c.why), std::string::npos) << messageOf(docs);
  }
  auto fine = parseYamlDocuments("a: caf\xC3\xA9\nb: \"\\U0001F600 \\uFFFD\"\n");
  ASSERT_TRUE(fine.ok()) << messageOf(fine);
  EXPECT_EQ((*fine)[0], Json({{"a", "caf\xC3\xA9"}, {"b", "\xF0\x9F\x98\x80 \xEF\xBF\xBD"}}));
  EXPECT_NO_THROW((void)(*fine)[0].dump());
}

// Y2: yaml-cpp 0.7's LoadAll loops forever on these (jbeder/yaml-cpp#1040).
TEST(Yaml, RejectsTokensNoDocumentCanStartWithInsteadOfLooping) {
  for (const std::string yaml : {",", "\n,\n", "- !+(.,.)", "a: b\n---\n,", ", x"}) {
    SCOPED_TRACE(yaml);
    auto docs = parseYamlDocuments(yaml);
    ASSERT_FALSE(docs.ok());
    EXPECT_NE(messageOf(docs).find("line "), std::string::npos) << messageOf(docs);
  }
}

// Y3: nine levels of ten aliases each would be 10^9 values.
TEST(Yaml, StopsAliasExpansionThatWouldNotEnd) {
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level < 10; ++level) {
    const std::string previous = "*a" + std::to_string(level - 1);
    laughs += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) laughs += (i > 0 ? ", " : "") + previous;
    laughs += "]\n";
  }
  auto docs = parseYamlDocuments(laughs);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(messageOf(docs).find("document expands to more than 100000 values"), std::string::npos) << messageOf(docs);

  // Few values, but long strings.
  std::string strings = "s: &s " + std::string(4000, 'x') + "\nt: &t [";
  for (int i = 0; i < 100; ++i) strings += (i > 0 ? ", *s" : "*s");
  strings += "]\nu: [";
  for (int i = 0; i < 100; ++i) strings += (i > 0 ? ", *t" : "*t");
  strings += "]\n";
  docs = parseYamlDocuments(strings);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(messageOf(docs).find("bytes of strings"), std::string::npos) << messageOf(docs);

  // Anchors are per document, the budget is for the whole stream (each of these documents
  // alone is within it).
  std::string many;
  const std::string one = "---\n" + laughs.substr(0, laughs.find("a4:"));
  ASSERT_TRUE(parseYamlDocuments(one).ok());
  for (int i = 0; i < 20; ++i) many += one;
  docs = parseYamlDocuments(many);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(messageOf(docs).find("more than 100000 values"), std::string::npos) << messageOf(docs);
}

// The budget grows with the text: what is written out in full is never too much.
TEST(Yaml, ReadsLargeDocumentsWithoutAliases) {
  std::string list = "list: &all [";
  for (int i = 0; i < 150'000; ++i) list += i > 0 ? ",1" : "1";
  list += "]\ntext: &text \"" + std::string(3 << 20, 'x') + "\"\n";
  auto docs = parseYamlDocuments(list);
  ASSERT_TRUE(docs.ok()) << messageOf(docs);
  EXPECT_EQ((*docs)[0]["list"].size(), 150'000u);
  EXPECT_EQ((*docs)[0]["text"].get_ref<const std::string&>().size(), size_t{3} << 20);
}

TEST(Yaml, ExpandsAliases) {
  auto docs = parseYamlDocuments(R"(
base: &base {cpu: 500m, memory: 1Gi}
list: &l [a, {b: &n 1}]
again: *l
n: *n
&k key: value
byKey: *k
*k : 2
web:
  <<: *base
---
other: &l [x]
again: *l
)");
  ASSERT_TRUE(docs.ok()) << messageOf(docs);
  ASSERT_EQ(docs->size(), 2u);
  const Json base = {{"cpu", "500m"}, {"memory", "1Gi"}};
  const Json list = Json::array({"a", {{"b", 1}}});
  // yaml-cpp 0.7 does not merge "<<" keys: they stay keys, as they always did here.
  EXPECT_EQ((*docs)[0], Json({{"base", base},
                              {"list", list},
                              {"again", list},
                              {"n", 1},
                              {"key", 2},
                              {"byKey", "key"},
                              {"web", {{"<<", base}}}}));
  EXPECT_EQ((*docs)[1], Json({{"other", {"x"}}, {"again", {"x"}}}));
}

TEST(Yaml, RejectsAliasCyclesCollectionKeysAndDeepNesting) {
  auto cycle = parseYamlDocuments("a: &a [b, *a]\n");
  ASSERT_FALSE(cycle.ok());
  EXPECT_NE(messageOf(cycle).find("an alias refers to a node that contains it"), std::string::npos) << messageOf(cycle);

  for (const std::string yaml : {"? [a]\n: b\n", "{? {a: b} : c}", "a: &a [x]\n*a : y\n"}) {
    SCOPED_TRACE(yaml);
    auto docs = parseYamlDocuments(yaml);
    ASSERT_FALSE(docs.ok());
    EXPECT_NE(messageOf(docs).find("a mapping key must be a scalar"), std::string::npos) << messageOf(docs);
  }

  auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  EXPECT_TRUE(parseYamlDocuments(nested(201)).ok());
  auto deep = parseYamlDocuments(nested(202));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(messageOf(deep).find("nesting deeper than 200 levels"), std::string::npos) << messageOf(deep);
  // Through an alias too.
  auto aliased =
      parseYamlDocuments("a: &a " + nested(150) + "\nb: " + std::string(60, '[') + "*a" + std::string(60, ']') + "\n");
  ASSERT_FALSE(aliased.ok());
  EXPECT_NE(messageOf(aliased).find("nesting deeper than 200 levels"), std::string::npos) << messageOf(aliased);
}

// Y4, Y5, Y7: every string reads back as itself, and printing again gives the same text.
TEST(Yaml, EveryStringReadsBack) {
  const std::string strings[] = {
      "a\nb",  // no final newline: a literal block would add one
      "x\n\n",
      "\n",  // extra final newlines: a literal block would drop them
      " a\nb",
      "\ta\n",  // an indented first line
      "\nabc\n",
      "a\n  \nb\n",
      "a\r\nb\n",
      "dos\r\nline\n",
      "0\r",
      "\r",
      "a\r",  // carriage returns
      std::string("line\n\0tail\n", 11),
      std::string("\0", 1),
      "a\tb\n",
      "a\t",
      "\tb",
      " ",
      "a ",
      " a",
      "\x7F",
      "\xC2\x85x",
      "a\xE2\x80\xA8"
      "b",
      "---",
      "...",
      "--- x",
      "... x",
      "---\n",
      "a\n---\nb\n",
      "a\n...\n",
      "true",
      "1",
      "1.5",
      "0x1F",
      "1e3",
      ".5",
      "null",
      "~",
      "",
      "-",
      "- a",
      "? a",
      ": a",
      "#x",
      "a #b",
      "a: b",
      "&a",
      "*a",
      "!a",
      "|",
      ">",
      "%x",
      "@x",
      "[a",
      "{a",
      ",",
      "'x",
      "\"x",
      "line one\nline two\n",
      "abc\n",
      "a\n\nb\n",
      "caf\xC3\xA9\n",
  };
  for (const std::string& s : strings) {
    for (const Json& value :
         {Json(s), Json({{"k", s}}), Json::array({Json::array({s})}), Json({{s, "v"}, {"other", 1}})}) {
      SCOPED_TRACE(value.dump());
      const std::string text = toYaml(value);
      auto back = parseYamlDocuments(text);
      ASSERT_TRUE(back.ok()) << text << messageOf(back);
      ASSERT_EQ(back->size(), 1u) << text;
      EXPECT_EQ((*back)[0], value) << text;
      EXPECT_EQ(toYaml((*back)[0]), text);
    }
  }
  // Literal blocks where they read back exactly: at most one final newline, nothing unusual.
  EXPECT_EQ(toYaml({{"script", "echo a\necho b\n"}}), "script: |\n  echo a\n  echo b\n");
  EXPECT_EQ(toYaml({{"script", "echo a\necho b"}}), "script: |-\n  echo a\n  echo b\n");
  EXPECT_EQ(toYaml({{"script", "echo a\n\n"}}), "script: \"echo a\\n\\n\"\n");
  EXPECT_EQ(toYaml("---"), "'---'\n");
  EXPECT_EQ(toYaml({{"k", "0\r"}}), "k: \"0\\r\"\n");
  EXPECT_EQ(toYaml(std::string("a\0b", 3)), std::string("\"a\\x00b\"\n"));
  // YAML 1.1 readers (Prometheus) would take these for booleans, numbers or dates.
  for (const char* s : {"yes", "off", "1_000", "0o17", "2024-01-01", ".inf"}) {
    EXPECT_EQ(toYaml({{"k", s}}), std::string("k: '") + s + "'\n");
  }
  // Bytes the parser refuses come out as U+FFFD, and so read back.
  EXPECT_EQ(toYaml(std::string("a\xFF"
                               "b")),
            "'a\xEF\xBF\xBD"
            "b'\n");
}

TEST(Yaml, AnOrderedJsonKeepsItsKeyOrder) {
  nlohmann::ordered_json v = {{"zeta", 1}, {"alpha", {{"b", 2}, {"a", 3}}}};
  EXPECT_EQ(toYamlInOrder(v), "zeta: 1\nalpha:\n  b: 2\n  a: 3\n");
  EXPECT_EQ(toYaml(Json::parse(v.dump())), "alpha:\n  a: 3\n  b: 2\nzeta: 1\n");
}

}  // namespace
}  // namespace governor::kube
