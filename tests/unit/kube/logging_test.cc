// configureLogging and log fields: what a JSON or text line holds, read back as a user would.
#include "kube/logging.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

namespace governor::kube {
namespace {

using nlohmann::json;

// Sends the default logger's lines to `out_` for one test, then puts the old logger back.
class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("logging_test", std::make_shared<spdlog::sinks::ostream_sink_st>(out_)));
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(LoggingTest, JsonPutsEachFieldAtTheTopLevelNextToMsg) {
  ASSERT_TRUE(configureLogging("info", "json").ok());
  log::info("servicelevel shop/checkout: reconciled",
            {{"namespace", "shop"}, {"servicelevel", "checkout"}, {"duration", 0.25}});
  spdlog::info("operator started");
  auto got = lines();
  ASSERT_EQ(got.size(), 2u) << out_.str();

  auto line = json::parse(got[0]);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["msg"], "servicelevel shop/checkout: reconciled");
  EXPECT_EQ(line["namespace"], "shop");
  EXPECT_EQ(line["servicelevel"], "checkout");
  EXPECT_EQ(line["duration"], 0.25);
  EXPECT_TRUE(line["time"].is_string());
  std::vector<std::string> keys;
  for (const auto& [key, value] : line.items()) keys.push_back(key);
  EXPECT_EQ(keys.size(), 6u) << got[0];

  // A plain spdlog line has no fields, not even those of the line before it.
  auto plain = json::parse(got[1]);
  EXPECT_EQ(plain.size(), 3u) << got[1];
  EXPECT_EQ(plain["msg"], "operator started");
}

TEST_F(LoggingTest, JsonEscapesQuotesNewlinesAndUnicodeInValues) {
  ASSERT_TRUE(configureLogging("info", "json").ok());
  const std::string tricky = "say \"hi\"\nthen\t\\ ü ✓ \x01";
  log::warn(tricky, {{"reason", tricky}, {"key \"with\" quotes", "v"}, {"broken", "\xff\xfe ok"}});
  auto got = lines();
  ASSERT_EQ(got.size(), 1u) << out_.str();
  json line;
  ASSERT_NO_THROW(line = json::parse(got[0])) << got[0];
  EXPECT_EQ(line["level"], "warning");
  EXPECT_EQ(line["msg"], tricky);
  EXPECT_EQ(line["reason"], tricky);
  EXPECT_EQ(line["key \"with\" quotes"], "v");
  EXPECT_EQ(line["broken"], "\xef\xbf\xbd\xef\xbf\xbd ok") << "bytes that are not UTF-8 become U+FFFD";
}

TEST_F(LoggingTest, TextAppendsKeyValuePairsQuotingValuesThatNeedIt) {
  ASSERT_TRUE(configureLogging("info", "text").ok());
  log::warn("status: refused", {{"namespace", "shop"},
                                {"servicelevel", "checkout"},
                                {"reason", "two words"},
                                {"name", ""},
                                {"kind", "a=b"},
                                {"error", "line\nbreak \"quoted\""},
                                {"duration", 1.5}});
  auto got = lines();
  ASSERT_EQ(got.size(), 1u) << out_.str();
  const std::string want =
      " warning status: refused namespace=shop servicelevel=checkout reason=\"two words\" "
      "name=\"\" kind=\"a=b\" error=\"line\\nbreak \\\"quoted\\\"\" duration=1.5";
  ASSERT_GE(got[0].size(), want.size());
  EXPECT_EQ(got[0].substr(got[0].size() - want.size()), want) << got[0];
}

TEST_F(LoggingTest, TheLevelStillFiltersLinesWithFields) {
  ASSERT_TRUE(configureLogging("info", "text").ok());
  log::debug("not shown", {{"namespace", "shop"}});
  log::error("shown", {{"namespace", "shop"}});
  auto got = lines();
  ASSERT_EQ(got.size(), 1u) << out_.str();
  EXPECT_NE(got[0].find(" error shown namespace=shop"), std::string::npos) << got[0];
}

TEST(LogKeyFields, SplitANamespacedKeyAndNameTheObject) {
  EXPECT_EQ(log::keyFields("servicelevel", "shop/checkout"),
            (log::Fields{{"namespace", "shop"}, {"servicelevel", "checkout"}}));
  EXPECT_EQ(log::keyFields("name", "cluster-wide"), (log::Fields{{"name", "cluster-wide"}}));
  EXPECT_TRUE(log::keyFields("servicelevel", "").empty());
}

}  // namespace
}  // namespace governor::kube
