// governor-operator: reconciles ServiceLevels into autoscalers, quotas, caches and SLO
// rules; `governor-operator render -f FILE` prints the same children without a cluster.
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/leader_election.h"
#include "kube/logging.h"
#include "kube/yaml.h"
#include "operator/controller.h"
#include "operator/endpoints.h"
#include "operator/render/render.h"

namespace {

using namespace governor;

std::atomic<bool> stopping{false};

int fail(const std::string& message) {
  std::cerr << "governor-operator: " << message << "\n";
  return 1;
}

const char* groupName(op::ChildGroup g) {
  switch (g) {
    case op::ChildGroup::Autoscaler: return "autoscaling";
    case op::ChildGroup::Cache: return "cache";
    case op::ChildGroup::Quota: return "quota";
    case op::ChildGroup::Rules: return "objectives and alerts";
  }
  return "";
}

int render(const std::string& file, bool prometheusRuleCrd) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) return fail("cannot read " + file);
    text << in.rdbuf();
  }
  auto docs = kube::parseYamlDocuments(text.str());
  if (!docs) return fail(file + ": " + docs.error().status.message);
  int rendered = 0;
  for (auto& doc : *docs) {
    if (doc.value("kind", "") != op::kKind) continue;
    if (!doc["metadata"].contains("namespace")) doc["metadata"]["namespace"] = "default";
    auto parsed = op::parseServiceLevel(doc);
    if (!parsed.serviceLevel) {
      std::string all;
      for (const auto& p : parsed.problems) all += "\n  " + p;
      return fail(file + ": ServiceLevel " + doc["metadata"].value("name", "") + " is invalid:" + all);
    }
    for (const auto& child : op::render(*parsed.serviceLevel, {.prometheusRuleCrd = prometheusRuleCrd})) {
      std::cout << "---\n# " << groupName(child.group) << " of ServiceLevel " << parsed.serviceLevel->namespaceName
                << "/" << parsed.serviceLevel->name << "\n"
                << kube::toYaml(child.object);
    }
    ++rendered;
  }
  if (rendered == 0) return fail(file + ": no ServiceLevel in it");
  return 0;
}

struct RunOptions {
  std::string kubeconfig;
  std::string context;
  std::string namespaceName;
  std::string metricsAddress = ":8080";
  std::string healthAddress = ":8081";
  bool leaderElect = false;
  std::string leaderElectionNamespace;
  int workers = 2;
  int resyncSeconds = 600;
};

int run(const RunOptions& o) {
  auto config = kube::loadDefaultConfig(o.kubeconfig, o.context);
  if (!config) return fail(config.error().what());
  auto client = kube::Client::create(*config);
  if (!client) return fail(client.error().what());
  op::Metrics metrics;
  (*client)->setRequestObserver([&metrics](const std::string& verb, int code) { metrics.countRequest(verb, code); });
  auto metricsEndpoint = op::Endpoints::metrics(o.metricsAddress, metrics.registry());
  if (!metricsEndpoint) return fail("--metrics-bind-address: " + metricsEndpoint.error().status.message);
  op::Controller controller(**client, metrics,
                            {o.namespaceName, o.workers, std::chrono::seconds(o.resyncSeconds)});
  // A replica standing by for the lease is ready: were it not, a rolling update of one
  // replica would wait forever for the new pod while the old one holds the lease.
  std::atomic<bool> standingBy = o.leaderElect;
  auto health = op::Endpoints::health(o.healthAddress, [&] { return standingBy || controller.synced(); });
  if (!health) return fail("--health-probe-bind-address: " + health.error().status.message);

  std::signal(SIGTERM, [](int) { stopping = true; });
  std::signal(SIGINT, [](int) { stopping = true; });
  auto startControllers = [&] {
    standingBy = false;
    metrics.setLeader(true);
    if (!controller.start(std::chrono::minutes(2))) spdlog::error("informers did not sync within 2 minutes");
    spdlog::info("operator started (namespace: {})", o.namespaceName.empty() ? "all" : o.namespaceName);
  };
  bool lost = false;
  if (o.leaderElect) {
    auto ns = o.leaderElectionNamespace.empty() ? config->namespaceName : o.leaderElectionNamespace;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    kube::LeaderElector elector(**client, {ns, "governor-operator", std::string(host) + "_" + std::to_string(getpid())});
    lost = elector.run(stopping, startControllers, [&] { controller.stop(); });
  } else {
    startControllers();
    while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    controller.stop();
  }
  if (lost) return fail("lost the leader lease; exiting so that a restart can compete again");
  spdlog::info("operator stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "governor-operator: reconciles governor.io/v1alpha1 ServiceLevels into a HorizontalPodAutoscaler, a\n"
      "ResourceQuota and LimitRange, a Redis cache and SLO alert rules, and keeps them true.",
      "governor-operator"};
  RunOptions o;
  std::string logLevel = "info", logFormat = "json";
  app.add_option("--kubeconfig", o.kubeconfig,
                 "Path to a kubeconfig; default: $KUBECONFIG, else in-cluster, else ~/.kube/config");
  app.add_option("--context", o.context, "kubeconfig context to use; default: its current-context");
  app.add_option("--namespace", o.namespaceName, "Only watch this namespace; default: all namespaces");
  app.add_option("--metrics-bind-address", o.metricsAddress, "Where /metrics listens (host:port, :port, 0 = off)")
      ->capture_default_str();
  app.add_option("--health-probe-bind-address", o.healthAddress,
                 "Where /healthz and /readyz listen (host:port, :port, 0 = off)")
      ->capture_default_str();
  app.add_flag("--leader-elect", o.leaderElect,
               "Run only while holding the coordination.k8s.io Lease governor-operator (for several replicas)");
  app.add_option("--leader-election-namespace", o.leaderElectionNamespace,
                 "Namespace of the Lease; default: the kubeconfig's or the pod's namespace");
  app.add_option("--workers", o.workers, "ServiceLevels reconciled in parallel")->capture_default_str()->check(
      CLI::Range(1, 64));
  app.add_option("--resync-period", o.resyncSeconds, "Seconds between full resyncs of every ServiceLevel")
      ->capture_default_str()
      ->check(CLI::Range(10, 86400));
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--log-format", logFormat, "json or text")->capture_default_str();

  auto* renderCmd = app.add_subcommand("render", "Print the objects a ServiceLevel file implies, as YAML, without a cluster");
  std::string file;
  bool noCrd = false;
  renderCmd->add_option("-f,--filename", file, "ServiceLevel YAML file (- for standard input)")->required();
  renderCmd->add_flag("--no-prometheus-rule-crd", noCrd,
                      "Render the rules as the ConfigMap used where the PrometheusRule CRD is missing");
  CLI11_PARSE(app, argc, argv);

  if (auto out = governor::kube::configureLogging(logLevel, logFormat); !out) return fail(out.error().status.message);
  if (renderCmd->parsed()) return render(file, !noCrd);
  return run(o);
}
