// See cli.h. Every ServiceLevel of every file is checked before anything is printed, so that
// a failing render prints no half of its output.
#include "operator/cli.h"

#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "api/schema.h"
#include "kube/yaml.h"
#include "operator/promql_check.h"
#include "operator/render/render.h"

namespace governor::op {
namespace {

int fail(const std::string& message) {
  std::cerr << "governor-operator: " << message << "\n";
  return 1;
}

// One ServiceLevel of a file, checked.
struct Checked {
  std::string what;  // "FILE: ServiceLevel NAMESPACE/NAME"
  std::optional<ServiceLevel> serviceLevel;
  std::vector<std::string> problems;
};

// Schema first, as the API server does, then the operator's rules; a field the schema
// already refused is not reported twice.
std::vector<std::string> problemsOf(const Json& doc, const std::optional<ServiceLevel>& sl,
                                    const std::vector<std::string>& parseProblems) {
  std::vector<std::string> problems = api::schemaProblems(doc);
  if (doc.value("apiVersion", "") != kApiVersion) {
    problems.push_back("apiVersion: must be " + std::string(kApiVersion) + ", not \"" + doc.value("apiVersion", "") +
                       "\"");
  }
  std::set<std::string> fields;
  for (const auto& p : problems) fields.insert(p.substr(0, p.find(": ")));
  for (const auto& p : parseProblems) {
    if (!fields.contains(p.substr(0, p.find(": ")))) problems.push_back(p);
  }
  if (sl) {
    for (auto& p : queryProblems(*sl)) problems.push_back(std::move(p));
  }
  return problems;
}

// The ServiceLevels of a file ("-": standard input), each checked; an error when the file
// cannot be read, is no YAML or holds no ServiceLevel.
kube::Result<std::vector<Checked>> checkFile(const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) return kube::Error{{0, "NotFound", "cannot read " + file}, ""};
    text << in.rdbuf();
  }
  auto docs = kube::parseYamlDocuments(text.str());
  if (!docs) return kube::Error{{0, "Invalid", file + ": " + docs.error().status.message}, ""};
  std::vector<Checked> out;
  int index = 0;
  for (auto& doc : *docs) {
    ++index;
    if (!doc.is_object() || doc.value("kind", "") != kKind) continue;
    Json withNamespace = doc;
    if (!withNamespace["metadata"].is_object()) withNamespace["metadata"] = Json::object();
    const Json& md = withNamespace["metadata"];
    if (!md.contains("namespace")) withNamespace["metadata"]["namespace"] = "default";
    std::string name = md.value("name", "");
    Checked c;
    c.what = file + ": ServiceLevel " +
             (name.empty() ? "(document " + std::to_string(index) + ")" : md.value("namespace", "") + "/" + name);
    auto parsed = parseServiceLevel(withNamespace);
    c.problems = problemsOf(doc, parsed.serviceLevel, parsed.problems);
    c.serviceLevel = std::move(parsed.serviceLevel);
    out.push_back(std::move(c));
  }
  if (out.empty()) return kube::Error{{0, "Invalid", file + ": no ServiceLevel in it"}, ""};
  return out;
}

// The text of a child's only data entry (the rule file, the dashboard's JSON).
std::string dataOf(const std::vector<Child>& children) {
  if (children.empty()) return "";
  return children.front().object["data"].begin()->get<std::string>();
}

// Rule files of several ServiceLevels as one: the groups of each after the first file's.
std::string mergeRuleFiles(const std::string& merged, const std::string& next) {
  if (merged.empty()) return next;
  auto groups = next.find("\ngroups:\n");
  return groups == std::string::npos ? merged : merged + next.substr(groups + std::string("\ngroups:\n").size());
}

const char* groupName(ChildGroup g) {
  switch (g) {
    case ChildGroup::Autoscaler: return "autoscaling";
    case ChildGroup::Cache: return "cache";
    case ChildGroup::Quota: return "quota";
    case ChildGroup::Rules: return "objectives and alerts";
  }
  return "";
}

}  // namespace

std::string objectsYaml(const ServiceLevel& sl, const std::vector<Child>& children) {
  std::string out;
  for (const auto& child : children) {
    out += "---\n# " + std::string(groupName(child.group)) + " of ServiceLevel " + sl.namespaceName + "/" + sl.name +
           "\n" + kube::toYaml(child.object);
  }
  return out;
}

const std::map<std::string, BacklogApi>& backlogApis() {
  static const std::map<std::string, BacklogApi> apis{{"external", BacklogApi::External},
                                                      {"custom", BacklogApi::Custom}};
  return apis;
}

const std::vector<std::string>& renderParts() {
  static const std::vector<std::string> parts{"hpa", "quota", "cache", "rules", "dashboard"};
  return parts;
}

int render(const RenderCommand& command) {
  auto checked = checkFile(command.file);
  if (!checked) return fail(checked.error().status.message);
  for (const auto& c : *checked) {
    if (c.problems.empty()) continue;
    std::string all;
    for (const auto& p : c.problems) all += "\n  " + p;
    return fail(c.what + " is invalid:" + all);
  }
  const RenderOptions options{.prometheusRuleCrd = command.prometheusRuleCrd, .backlogApi = command.backlogApi};
  const std::map<std::string, std::function<std::vector<Child>(const ServiceLevel&)>> parts{
      {"hpa", [&options](const ServiceLevel& sl) { return renderAutoscaler(sl, options); }},
      {"quota", renderQuota},
      {"cache", renderCache},
      {"rules", [](const ServiceLevel& sl) { return renderRules(sl, {.prometheusRuleCrd = false}); }},
      {"dashboard", renderDashboard},
      {"", [&options](const ServiceLevel& sl) { return op::render(sl, options); }},
  };
  std::string out;
  for (const auto& c : *checked) {
    const ServiceLevel sl = command.rulesNamespaceMatcher ? withNamespaceMatchers(*c.serviceLevel) : *c.serviceLevel;
    auto children = parts.at(command.only)(sl);
    if (command.only == "rules") {
      out = mergeRuleFiles(out, dataOf(children));
    } else if (command.only == "dashboard") {
      out += dataOf(children);
    } else {
      out += objectsYaml(sl, children);
    }
  }
  if (out.empty() && !command.only.empty())
    return fail(command.file + ": no ServiceLevel in it has any " + command.only);
  std::cout << out;
  return 0;
}

int validate(const std::vector<std::string>& files) {
  int status = 0;
  for (const auto& file : files) {
    auto checked = checkFile(file);
    if (!checked) {
      status = fail(checked.error().status.message);
      continue;
    }
    for (const auto& c : *checked) {
      for (const auto& p : c.problems) status = fail(c.what + ": " + p);
      if (c.problems.empty()) std::cout << c.what << ": valid\n";
    }
  }
  return status;
}

}  // namespace governor::op
