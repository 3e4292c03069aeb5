// See schema.h. The messages follow the API server's wording (k8s.io/apiextensions-apiserver
// and apimachinery's field errors), so that a file checked here reads like kubectl's answer.
#include "api/schema.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>

#include "kube/yaml.h"

namespace governor::api {

extern const char* const kCrdYaml;  // crd.cc, generated from crds/ by CMake

namespace {

std::string inQuotes(const std::string& s) { return "\"" + s + "\""; }

// Edit distance, for "did you mean" on an unknown field.
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same =
          std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknownField(const std::string& key, const Json& properties) {
  std::string message = "unknown field " + inQuotes(key);
  std::string best;
  size_t bestDistance = 3;  // suggest only what is at most two edits away
  for (const auto& [name, _] : properties.items()) {
    if (size_t d = distance(key, name); d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best.empty() ? message : message + ", did you mean " + inQuotes(best) + "?";
}

size_t characters(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string number(const Json& n) { return n.dump(); }

class Checker {
 public:
  std::vector<std::string> problems;

  void check(const Json& schema, const Json& value, const std::string& path) {
    if (value.is_null()) return;
    if (!typeMatches(schema, value, path)) return;
    if (auto e = schema.find("enum"); e != schema.end() && std::find(e->begin(), e->end(), value) == e->end()) {
      std::string supported;
      for (const auto& v : *e) supported += (supported.empty() ? "" : ", ") + v.dump();
      problem(path, "Unsupported value: " + value.dump() + ": supported values: " + supported);
      return;
    }
    if (value.is_string()) checkString(schema, value.get<std::string>(), path);
    if (value.is_number()) checkNumber(schema, value, path);
    if (value.is_object()) checkObject(schema, value, path);
    if (value.is_array()) {
      if (auto max = schema.find("maxItems"); max != schema.end() && value.size() > max->get<size_t>()) {
        problem(path, "Too many: " + std::to_string(value.size()) + ": must have at most " + number(*max) + " items");
      }
      if (auto items = schema.find("items"); items != schema.end()) {
        for (size_t i = 0; i < value.size(); ++i) check(*items, value[i], path + "[" + std::to_string(i) + "]");
      }
    }
  }

 private:
  void problem(const std::string& path, const std::string& what) { problems.push_back(path + ": " + what); }

  bool typeMatches(const Json& schema, const Json& value, const std::string& path) {
    if (schema.value("x-kubernetes-int-or-string", false)) {
      if (value.is_number_integer() || value.is_string()) return true;
      problem(path, "Invalid value: " + value.dump() + ": must be an integer or a string");
      return false;
    }
    const std::string type = schema.value("type", "");
    bool ok = type.empty() || (type == "object" && value.is_object()) || (type == "array" && value.is_array()) ||
              (type == "string" && value.is_string()) || (type == "integer" && value.is_number_integer()) ||
              (type == "number" && value.is_number()) || (type == "boolean" && value.is_boolean());
    if (!ok) problem(path, "Invalid value: " + value.dump() + ": " + path + " in body must be of type " + type);
    return ok;
  }

  void checkString(const Json& schema, const std::string& s, const std::string& path) {
    if (auto max = schema.find("maxLength"); max != schema.end() && characters(s) > max->get<size_t>()) {
      problem(path, "Too long: may not be more than " + number(*max) + " bytes");
    }
    if (auto min = schema.find("minLength"); min != schema.end() && characters(s) < min->get<size_t>()) {
      problem(path, "Invalid value: " + inQuotes(s) + ": " + path + " in body should be at least " + number(*min) +
                        " chars long");
    }
    if (auto pattern = schema.find("pattern"); pattern != schema.end()) {
      // Go's regexp finds the pattern anywhere, as regex_search does; the CRD's are anchored.
      if (!std::regex_search(s, std::regex(pattern->get<std::string>()))) {
        problem(path, "Invalid value: " + inQuotes(s) + ": " + path + " in body should match '" +
                          pattern->get<std::string>() + "'");
      }
    }
  }

  void checkNumber(const Json& schema, const Json& n, const std::string& path) {
    if (auto min = schema.find("minimum"); min != schema.end() && n.get<double>() < min->get<double>()) {
      problem(path, "Invalid value: " + n.dump() + ": " + path + " in body should be greater than or equal to " +
                        number(*min));
    }
    if (auto max = schema.find("maximum"); max != schema.end() && n.get<double>() > max->get<double>()) {
      problem(path,
              "Invalid value: " + n.dump() + ": " + path + " in body should be less than or equal to " + number(*max));
    }
  }

  void checkObject(const Json& schema, const Json& object, const std::string& path) {
    const std::string prefix = path.empty() ? "" : path + ".";
    if (auto max = schema.find("maxProperties"); max != schema.end() && object.size() > max->get<size_t>()) {
      problem(path, "Too many: " + std::to_string(object.size()) + ": must have at most " + number(*max) + " items");
    }
    for (const auto& key : schema.value("required", Json::array())) {
      auto it = object.find(key.get<std::string>());
      if (it == object.end() || it->is_null()) problem(prefix + key.get<std::string>(), "Required value");
    }
    const Json properties = schema.value("properties", Json::object());
    const auto additional = schema.find("additionalProperties");
    // The API server checks metadata as ObjectMeta, beyond the schema's few fields.
    const bool open = schema.value("x-kubernetes-preserve-unknown-fields", false) || path == "metadata";
    for (const auto& [key, value] : object.items()) {
      if (auto p = properties.find(key); p != properties.end()) {
        check(*p, value, prefix + key);
      } else if (additional != schema.end() && additional->is_object()) {
        check(*additional, value, prefix + key);
      } else if (!open) {
        problem(prefix + key, unknownField(key, properties));
      }
    }
  }
};

}  // namespace

const Json& crd() {
  static const Json parsed = [] {
    auto docs = kube::parseYamlDocuments(kCrdYaml);
    // The CRD is compiled in and tested: unreadable, it is a broken build.
    if (!docs || docs->size() != 1) std::abort();
    return (*docs)[0];
  }();
  return parsed;
}

const Json& schema() {
  static const Json openApi = [] {
    for (const auto& version : crd()["spec"]["versions"]) {
      if (version.value("name", "") == kVersion) return version["schema"]["openAPIV3Schema"];
    }
    std::abort();
  }();
  return openApi;
}

std::vector<std::string> schemaProblems(const Json& object) {
  Checker checker;
  checker.check(schema(), object, "");
  return checker.problems;
}

}  // namespace governor::api
