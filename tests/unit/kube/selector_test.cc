// Table tests for label selectors, with cases taken from apimachinery's selector_test.go
// where upstream has them.
#include "kube/selector.h"

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace governor::kube {
namespace {

using Labels = std::map<std::string, std::string>;

Selector parsed(const std::string& text) {
  Result<Selector> selector = parseSelector(text);
  EXPECT_TRUE(selector.ok()) << text << ": " << (selector ? "" : selector.error().what());
  return selector ? *selector : Selector();
}

TEST(SelectorTest, ParsesToCanonicalString) {
  struct Case {
    std::string input;
    std::string canonical;
  };
  const Case cases[] = {
      {"", ""},
      {"   ", ""},
      {"x=a,y=b,z=c", "x=a,y=b,z=c"},
      {"x!=a,y=b", "x!=a,y=b"},
      {"x=", "x="},
      {"x= ", "x="},
      {"x=,z= ", "x=,z="},
      {"x= ,z= ", "x=,z="},
      {"x==a", "x==a"},
      {"!x", "!x"},
      {"! x", "!x"},
      {"\rx", "x"},
      {"a ", "a"},
      {"this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"},
      {"this-is-another-dns.domain.com/key-with-dash in (so,what)",
       "this-is-another-dns.domain.com/key-with-dash in (so,what)"},
      {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"},
      {"foo  in\t (abc)", "foo in (abc)"},
      {"x notin\n (abc)", "x notin (abc)"},
      {"x  notin\t\t\t(abc,def)", "x notin (abc,def)"},
      {"x in(abc)", "x in (abc)"},
      {"x in (abc,)", "x in (,abc)"},
      {"x in ()", "x in ()"},
      {"x notin ( )", "x notin ()"},
      {"x notin (, a)", "x notin (,a)"},
      {"x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"},
      {"x,y in (a)", "x,y in (a)"},
      {"x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"},
      {"a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"},
      {"in in (notin),notin=in", "in in (notin),notin=in"},
      {"a in (y,x,y)", "a in (x,y)"},
      {"b=c,a in (y,x),!d", "a in (x,y),b=c,!d"},
      {"z,z!=a,a=b", "a=b,z,z!=a"},  // sorted by key, stable within a key
      {"A_b.c-9=V_a.l-1", "A_b.c-9=V_a.l-1"},
      {"example.com/app=web", "example.com/app=web"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Result<Selector> selector = parseSelector(c.input);
    ASSERT_TRUE(selector.ok()) << selector.error().what();
    EXPECT_EQ(selector->toString(), c.canonical);
    EXPECT_TRUE(parsed(selector->toString()) == *selector);  // parse(print(s)) == s
  }
  EXPECT_EQ(parsed("x=a,a=x").toString(), parsed("a=x,x=a").toString());
}

TEST(SelectorTest, RejectsMalformedInputNamingIt) {
  const std::string longName(64, 'a');
  const std::string longPrefix = std::string(254, 'a') + "/x";
  const std::string cases[] = {
      "x=a||y=b",
      "x==a==b",
      "!x=a",
      "!x in (a)",
      "!",
      "x<a",
      "x>1",  // upstream's Gt/Lt are not supported
      "x=a,",
      ",x",
      "x,,y",
      ",x,y",
      "x in (",
      "x in",
      "x in a",
      "x nott in (y)",
      "a in (xyz),",
      "a in (xyz)b notin ()",
      "a in (xyz abc)",
      "a notin(",
      "a (",
      "(",
      "a=b c=d",
      "a b",
      "a=(b)",
      // Invalid keys.
      "-a=b",
      "a-=b",
      ".a",
      "a b=c",
      "Example.com/a",
      "/a",
      "a/",
      "a/b/c",
      "-example.com/a",
      "example..com/a",
      longName,
      longPrefix,
      // Invalid values.
      "a=b-",
      "a=-b",
      "a=b/c",
      "a in (x,-y)",
      "a=" + longName,
  };
  for (const std::string& input : cases) {
    SCOPED_TRACE(input);
    Result<Selector> selector = parseSelector(input);
    ASSERT_FALSE(selector.ok()) << selector->toString();
    const Error& error = selector.error();
    EXPECT_EQ(error.status.code, 0);
    EXPECT_EQ(error.status.reason, "Invalid");
    EXPECT_NE(error.status.message.find("\"" + input + "\""), std::string::npos) << error.status.message;
    EXPECT_EQ(error.context, "");
  }
  // Keys and values at their limits are fine.
  EXPECT_TRUE(parseSelector(std::string(63, 'a') + "=" + std::string(63, 'b')).ok());
  EXPECT_TRUE(parseSelector(std::string(253, 'a') + "/" + std::string(63, 'a')).ok());
}

TEST(SelectorTest, ExplainsWhatIsWrong) {
  struct Case {
    std::string input;
    std::string message;
  };
  const Case cases[] = {
      {"x=a,", "label selector \"x=a,\": found end of string, expected a key"},
      {"a=b c=d", "label selector \"a=b c=d\": found 'c', expected ',' or end of string"},
      {"x in (", "label selector \"x in (\": found end of string, expected ',' or ')'"},
      {"x>1", "label selector \"x>1\": found '>', expected one of =, ==, !=, in, notin"},
      {"-a", "label selector \"-a\": invalid key \"-a\": the name must be non-empty"},
      {"a=-b", "label selector \"a=-b\": invalid value \"-b\" for key \"a\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    Result<Selector> selector = parseSelector(c.input);
    ASSERT_FALSE(selector.ok());
    EXPECT_EQ(selector.error().status.message.substr(0, c.message.size()), c.message);
  }
}

TEST(SelectorTest, Matches) {
  const Labels fooBar = {{"foo", "bar"}, {"baz", "blah"}};
  struct Case {
    std::string selector;
    Labels labels;
    bool matches;
  };
  const Case cases[] = {
      {"", {{"x", "y"}}, true},
      {"", {}, true},
      {"x=y", {{"x", "y"}}, true},
      {"x==y", {{"x", "y"}}, true},
      {"x=y,z=w", {{"x", "y"}, {"z", "w"}}, true},
      {"x!=y,z!=w", {{"x", "z"}, {"z", "a"}}, true},
      {"notin=in", {{"notin", "in"}}, true},
      {"x", {{"x", "z"}}, true},
      {"!x", {{"y", "z"}}, true},
      {"x=z", {}, false},
      {"x=y", {{"x", "z"}}, false},
      {"x=y,z=w", {{"x", "w"}, {"z", "w"}}, false},
      {"x!=y,z!=w", {{"x", "z"}, {"z", "w"}}, false},
      {"x", {{"y", "z"}}, false},
      {"!x", {{"x", "z"}}, false},
      {"x!=y", {}, true},  // a missing label is not equal to anything
      {"x=", {{"x", ""}}, true},
      {"x=", {}, false},
      {"foo=bar", fooBar, true},
      {"baz=blah", fooBar, true},
      {"foo=bar,baz=blah", fooBar, true},
      {"foo=blah", fooBar, false},
      {"baz=bar", fooBar, false},
      {"foo=bar,foobar=bar,baz=blah", fooBar, false},
      {"x in (foo),y notin (alpha)", {{"x", "foo"}, {"y", "baz"}}, true},
      {"x in (foo),y in (alpha)", {{"x", "foo"}, {"y", "baz"}}, false},
      {"x in (a,b,c)", {{"x", "b"}}, true},
      {"x in (a,b,c)", {{"x", "d"}}, false},
      {"x notin (),y", {{"y", ""}}, true},
      {"!x,y", {{"y", ""}}, true},
      {"x notin (),!y", {{"y", ""}}, false},
      {"x in ()", {{"y", "baz"}}, false},
      {"x in ()", {{"x", ""}}, true},
      {"x notin (a)", {}, true},
      {"x notin (a)", {{"x", "a"}}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.selector);
    EXPECT_EQ(parsed(c.selector).matches(c.labels), c.matches);
  }
}

TEST(SelectorTest, FromMatchLabels) {
  const Labels fooBar = {{"foo", "bar"}, {"baz", "blah"}};
  EXPECT_TRUE(fromMatchLabels({}).requirements().empty());
  EXPECT_TRUE(fromMatchLabels({}).matches(fooBar));
  EXPECT_TRUE(fromMatchLabels({{"foo", "bar"}}).matches(fooBar));
  EXPECT_TRUE(fromMatchLabels({{"baz", "blah"}}).matches(fooBar));
  EXPECT_TRUE(fromMatchLabels(fooBar).matches(fooBar));
  EXPECT_FALSE(fromMatchLabels({{"foo", "bar"}, {"a", "b"}}).matches(fooBar));
  EXPECT_EQ(fromMatchLabels(fooBar).toString(), "baz=blah,foo=bar");
  EXPECT_TRUE(fromMatchLabels(fooBar) == parsed("foo=bar,baz=blah"));
}

TEST(SelectorTest, FromLabelSelectorJson) {
  struct Case {
    std::string json;
    std::string canonical;
  };
  const Case cases[] = {
      {R"({})", ""},
      {R"({"matchLabels": null, "matchExpressions": null})", ""},
      {R"({"matchLabels": {"app": "web", "tier": ""}})", "app=web,tier="},
      {R"({"matchLabels": {"app": "web"},
           "matchExpressions": [
             {"key": "tier", "operator": "In", "values": ["b", "a", "b"]},
             {"key": "canary", "operator": "DoesNotExist"},
             {"key": "env", "operator": "NotIn", "values": ["prod"]},
             {"key": "example.com/team", "operator": "Exists", "values": []}]})",
       "app=web,!canary,env notin (prod),example.com/team,tier in (a,b)"},
      {R"({"matchExpressions": [{"key": "x", "operator": "Exists", "values": null}],
           "unknownField": 1})",
       "x"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    Result<Selector> selector = selectorFromJson(nlohmann::json::parse(c.json));
    ASSERT_TRUE(selector.ok()) << selector.error().what();
    EXPECT_EQ(selector->toString(), c.canonical);
    EXPECT_TRUE(parsed(selector->toString()) == *selector);
  }
  Result<Selector> web = selectorFromJson(nlohmann::json::parse(
      R"({"matchLabels": {"app": "web"},
          "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})"));
  ASSERT_TRUE(web.ok());
  EXPECT_TRUE(web->matches({{"app", "web"}, {"tier", "a"}}));
  EXPECT_FALSE(web->matches({{"app", "web"}, {"tier", "c"}}));
  EXPECT_FALSE(web->matches({{"app", "web"}}));
}

TEST(SelectorTest, RejectsInvalidLabelSelectorJson) {
  struct Case {
    std::string json;
    std::string reason;
  };
  const Case cases[] = {
      {R"(null)", "must be an object"},
      {R"([])", "must be an object"},
      {R"({"matchLabels": []})", "matchLabels must be an object"},
      {R"({"matchLabels": {"app": 1}})", "matchLabels.app must be a string"},
      {R"({"matchLabels": {"-app": "web"}})", "invalid key \"-app\""},
      {R"({"matchLabels": {"app": "a b"}})", "invalid value \"a b\" for key \"app\""},
      {R"({"matchExpressions": {}})", "matchExpressions must be an array"},
      {R"({"matchExpressions": [1]})", "matchExpressions[0] must be an object"},
      {R"({"matchExpressions": [{"operator": "Exists"}]})", "matchExpressions[0].key"},
      {R"({"matchExpressions": [{"key": "x"}]})", "matchExpressions[0].operator"},
      {R"({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]})",
       "\"Gt\" is not In, NotIn, Exists or DoesNotExist"},
      {R"({"matchExpressions": [{"key": "x", "operator": "in", "values": ["1"]}]})", "\"in\" is not In"},
      {R"({"matchExpressions": [{"key": "x", "operator": "In", "values": []}]})", "needs at least one value"},
      {R"({"matchExpressions": [{"key": "x", "operator": "NotIn"}]})", "needs at least one value"},
      {R"({"matchExpressions": [{"key": "x", "operator": "Exists", "values": ["a"]}]})", "takes no values"},
      {R"({"matchExpressions": [{"key": "x", "operator": "In", "values": "a"}]})",
       "values must be an array of strings"},
      {R"({"matchExpressions": [{"key": "x", "operator": "In", "values": [1]}]})",
       "values must be an array of strings"},
      {R"({"matchExpressions": [{"key": "x", "operator": "In", "values": ["a", "-"]}]})", "invalid value \"-\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    nlohmann::json json = nlohmann::json::parse(c.json);
    Result<Selector> selector = selectorFromJson(json);
    ASSERT_FALSE(selector.ok()) << selector->toString();
    const Status& status = selector.error().status;
    EXPECT_EQ(status.code, 0);
    EXPECT_EQ(status.reason, "Invalid");
    EXPECT_NE(status.message.find("label selector " + json.dump()), std::string::npos) << status.message;
    EXPECT_NE(status.message.find(c.reason), std::string::npos) << status.message;
  }
}

// Parsed YAML can hold any bytes; the error message quotes the selector without throwing
// (fuzzing: dump() threw nlohmann type_error 316 on "caf\xE9").
TEST(SelectorTest, RejectsLabelSelectorJsonThatIsNotUtf8WithoutThrowing) {
  const std::string latin1 = "caf\xE9";
  nlohmann::json matchLabels = nlohmann::json::object();
  matchLabels[latin1] = "x";
  nlohmann::json expression = {{"key", "app"}, {"operator", latin1}, {"values", {"a"}}};
  const nlohmann::json cases[] = {
      {{"matchLabels", matchLabels}},
      {{"matchLabels", {{"app", latin1}}}},
      {{"matchExpressions", nlohmann::json::array({expression})}},
      {{"matchExpressions", nlohmann::json::array({{{"key", latin1}, {"operator", "Exists"}}})}},
  };
  for (const nlohmann::json& json : cases) {
    Result<Selector> selector = Selector();
    ASSERT_NO_THROW(selector = selectorFromJson(json));
    ASSERT_FALSE(selector.ok()) << selector->toString();
    EXPECT_EQ(selector.error().status.reason, "Invalid");
    EXPECT_NE(selector.error().status.message.find("label selector {"), std::string::npos)
        << selector.error().status.message;
  }
}

}  // namespace
}  // namespace governor::kube
