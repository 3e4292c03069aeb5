// Table tests of the parser and the renderer together, from files: every
// testdata/<case>.input.yaml is a ServiceLevel as a user writes it, and beside it either
// <case>.expected.yaml, what `governor-operator render -f <case>.input.yaml` prints for it
// (compared as parsed YAML, so only a difference in the objects counts), or <case>.problems.txt,
// the parser's problems with it, one a line. GOVERNOR_UPDATE_TESTDATA=1 rewrites the expected
// files from what the code does now (testdata/README.md).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/servicelevel.h"
#include "kube/yaml.h"
#include "operator/cli.h"
#include "operator/render/render.h"

namespace governor::op {
namespace {

namespace fs = std::filesystem;

fs::path testdata() {
  const char* env = std::getenv("GOVERNOR_SOURCE_DIR");
  return fs::path(env && *env ? env : GOVERNOR_SOURCE_DIR) / "tests" / "unit" / "operator" / "testdata";
}

bool updating() {
  const char* env = std::getenv("GOVERNOR_UPDATE_TESTDATA");
  return env && std::string(env) == "1";
}

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::trunc);
  out << text;
  EXPECT_TRUE(out.good()) << "cannot write " << file;
}

constexpr std::string_view kInput = ".input.yaml";

// The cases: the names of the *.input.yaml files, in order.
std::vector<std::string> cases() {
  std::vector<std::string> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(testdata(), error)) {
    const std::string file = entry.path().filename().string();
    if (file.ends_with(kInput)) out.push_back(file.substr(0, file.size() - kInput.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string lines(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += p + "\n";
  return out;
}

class RenderTableTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RenderTableTest, RendersWhatTheExpectedFileSays) {
  const std::string name = GetParam();
  const fs::path input = testdata() / (name + std::string(kInput));
  const fs::path expectedFile = testdata() / (name + ".expected.yaml");
  const fs::path problemsFile = testdata() / (name + ".problems.txt");
  auto docs = kube::parseYamlDocuments(read(input));
  ASSERT_TRUE(docs.ok()) << input << ": " << docs.error().status.message;
  ASSERT_EQ(docs->size(), 1u) << input << ": one ServiceLevel per case";
  EXPECT_EQ(docs->front().value("apiVersion", ""), api::kApiVersion) << input;
  EXPECT_EQ(docs->front().value("kind", ""), api::kKind) << input;

  auto parsed = api::parseServiceLevel(docs->front());
  if (!parsed.serviceLevel) {
    const std::string got = lines(parsed.problems);
    if (updating()) {
      write(problemsFile, got);
      fs::remove(expectedFile);
      return;
    }
    EXPECT_FALSE(fs::exists(expectedFile)) << name << " is invalid, yet has an expected rendering";
    ASSERT_TRUE(fs::exists(problemsFile)) << name << " is invalid; its problems (for " << problemsFile << "):\n" << got;
    EXPECT_EQ(got, read(problemsFile)) << "the parser's problems with " << input;
    return;
  }
  EXPECT_TRUE(parsed.problems.empty());
  const ServiceLevel& sl = *parsed.serviceLevel;
  const std::string got = objectsYaml(sl, render(sl));
  if (updating()) {
    write(expectedFile, got);
    fs::remove(problemsFile);
    return;
  }
  EXPECT_FALSE(fs::exists(problemsFile)) << name << " is valid, yet has expected problems";
  ASSERT_TRUE(fs::exists(expectedFile)) << name << " has no " << expectedFile << "; it renders as:\n" << got;
  auto expected = kube::parseYamlDocuments(read(expectedFile));
  ASSERT_TRUE(expected.ok()) << expectedFile << ": " << expected.error().status.message;
  auto rendered = kube::parseYamlDocuments(got);
  ASSERT_TRUE(rendered.ok()) << rendered.error().status.message;
  const Json want(*expected), have(*rendered);
  EXPECT_TRUE(want == have) << "what " << input << " renders as differs from " << expectedFile
                            << ".\nAs a JSON patch from the expected to the rendered objects:\n"
                            << Json::diff(want, have).dump(2)
                            << "\nRendered (review it; GOVERNOR_UPDATE_TESTDATA=1 writes it to the file):\n"
                            << got;
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string out = info.param;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Testdata, RenderTableTest, ::testing::ValuesIn(cases()), testName);

TEST(RenderTableFilesTest, EveryExpectedFileHasItsInput) {
  const auto names = cases();
  EXPECT_GE(names.size(), 8u) << "cases in " << testdata();
  for (const auto& entry : fs::directory_iterator(testdata())) {
    const std::string file = entry.path().filename().string();
    for (std::string_view suffix : {std::string_view(".expected.yaml"), std::string_view(".problems.txt")}) {
      if (!file.ends_with(suffix)) continue;
      const std::string name = file.substr(0, file.size() - suffix.size());
      EXPECT_TRUE(std::binary_search(names.begin(), names.end(), name)) << file << " has no " << name << kInput;
    }
  }
}

}  // namespace
}  // namespace governor::op
