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
  Json want = {{"a", 1},   {"b", "1"},   {"c", true}, {"d", "true"},  {"e", 1.5},        {"f", nullptr}, {"g", nullptr},
               {"h", "250ms"}, {"i", 31}, {"j", -3},  {"k", 99.9},    {"l", ""},         {"m", "12"},
               {"n", Json::array({1, "x", {{"y", false}}})}};
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

}  // namespace
}  // namespace governor::kube
