// Builds a Config from kubeconfig files (merged as kubectl does) or from the in-cluster
// service account; every problem becomes an Error naming the file and the field.
#include "kube/config.h"

#include "kube/c_ptr.h"
#include "kube/host_port.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

namespace governor::kube {
namespace {

namespace fs = std::filesystem;

Error invalid(std::string context, std::string message) {
  return Error{Status{0, "Invalid", std::move(message)}, std::move(context)};
}

std::string quote(const std::string& text) { return "\"" + text + "\""; }

std::string trimmed(const std::string& text) {
  const char* space = " \t\r\n";
  const auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

// The whole file, or nothing when it cannot be read.
std::optional<std::string> readFile(const fs::path& path) {
  std::error_code ignored;
  if (fs::is_directory(path, ignored)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// map[key], or a null node when `map` is not a map or has no such key.
YAML::Node child(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return YAML::Node();
  const YAML::Node value = map[key];
  return value.IsDefined() ? value : YAML::Node();
}

// One map of a kubeconfig file (the top level, or a named cluster, context or user), read
// with errors that name the file and the field, e.g. "users[admin].token".
class Fields {
 public:
  Fields(const YAML::Node& map, std::string where, std::string file)
      : map_(map), where_(std::move(where)), file_(std::move(file)) {}

  Error error(const std::string& key, const std::string& problem) const {
    const std::string field = where_.empty() ? key : where_ + "." + key;
    return invalid("kubeconfig " + file_, field + ": " + problem);
  }

  // Empty when absent or null.
  Result<std::string> string(const std::string& key) const {
    const YAML::Node node = child(map_, key);
    if (node.IsNull()) return std::string();
    if (!node.IsScalar()) return error(key, "not a string");
    return node.Scalar();
  }

  // False when absent or null.
  Result<bool> flag(const std::string& key) const {
    const YAML::Node node = child(map_, key);
    bool value = false;
    if (node.IsNull()) return value;
    if (!YAML::convert<bool>::decode(node, value)) return error(key, "not a boolean");
    return value;
  }

  // A file reference, resolved against the directory of this file; empty when absent.
  Result<std::string> path(const std::string& key) const {
    auto value = string(key);
    if (!value || value->empty()) return value;
    const fs::path path(*value);
    return (path.is_relative() ? fs::path(file_).parent_path() / path : path).string();
  }

  // The bytes given inline as base64 under `dataKey` or in the file named under `fileKey`;
  // empty when neither is set.
  Result<std::string> content(const std::string& dataKey, const std::string& fileKey) const {
    auto data = string(dataKey);
    if (!data) return data;
    auto file = path(fileKey);
    if (!file) return file;
    if (!data->empty() && !file->empty()) return error(dataKey, "set together with " + fileKey);
    if (!data->empty()) {
      auto decoded = decodeBase64(*data);
      if (!decoded) return error(dataKey, "invalid base64");
      return *decoded;
    }
    if (file->empty()) return std::string();
    auto text = readFile(*file);
    if (!text) return error(fileKey, "cannot read " + quote(*file));
    return *text;
  }

 private:
  YAML::Node map_;
  std::string where_;  // "clusters[c]"; empty for the top level
  std::string file_;
};

// The named entries of all files; the first file to define a name wins.
struct Merged {
  std::string currentContext;
  std::map<std::string, Fields> clusters;
  std::map<std::string, Fields> contexts;
  std::map<std::string, Fields> users;
};

// Adds the entries of one list of `doc` (e.g. "clusters", each {name, cluster: {...}})
// whose names earlier files did not define.
Outcome collect(const YAML::Node& doc, const std::string& list, const std::string& body, const std::string& file,
                std::map<std::string, Fields>& into) {
  const std::string context = "kubeconfig " + file;
  const YAML::Node entries = child(doc, list);
  if (entries.IsNull()) return Ok{};
  if (!entries.IsSequence()) return invalid(context, list + ": not a list");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node name = child(entries[i], "name");
    if (!name.IsScalar() || name.Scalar().empty()) {
      return invalid(context, list + "[" + std::to_string(i) + "].name: missing");
    }
    const std::string where = list + "[" + name.Scalar() + "]";
    if (!seen.insert(name.Scalar()).second) return invalid(context, where + ": defined twice");
    const YAML::Node fields = child(entries[i], body);
    if (!fields.IsNull() && !fields.IsMap()) {
      return invalid(context, where + "." + body + ": not a map");
    }
    into.try_emplace(name.Scalar(), fields, where, file);
  }
  return Ok{};
}

Outcome merge(const KubeconfigFile& file, Merged& merged) {
  YAML::Node doc;
  try {
    doc = YAML::Load(file.text);
  } catch (const YAML::Exception& e) {
    return invalid("kubeconfig " + file.path, e.what());
  }
  if (doc.IsNull()) return Ok{};
  if (!doc.IsMap()) return invalid("kubeconfig " + file.path, "the top level is not a map");
  auto current = Fields(doc, "", file.path).string("current-context");
  if (!current) return current.error();
  if (merged.currentContext.empty()) merged.currentContext = *current;
  Outcome outcome = collect(doc, "clusters", "cluster", file.path, merged.clusters);
  if (outcome) outcome = collect(doc, "contexts", "context", file.path, merged.contexts);
  if (outcome) outcome = collect(doc, "users", "user", file.path, merged.users);
  return outcome;
}

bool isHttpUrl(const std::string& server) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (server.starts_with(scheme) && server.size() > scheme.size()) return true;
  }
  return false;
}

Outcome applyCluster(const Fields& cluster, const std::string& name, Config& config) {
  auto server = cluster.string("server");
  if (!server) return server.error();
  if (server->empty()) return cluster.error("server", "cluster " + quote(name) + " has no server");
  if (!isHttpUrl(*server)) {
    return cluster.error("server", quote(*server) + " is not an https:// or http:// URL");
  }
  // config.h promises no trailing slash: request paths are appended as "/api/...".
  std::string base = *server;
  while (base.ends_with('/')) base.pop_back();
  if (!isHttpUrl(base)) return cluster.error("server", quote(*server) + " has no host");
  if (!urlHostPort(base)) {
    return cluster.error("server",
                         quote(*server) + " has no valid host:port (the port must be a number from 1 to 65535)");
  }
  auto ca = cluster.content("certificate-authority-data", "certificate-authority");
  if (!ca) return ca.error();
  auto insecure = cluster.flag("insecure-skip-tls-verify");
  if (!insecure) return insecure.error();
  config.server = std::move(base);
  config.caPem = *ca;
  config.insecureSkipTlsVerify = *insecure;
  return Ok{};
}

Outcome applyUser(const Fields& user, Config& config) {
  auto cert = user.content("client-certificate-data", "client-certificate");
  if (!cert) return cert.error();
  auto key = user.content("client-key-data", "client-key");
  if (!key) return key.error();
  if (!cert->empty() && key->empty()) {
    return user.error("client-key", "missing but client-certificate is set");
  }
  if (cert->empty() && !key->empty()) {
    return user.error("client-certificate", "missing but client-key is set");
  }
  auto token = user.string("token");
  if (!token) return token.error();
  auto tokenFile = user.path("tokenFile");
  if (!tokenFile) return tokenFile.error();
  if (!token->empty() && !tokenFile->empty()) {
    return user.error("tokenFile", "set together with token");
  }
  config.clientCertPem = *cert;
  config.clientKeyPem = *key;
  config.token = *token;
  if (tokenFile->empty()) return Ok{};
  auto text = readFile(*tokenFile);
  if (!text) return user.error("tokenFile", "cannot read " + quote(*tokenFile));
  config.token = trimmed(*text);
  if (config.token.empty()) return user.error("tokenFile", quote(*tokenFile) + " is empty");
  config.tokenFile = *tokenFile;
  return Ok{};
}

Outcome applyContext(const Fields& context, const Merged& merged, Config& config) {
  auto clusterName = context.string("cluster");
  if (!clusterName) return clusterName.error();
  if (clusterName->empty()) return context.error("cluster", "missing");
  const auto cluster = merged.clusters.find(*clusterName);
  if (cluster == merged.clusters.end()) {
    return context.error("cluster", "cluster " + quote(*clusterName) + " not found");
  }
  auto userName = context.string("user");
  if (!userName) return userName.error();
  const auto user = merged.users.find(*userName);
  if (!userName->empty() && user == merged.users.end()) {
    return context.error("user", "user " + quote(*userName) + " not found");
  }
  auto namespaceName = context.string("namespace");
  if (!namespaceName) return namespaceName.error();
  if (!namespaceName->empty()) config.namespaceName = *namespaceName;
  Outcome outcome = applyCluster(cluster->second, *clusterName, config);
  if (outcome && !userName->empty()) outcome = applyUser(user->second, config);
  return outcome;
}

}  // namespace

Result<Config> parseKubeconfig(const std::vector<KubeconfigFile>& files, const std::string& context) {
  Merged merged;
  std::string paths;
  for (const auto& file : files) {
    if (Outcome outcome = merge(file, merged); !outcome) return outcome.error();
    paths += (paths.empty() ? "" : ":") + file.path;
  }
  const std::string& name = context.empty() ? merged.currentContext : context;
  if (name.empty()) {
    return invalid("kubeconfig " + paths, "current-context: empty and no context given");
  }
  const auto found = merged.contexts.find(name);
  if (found == merged.contexts.end()) {
    return invalid("kubeconfig " + paths, "context " + quote(name) + " not found");
  }
  Config config;
  Outcome outcome = applyContext(found->second, merged, config);
  if (!outcome) return outcome.error();
  return config;
}

Result<Config> loadKubeconfig(const std::string& pathList, const std::string& context) {
  std::vector<KubeconfigFile> files;
  std::istringstream list(pathList);
  std::string path;
  while (std::getline(list, path, ':')) {
    std::error_code missing;
    if (path.empty() || !fs::exists(path, missing)) continue;
    auto text = readFile(path);
    if (!text) return invalid("kubeconfig " + path, "cannot read the file");
    files.push_back({path, std::move(*text)});
  }
  if (files.empty()) return invalid("kubeconfig " + pathList, "no such file");
  return parseKubeconfig(files, context);
}

Result<Config> loadInCluster(const Getenv& getenv, const std::string& saDir) {
  const std::string where = "in-cluster config";
  auto host = getenv("KUBERNETES_SERVICE_HOST");
  if (!host || host->empty()) return invalid(where, "KUBERNETES_SERVICE_HOST is not set");
  auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!port || port->empty()) return invalid(where, "KUBERNETES_SERVICE_PORT is not set");
  // A non-empty file of the service account directory, or an error naming it.
  auto read = [&](const std::string& name) -> Result<std::string> {
    const std::string path = (fs::path(saDir) / name).string();
    auto text = readFile(path);
    if (!text) return invalid(where, "cannot read " + quote(path));
    if (trimmed(*text).empty()) return invalid(where, quote(path) + " is empty");
    return *text;
  };
  auto token = read("token");
  if (!token) return token.error();
  auto ca = read("ca.crt");
  if (!ca) return ca.error();
  auto namespaceName = read("namespace");
  if (!namespaceName) return namespaceName.error();
  Config config;
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  config.caPem = *ca;
  config.token = trimmed(*token);
  config.tokenFile = (fs::path(saDir) / "token").string();
  config.namespaceName = trimmed(*namespaceName);
  return config;
}

Result<Config> loadDefaultConfig(const std::string& kubeconfigFlag, const std::string& context) {
  const Getenv getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return value;
  };
  if (!kubeconfigFlag.empty()) return loadKubeconfig(kubeconfigFlag, context);
  if (auto list = getenv("KUBECONFIG")) return loadKubeconfig(*list, context);
  if (getenv("KUBERNETES_SERVICE_HOST")) return loadInCluster(getenv);
  auto home = getenv("HOME");
  if (!home) {
    return invalid("kubeconfig", "no --kubeconfig, KUBECONFIG, in-cluster service or HOME");
  }
  return loadKubeconfig(*home + "/.kube/config", context);
}

std::optional<std::string> decodeBase64(const std::string& text) {
  CPtr<EVP_ENCODE_CTX, EVP_ENCODE_CTX_free> ctx(EVP_ENCODE_CTX_new());
  if (!ctx) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  int length = 0;
  int tail = 0;
  EVP_DecodeInit(ctx.get());
  if (EVP_DecodeUpdate(ctx.get(), bytes, &length, reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), bytes + length, &tail) < 0) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(length) + static_cast<std::size_t>(tail));
  return out;
}

}  // namespace governor::kube
