// Config loading: every kubeconfig field in its inline and file forms, kubectl's merge of
// several files, every error naming its file and field, in-cluster and default selection.
#include "kube/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace governor::kube {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// base64 of "CA-PEM", "CERT-PEM" and "KEY-PEM".
constexpr const char* kCaData = "Q0EtUEVN";
constexpr const char* kCertData = "Q0VSVC1QRU0=";
constexpr const char* kKeyData = "S0VZLVBFTQ==";

// A fresh directory under the system's temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("governor-config-test-" + std::to_string(std::random_device()()))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& relative) const { return (path_ / relative).string(); }

  // Writes `text` to `relative` (creating directories) and returns the file's path.
  std::string write(const std::string& relative, const std::string& text) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }

 private:
  fs::path path_;
};

// Sets (or, given nullopt, unsets) an environment variable until the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void set(const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

class KubeconfigTest : public ::testing::Test {
 protected:
  Result<Config> parse(const std::string& text, const std::string& context = "") {
    return parseKubeconfig({{configPath_, text}}, context);
  }

  TempDir dir_;
  const std::string configPath_ = dir_.path("kube/config");
};

TEST_F(KubeconfigTest, InlineDataFields) {
  const auto config = parse(std::string() + R"(
current-context: dev
clusters:
- name: c
  cluster:
    server: https://api.example:6443/
    certificate-authority-data: )" +
                            kCaData + R"(
contexts:
- name: dev
  context: {cluster: c, user: u, namespace: team}
users:
- name: u
  user:
    client-certificate-data: )" +
                            kCertData + R"(
    client-key-data: )" + kKeyData +
                            R"(
    token: secret
)");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://api.example:6443");
  EXPECT_EQ(config->caPem, "CA-PEM");
  EXPECT_FALSE(config->insecureSkipTlsVerify);
  EXPECT_EQ(config->clientCertPem, "CERT-PEM");
  EXPECT_EQ(config->clientKeyPem, "KEY-PEM");
  EXPECT_EQ(config->token, "secret");
  EXPECT_EQ(config->tokenFile, "");
  EXPECT_EQ(config->namespaceName, "team");
}

TEST_F(KubeconfigTest, FileFieldsResolveAgainstTheKubeconfigsDirectory) {
  dir_.write("kube/certs/ca.crt", "CA-FILE");
  dir_.write("kube/certs/tls.crt", "CERT-FILE");
  const std::string keyPath = dir_.write("elsewhere/tls.key", "KEY-FILE");
  dir_.write("kube/token", "file-token\n");
  const auto config = parse(R"(
current-context: dev
clusters: [{name: c, cluster: {server: "https://h", certificate-authority: certs/ca.crt}}]
contexts: [{name: dev, context: {cluster: c, user: u}}]
users:
- name: u
  user: {client-certificate: certs/tls.crt, client-key: )" +
                            keyPath + R"(, tokenFile: token}
)");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->caPem, "CA-FILE");
  EXPECT_EQ(config->clientCertPem, "CERT-FILE");
  EXPECT_EQ(config->clientKeyPem, "KEY-FILE");
  EXPECT_EQ(config->token, "file-token");
  EXPECT_EQ(config->tokenFile, dir_.path("kube/token"));
}

TEST_F(KubeconfigTest, ContextArgumentWinsOverCurrentContext) {
  const auto config = parse(R"(
current-context: dev
clusters:
- {name: c, cluster: {server: "https://c"}}
- {name: p, cluster: {server: "http://p:8080", insecure-skip-tls-verify: true}}
contexts:
- {name: dev, context: {cluster: c}}
- {name: prod, context: {cluster: p}}
)",
                            "prod");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "http://p:8080");
  EXPECT_TRUE(config->insecureSkipTlsVerify);
  EXPECT_EQ(config->namespaceName, "default");
  EXPECT_EQ(config->caPem, "");
  EXPECT_EQ(config->token, "") << "a context without a user has no credentials";
  EXPECT_EQ(config->clientCertPem, "");
}

TEST_F(KubeconfigTest, NullFieldsCountAsAbsent) {
  const auto config = parse(R"(
current-context: dev
clusters: [{name: c, cluster: {server: "https://c", certificate-authority-data: ~}}]
contexts: [{name: dev, context: {cluster: c, namespace: }}]
users:
)");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->caPem, "");
  EXPECT_EQ(config->namespaceName, "default");
}

struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string message;  // a substring of the error's message: the field, then the problem
};

void PrintTo(const ErrorCase& errorCase, std::ostream* out) { *out << errorCase.name; }

// Context dev with cluster c (and with user u, in kHead).
const std::string kContext = "current-context: dev\ncontexts: [{name: dev, context: {cluster: c}}]\n";
const std::string kCluster = "clusters: [{name: c, cluster: {server: \"https://x\"}}]\n";
const std::string kHead = "current-context: dev\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n" + kCluster;

std::vector<ErrorCase> errorCases() {
  return {
      {"Syntax", "clusters: [\n", "yaml-cpp: error at line"},
      {"TopLevelNotAMap", "- a\n", "the top level is not a map"},
      {"ListNotAList", "clusters: {c: {}}\n", "clusters: not a list"},
      {"EntryWithoutName", "clusters: [{cluster: {server: \"https://x\"}}]\n", "clusters[0].name: missing"},
      {"DuplicateName", "contexts: [{name: dev, context: {}}, {name: dev, context: {}}]\n",
       "contexts[dev]: defined twice"},
      {"BodyNotAMap", "users: [{name: u, user: token}]\n", "users[u].user: not a map"},
      {"CurrentContextNotAString", "current-context: [dev]\n", "current-context: not a string"},
      {"CurrentContextEmpty", "current-context: \"\"\n" + kCluster, "current-context: empty and no context given"},
      {"ContextNotFound", "current-context: dev\n" + kCluster, "context \"dev\" not found"},
      {"ContextWithoutCluster", "current-context: dev\ncontexts: [{name: dev, context: {user: u}}]\n",
       "contexts[dev].cluster: missing"},
      {"ClusterNotFound", kContext, "contexts[dev].cluster: cluster \"c\" not found"},
      {"UserNotFound", kHead, "contexts[dev].user: user \"u\" not found"},
      {"NamespaceNotAString",
       "current-context: dev\ncontexts: [{name: dev, context: {cluster: c, namespace: {a: b}}}]\n" + kCluster,
       "contexts[dev].namespace: not a string"},
      {"NoServer", kContext + "clusters: [{name: c, cluster: {}}]\n",
       "clusters[c].server: cluster \"c\" has no server"},
      {"ClusterWithoutBody", kContext + "clusters: [{name: c}]\n", "clusters[c].server: cluster \"c\" has no server"},
      {"ServerWithoutScheme", kContext + "clusters: [{name: c, cluster: {server: \"api:6443\"}}]\n",
       "clusters[c].server: \"api:6443\" is not an https:// or http:// URL"},
      {"ServerWithoutHost", kContext + "clusters: [{name: c, cluster: {server: \"https://\"}}]\n",
       "clusters[c].server: \"https://\" is not an https:// or http:// URL"},
      {"ServerOnlySlashesAfterScheme", kContext + "clusters: [{name: c, cluster: {server: \"https:///\"}}]\n",
       "clusters[c].server: \"https:///\" has no host"},
      // Fuzzing's crash (issue 14): a port that is no number ended the process in std::stoi.
      {"ServerPortNotANumber", kContext + "clusters: [{name: c, cluster: {server: \"https://h:abc\"}}]\n",
       "clusters[c].server: \"https://h:abc\" has no valid host:port"},
      {"ServerPortTooLarge", kContext + "clusters: [{name: c, cluster: {server: \"https://h:99999/api\"}}]\n",
       "clusters[c].server: \"https://h:99999/api\" has no valid host:port"},
      {"ServerUnclosedBracket", kContext + "clusters: [{name: c, cluster: {server: \"https://[fd00::1:6443\"}}]\n",
       "has no valid host:port"},
      {"ServerNotAString", kContext + "clusters: [{name: c, cluster: {server: [a]}}]\n",
       "clusters[c].server: not a string"},
      {"CaDataNotBase64",
       kContext + "clusters: [{name: c, cluster: {server: \"https://x\", "
                  "certificate-authority-data: \"no!\"}}]\n",
       "clusters[c].certificate-authority-data: invalid base64"},
      {"CaFileMissing",
       kContext + "clusters: [{name: c, cluster: {server: \"https://x\", certificate-authority: ca.crt}}]\n",
       "clusters[c].certificate-authority: cannot read \""},
      {"CaDataAndFile",
       kContext +
           "clusters: [{name: c, cluster: {server: \"https://x\", certificate-authority: ca.crt, "
           "certificate-authority-data: " +
           kCaData + "}}]\n",
       "clusters[c].certificate-authority-data: set together with certificate-authority"},
      {"InsecureNotABoolean",
       kContext + "clusters: [{name: c, cluster: {server: \"https://x\", "
                  "insecure-skip-tls-verify: maybe}}]\n",
       "clusters[c].insecure-skip-tls-verify: not a boolean"},
      {"CertDataNotBase64",
       "current-context: dev\ncontexts: [{name: dev, context: {cluster: c, user: admin}}]\n" + kCluster +
           "users: [{name: admin, user: {client-certificate-data: \"a\", client-key-data: " + kKeyData + "}}]\n",
       "users[admin].client-certificate-data: invalid base64"},
      {"KeyDataNotBase64",
       kHead + "users: [{name: u, user: {client-certificate-data: " + kCertData + ", client-key-data: \"#\"}}]\n",
       "users[u].client-key-data: invalid base64"},
      {"CertWithoutKey", kHead + "users: [{name: u, user: {client-certificate-data: " + kCertData + "}}]\n",
       "users[u].client-key: missing but client-certificate is set"},
      {"KeyWithoutCert", kHead + "users: [{name: u, user: {client-key-data: " + kKeyData + "}}]\n",
       "users[u].client-certificate: missing but client-key is set"},
      {"CertFileMissing",
       kHead + "users: [{name: u, user: {client-certificate: tls.crt, client-key-data: " + kKeyData + "}}]\n",
       "users[u].client-certificate: cannot read \""},
      {"KeyFileMissing",
       kHead + "users: [{name: u, user: {client-certificate-data: " + kCertData + ", client-key: tls.key}}]\n",
       "users[u].client-key: cannot read \""},
      {"CertDataAndFile",
       kHead +
           "users: [{name: u, user: {client-certificate: tls.crt, "
           "client-certificate-data: " +
           kCertData + "}}]\n",
       "users[u].client-certificate-data: set together with client-certificate"},
      {"TokenNotAString", kHead + "users: [{name: u, user: {token: {a: b}}}]\n", "users[u].token: not a string"},
      {"TokenFileMissing", kHead + "users: [{name: u, user: {tokenFile: token}}]\n",
       "users[u].tokenFile: cannot read \""},
      {"TokenFileEmpty", kHead + "users: [{name: u, user: {tokenFile: empty-token}}]\n", "users[u].tokenFile: \""},
      {"TokenAndTokenFile", kHead + "users: [{name: u, user: {token: t, tokenFile: empty-token}}]\n",
       "users[u].tokenFile: set together with token"},
  };
}

class KubeconfigErrorTest : public KubeconfigTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(KubeconfigErrorTest, NamesTheFileAndTheField) {
  dir_.write("kube/empty-token", " \n");
  const auto config = parse(GetParam().yaml);
  ASSERT_FALSE(config.ok()) << GetParam().yaml;
  EXPECT_EQ(config.error().context, "kubeconfig " + configPath_);
  EXPECT_EQ(config.error().status.reason, "Invalid");
  EXPECT_EQ(config.error().status.code, 0);
  EXPECT_THAT(config.error().status.message, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(Kubeconfig, KubeconfigErrorTest, ::testing::ValuesIn(errorCases()),
                         [](const auto& info) { return info.param.name; });

// config.h promises a server without trailing slash; fuzzing found "https://k//" kept one.
TEST_F(KubeconfigTest, StripsEveryTrailingSlashOfTheServer) {
  for (const std::string server : {"https://k//", "https://k:6443///", "http://k/base//"}) {
    SCOPED_TRACE(server);
    const auto config = parse(kContext + "clusters: [{name: c, cluster: {server: \"" + server + "\"}}]\n");
    ASSERT_TRUE(config.ok()) << config.error().what();
    EXPECT_FALSE(config->server.ends_with('/')) << config->server;
    EXPECT_EQ(config->server + std::string(server.size() - config->server.size(), '/'), server);
  }
}

TEST_F(KubeconfigTest, ReadErrorsNameTheResolvedPath) {
  const auto config = parse(kHead + "users: [{name: u, user: {tokenFile: sub/token}}]\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().status.message, "users[u].tokenFile: cannot read \"" + dir_.path("kube/sub/token") + "\"");
  EXPECT_EQ(config.error().what(), "kubeconfig " + configPath_ + ": Invalid: " + config.error().status.message);
}

// Three files in three directories: a defines cluster "shared" and user "u"; b sets
// current-context "dev" and defines "shared" again; c redefines "dev" and "u".
class KubeconfigMergeTest : public ::testing::Test {
 protected:
  KubeconfigMergeTest() {
    dir_.write("a/ca.crt", "CA-A");
    dir_.write("b/ca.crt", "CA-B");
    dir_.write("c/ca.crt", "CA-C");
    a_ = {dir_.path("a/config"), R"(
clusters: [{name: shared, cluster: {server: "https://a", certificate-authority: ca.crt}}]
users: [{name: u, user: {token: from-a}}]
)"};
    b_ = {dir_.path("b/config"), R"(
current-context: dev
clusters:
- {name: shared, cluster: {server: "https://b"}}
- {name: only-b, cluster: {server: "https://only-b", certificate-authority: ca.crt}}
contexts: [{name: dev, context: {cluster: shared, user: u, namespace: from-b}}]
)"};
    c_ = {dir_.path("c/config"), R"(
current-context: other
contexts:
- {name: dev, context: {cluster: only-b, namespace: from-c}}
- {name: other, context: {cluster: only-b, user: v}}
users:
- {name: u, user: {token: from-c}}
- {name: v, user: {token: from-c-v}}
)"};
  }

  TempDir dir_;
  KubeconfigFile a_, b_, c_;
};

TEST_F(KubeconfigMergeTest, FirstFileToDefineANameWins) {
  const auto config = parseKubeconfig({a_, b_, c_});
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://a") << "cluster shared from a";
  EXPECT_EQ(config->caPem, "CA-A") << "resolved against a's directory";
  EXPECT_EQ(config->token, "from-a") << "user u from a";
  EXPECT_EQ(config->namespaceName, "from-b") << "context dev from b";
}

TEST_F(KubeconfigMergeTest, FileReferencesResolveAgainstTheFileThatNamesThem) {
  const auto config = parseKubeconfig({a_, b_, c_}, "other");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://only-b");
  EXPECT_EQ(config->caPem, "CA-B") << "cluster only-b is b's, though context other is c's";
  EXPECT_EQ(config->token, "from-c-v");
}

TEST_F(KubeconfigMergeTest, CurrentContextComesFromTheFirstFileSettingIt) {
  const auto config = parseKubeconfig({c_, b_, a_});
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://only-b") << "context other from c";
  EXPECT_EQ(config->token, "from-c-v");

  const auto dev = parseKubeconfig({c_, b_, a_}, "dev");
  ASSERT_TRUE(dev.ok()) << dev.error().what();
  EXPECT_EQ(dev->namespaceName, "from-c") << "context dev from c";
  EXPECT_EQ(dev->token, "") << "c's dev has no user";
}

TEST_F(KubeconfigMergeTest, ErrorsNameTheFileTheyAreIn) {
  const KubeconfigFile broken{dir_.path("broken/config"), "users: [{name: u, user: {token: [x]}}]\n"};
  EXPECT_TRUE(parseKubeconfig({a_, b_, broken}).ok()) << "fields are read only where used";
  const auto used = parseKubeconfig({broken, a_, b_});
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(used.error().context, "kubeconfig " + broken.path);
  EXPECT_EQ(used.error().status.message, "users[u].token: not a string");

  const KubeconfigFile bad{dir_.path("bad/config"), "contexts: 3\n"};
  const auto config = parseKubeconfig({a_, b_, bad});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().context, "kubeconfig " + bad.path);
  EXPECT_EQ(config.error().status.message, "contexts: not a list");

  const auto missing = parseKubeconfig({a_, b_}, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().context, "kubeconfig " + a_.path + ":" + b_.path);
  EXPECT_EQ(missing.error().status.message, "context \"nope\" not found");
}

TEST_F(KubeconfigMergeTest, EmptyFilesAddNothing) {
  const auto config = parseKubeconfig({{dir_.path("empty"), ""}, a_, b_});
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://a");
}

TEST_F(KubeconfigMergeTest, LoadKubeconfigSkipsMissingFiles) {
  dir_.write("a/config", a_.text);
  dir_.write("b/config", b_.text);
  const auto config = loadKubeconfig(dir_.path("missing") + "::" + a_.path + ":" + b_.path);
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://a");
  EXPECT_EQ(config->caPem, "CA-A");

  const auto other = loadKubeconfig(b_.path + ":" + a_.path, "dev");
  ASSERT_TRUE(other.ok()) << other.error().what();
  EXPECT_EQ(other->server, "https://b");
}

TEST_F(KubeconfigMergeTest, LoadKubeconfigNeedsOneExistingFile) {
  const std::string list = dir_.path("x") + ":" + dir_.path("y");
  const auto config = loadKubeconfig(list);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().context, "kubeconfig " + list);
  EXPECT_EQ(config.error().status.message, "no such file");
}

class InClusterTest : public ::testing::Test {
 protected:
  InClusterTest() {
    dir_.write("sa/token", "sa-token\n");
    dir_.write("sa/ca.crt", "CLUSTER-CA");
    dir_.write("sa/namespace", "team-ns");
  }

  Result<Config> load() {
    return loadInCluster(
        [this](const std::string& name) -> std::optional<std::string> {
          const auto found = env_.find(name);
          if (found == env_.end()) return std::nullopt;
          return found->second;
        },
        dir_.path("sa"));
  }

  TempDir dir_;
  std::map<std::string, std::string> env_{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
};

TEST_F(InClusterTest, ReadsTheServiceAccount) {
  const auto config = load();
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token, "sa-token");
  EXPECT_EQ(config->tokenFile, dir_.path("sa/token"));
  EXPECT_EQ(config->caPem, "CLUSTER-CA");
  EXPECT_EQ(config->namespaceName, "team-ns");
  EXPECT_FALSE(config->insecureSkipTlsVerify);
}

TEST_F(InClusterTest, BracketsAnIpv6Host) {
  env_["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  const auto config = load();
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
}

TEST_F(InClusterTest, ErrorsNameTheMissingVariable) {
  for (const std::string name : {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
    SCOPED_TRACE(name);
    const std::string value = env_[name];
    env_[name] = "";
    auto config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().status.message, name + " is not set");
    env_.erase(name);
    config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().status.message, name + " is not set");
    env_[name] = value;
  }
}

TEST_F(InClusterTest, ErrorsNameTheMissingOrEmptyFile) {
  for (const std::string name : {"token", "ca.crt", "namespace"}) {
    SCOPED_TRACE(name);
    const std::string path = dir_.path("sa/" + name);
    fs::rename(path, path + ".moved");
    auto config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().context, "in-cluster config");
    EXPECT_EQ(config.error().status.message, "cannot read \"" + path + "\"");
    dir_.write("sa/" + name, "\n");
    config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().status.message, "\"" + path + "\" is empty");
    fs::rename(path + ".moved", path);
  }
}

class DefaultConfigTest : public ::testing::Test {
 protected:
  void writeConfig(const std::string& relative, const std::string& server) {
    dir_.write(relative,
               "current-context: x\ncontexts: [{name: x, context: {cluster: x}}]\n"
               "clusters: [{name: x, cluster: {server: \"" +
                   server + "\"}}]\n");
  }

  TempDir dir_;
  ScopedEnv kubeconfig_{"KUBECONFIG", std::nullopt};
  ScopedEnv host_{"KUBERNETES_SERVICE_HOST", std::nullopt};
  ScopedEnv home_{"HOME", dir_.path("home")};
};

TEST_F(DefaultConfigTest, FlagThenKubeconfigVariableThenHome) {
  writeConfig("flag", "https://flag");
  writeConfig("env", "https://env");
  writeConfig("home/.kube/config", "https://home");
  ScopedEnv env("KUBECONFIG", dir_.path("env"));

  auto config = loadDefaultConfig(dir_.path("flag"));
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://flag");

  config = loadDefaultConfig("");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://env");

  ScopedEnv noEnv("KUBECONFIG", std::nullopt);
  config = loadDefaultConfig("");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://home");
}

TEST_F(DefaultConfigTest, PassesTheContext) {
  dir_.write("home/.kube/config",
             "contexts: [{name: x, context: {cluster: x}}]\n"
             "clusters: [{name: x, cluster: {server: \"https://x\"}}]\n");
  const auto config = loadDefaultConfig("", "x");
  ASSERT_TRUE(config.ok()) << config.error().what();
  EXPECT_EQ(config->server, "https://x");
}

TEST_F(DefaultConfigTest, InClusterWhenTheServiceHostIsSet) {
  writeConfig("home/.kube/config", "https://home");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  const auto config = loadDefaultConfig("");
  if (config.ok()) {
    EXPECT_EQ(config->server, "https://10.0.0.1:443") << "running in a pod";
  } else {
    EXPECT_EQ(config.error().context, "in-cluster config");
    EXPECT_THAT(config.error().status.message, HasSubstr("/var/run/secrets/kubernetes.io/serviceaccount/token"));
  }
}

TEST_F(DefaultConfigTest, MissingHomeConfigIsAnError) {
  const auto config = loadDefaultConfig("");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().context, "kubeconfig " + dir_.path("home") + "/.kube/config");
  EXPECT_EQ(config.error().status.message, "no such file");
}

TEST_F(DefaultConfigTest, NoHomeIsAnError) {
  ScopedEnv noHome("HOME", std::nullopt);
  const auto config = loadDefaultConfig("");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().status.message, HasSubstr("HOME"));
}

}  // namespace
}  // namespace governor::kube
