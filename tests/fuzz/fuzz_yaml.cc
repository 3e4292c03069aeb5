// parseYamlDocuments on arbitrary text must not crash; every document it returns must go out
// through toYaml and come back as exactly one document with the same JSON: same types (an
// integer stays an integer, a float a float, with the same bits) and the same strings. toYaml
// of what came back must then be the same text again. Documents must be valid JSON (UTF-8).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "kube/yaml.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using governor::kube::parseYamlDocuments;
using governor::kube::toYaml;
using Json = nlohmann::json;

// For messages only: dump() throws on invalid UTF-8 unless told to replace it.
std::string show(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Like ==, but 1 and 1.0 differ, and floats must be the same bits (so -0.0 is not 0.0).
bool same(const Json& a, const Json& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !same(*it, *other)) return false;
      }
      return true;
    }
    case Json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!same(a[i], b[i])) return false;
      }
      return true;
    }
    case Json::value_t::number_float: {
      double x = a.get<double>();
      double y = b.get<double>();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default: return a == b;
  }
}

bool allFinite(const Json& value) {
  if (value.is_number_float()) return std::isfinite(value.get<double>());
  if (!value.is_structured()) return true;
  for (const Json& item : value) {
    if (!allFinite(item)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(governor::fuzz::input(data, size));
  auto docs = parseYamlDocuments(text);
  if (!docs) {
    (void)docs.error().what();
    return 0;
  }
  for (const Json& doc : *docs) {
    FUZZ_CHECK(!doc.is_null(), "a null document was returned");
    // Strings must be valid UTF-8: JSON has no other kind, and dump() (say, to send a
    // manifest to the API server) throws nlohmann::json::type_error on anything else.
    std::string error;
    try {
      (void)doc.dump();
    } catch (const nlohmann::json::exception& e) {
      error = e.what();
    }
    FUZZ_CHECK(error.empty(), "document %s is no valid JSON: %s", show(doc).c_str(), error.c_str());
    // Plain scalars only become finite numbers: ".nan", ".inf" and "1e999" stay strings.
    FUZZ_CHECK(allFinite(doc), "document %s", show(doc).c_str());
    const std::string yaml = toYaml(doc);
    auto back = parseYamlDocuments(yaml);
    FUZZ_CHECK(back.ok(), "document %s\nemitted as\n%s\ndoes not parse: %s", show(doc).c_str(), yaml.c_str(),
               back.ok() ? "" : back.error().what().c_str());
    FUZZ_CHECK(back->size() == 1, "document %s\nemitted as\n%s\nreads back as %zu documents", show(doc).c_str(),
               yaml.c_str(), back->size());
    FUZZ_CHECK(same((*back)[0], doc), "document %s\nemitted as\n%s\nreads back as %s", show(doc).c_str(), yaml.c_str(),
               show((*back)[0]).c_str());
    const std::string again = toYaml((*back)[0]);
    FUZZ_CHECK(again == yaml, "document %s\nemitted as\n%s\nthen as\n%s", show(doc).c_str(), yaml.c_str(),
               again.c_str());
  }
  return 0;
}
