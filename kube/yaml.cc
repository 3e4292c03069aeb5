// yaml-cpp behind a JSON face; its exceptions stop here.
#include "kube/yaml.h"

#include <regex>

#include <yaml-cpp/yaml.h>

namespace governor::kube {
namespace {

using Json = nlohmann::json;

// YAML 1.2 core schema for an untagged plain scalar.
Json plainScalar(const std::string& s) {
  static const std::regex integer(R"(^[-+]?[0-9]+$)");
  static const std::regex hex(R"(^0x[0-9a-fA-F]+$)");
  static const std::regex number(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (std::regex_match(s, integer)) return std::stoll(s);
    if (std::regex_match(s, hex)) return std::stoll(s, nullptr, 16);
    if (std::regex_match(s, number)) return std::stod(s);
  } catch (const std::out_of_range&) {
    // Too large for a 64-bit number: keep the text.
  }
  return s;
}

Json toJson(const YAML::Node& node, int depth) {
  if (depth > 200) throw YAML::Exception(node.Mark(), "nesting deeper than 200 levels");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      // "!" marks a quoted scalar, "?" a plain one; an explicit tag like !!str keeps text.
      return node.Tag() == "?" ? plainScalar(node.Scalar()) : Json(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) arr.push_back(toJson(item, depth + 1));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = toJson(kv.second, depth + 1);
      return obj;
    }
  }
  return nullptr;
}

void emit(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : v) emit(out, item);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (s.find('\n') != std::string::npos) {
        out << YAML::Literal << s;
      } else if (!plainScalar(s).is_string()) {
        out << YAML::DoubleQuoted << s;  // "true", "1", "" stay strings when read back
      } else {
        out << s;
      }
      break;
    }
    case Json::value_t::boolean:
      out << v.get<bool>();
      break;
    case Json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << v.dump();
  }
}

}  // namespace

Result<std::vector<Json>> parseYamlDocuments(std::string_view text) {
  try {
    std::vector<Json> docs;
    for (const auto& node : YAML::LoadAll(std::string(text))) {
      auto doc = toJson(node, 0);
      if (!doc.is_null()) docs.push_back(std::move(doc));
    }
    return docs;
  } catch (const YAML::Exception& e) {
    return Error{Status{0, "Invalid", "YAML: " + std::string(e.what())}, ""};
  }
}

std::string toYaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace governor::kube
