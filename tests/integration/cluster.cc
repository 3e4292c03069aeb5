#include "cluster.h"

#include <cstdlib>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace governor::testing {

std::unique_ptr<kube::Client> clusterClient() {
  const char* path = std::getenv("KUBECONFIG");
  if (!path) {
    ADD_FAILURE() << "KUBECONFIG is not set: run integration tests through ctest or tests/cluster/exec";
    return nullptr;
  }
  auto config = kube::loadKubeconfig(path);
  if (!config) {
    ADD_FAILURE() << config.error().what();
    return nullptr;
  }
  auto client = kube::Client::create(*config);
  if (!client) {
    ADD_FAILURE() << client.error().what();
    return nullptr;
  }
  return std::move(client).value();
}

int clusterCtl(const std::string& args) {
  std::string cmd = std::string(GOVERNOR_CLUSTER_SCRIPTS) + "/ctl " + args;
  return std::system(cmd.c_str());
}

bool compactEtcd() {
  auto head = run(R"(curl -sf -X POST http://127.0.0.1:2379/v3/kv/range -d '{"key":"AA=="}')");
  auto rev = kube::Json::parse(head.output, nullptr, false).value("header", kube::Json::object()).value("revision", "");
  if (rev.empty()) return false;
  return run(R"(curl -sf -X POST http://127.0.0.1:2379/v3/kv/compaction -d '{"revision":")" + rev +
             R"(","physical":true}')")
             .status == 0;
}

TestNamespace::TestNamespace(kube::Client& client, const std::string& prefix) : client_(client) {
  std::mt19937 rng{std::random_device{}()};
  name_ = prefix + "-" + std::to_string(rng() % 1'000'000);
  auto created = client_.create(kNamespaces, "", {{"metadata", {{"name", name_}}}});
  EXPECT_TRUE(created.ok()) << created.error().what();
}

TestNamespace::~TestNamespace() { (void)client_.remove(kNamespaces, "", name_); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

double metricSum(const std::string& url, const std::string& name, const std::string& label) {
  const std::regex sample("^" + name + R"((\{[^}]*\})? ([0-9.e+]+)$)");
  std::istringstream in(run("curl -sf " + quote(url)).output);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, sample) && m[1].str().find(label) != std::string::npos) sum += std::stod(m[2]);
  }
  return sum;
}

int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

kube::Json quotaServiceLevel(const std::string& name, const std::string& pods) {
  return {{"apiVersion", "governor.io/v1alpha1"},
          {"kind", "ServiceLevel"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"workload", {{"name", "app"}}},
            {"quota", {{"hard", {{"pods", pods}}}, {"limitRange", {{"defaultRequest", {{"cpu", "100m"}}}}}}}}}};
}

std::set<std::string> readyServiceLevels(kube::Client& client, const std::string& ns) {
  std::set<std::string> out;
  auto list = client.list(kServiceLevels, ns);
  if (!list.ok()) return out;
  for (const auto& sl : list->items) {
    const auto status = sl.value("status", kube::Json::object());
    if (status.value("observedGeneration", 0) != sl["metadata"].value("generation", -1)) continue;
    for (const auto& c : status.value("conditions", kube::Json::array())) {
      if (c.value("type", "") == "Ready" && c.value("status", "") == "True") out.insert(sl["metadata"]["name"]);
    }
  }
  return out;
}

CommandResult applyServiceLevelCrd() {
  return run("kubectl apply -f " GOVERNOR_SOURCE_DIR
             "/crds/ && kubectl wait --for=condition=Established "
             "crd/servicelevels.governor.io --timeout=60s");
}

void ServiceLevelTest::SetUp() {
  auto crd = applyServiceLevelCrd();
  ASSERT_EQ(crd.status, 0) << crd.output;
  client_ = clusterClient();
  ASSERT_TRUE(client_);
  ns_ = std::make_unique<TestNamespace>(*client_, prefix_);
}

namespace {
kube::Json deploymentOf(const std::string& name, const std::map<std::string, std::string>& labels,
                        const kube::Json& podSpec) {
  kube::Json metadataLabels = {{"app", name}};
  for (const auto& [k, v] : labels) metadataLabels[k] = v;
  kube::Json pods = {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", podSpec}};
  kube::Json spec = {{"replicas", 1}, {"selector", {{"matchLabels", {{"app", name}}}}}, {"template", pods}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"labels", metadataLabels}}},
          {"spec", spec}};
}
}  // namespace

kube::Json deployment(const std::string& name, const std::map<std::string, std::string>& labels) {
  kube::Json container = {{"name", "app"}, {"image", "busybox"}};
  return deploymentOf(
      name, labels,
      {{"nodeSelector", {{"governor.io/test-node", "none"}}}, {"containers", kube::Json::array({container})}});
}

kube::Json runningDeployment(const std::string& name, const std::map<std::string, std::string>& labels,
                             const std::vector<std::string>& command) {
  kube::Json container = {{"name", "app"}, {"image", "governor/redis:dev"}, {"command", command}};
  return deploymentOf(name, labels,
                      {{"terminationGracePeriodSeconds", 1}, {"containers", kube::Json::array({container})}});
}

}  // namespace governor::testing
