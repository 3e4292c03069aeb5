// governor-operator: reconciles ServiceLevels into autoscalers, quotas, caches and SLO
// rules; `render` and `validate` (operator/cli.h) work on files without a cluster.
#include <csignal>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "api/version.h"
#include "kube/client.h"
#include "kube/leader_election.h"
#include "kube/logging.h"
#include "operator/cli.h"
#include "operator/controller.h"
#include "operator/endpoints.h"

namespace {

using namespace governor;

std::atomic<bool> stopping{false};

int fail(const std::string& message) {
  std::cerr << "governor-operator: " << message << "\n";
  return 1;
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
  int statusRefreshSeconds = 30;
  bool rulesNamespaceMatcher = false;
};

int run(const RunOptions& o) {
  auto config = kube::loadDefaultConfig(o.kubeconfig, o.context);
  if (!config) return fail(config.error().what());
  auto client = kube::Client::create(*config);
  if (!client) return fail(client.error().what());
  op::Metrics metrics;
  api::registerBuildInfo(*metrics.registry());
  (*client)->setRequestObserver([&metrics](const std::string& verb, int code) { metrics.countRequest(verb, code); });
  auto metricsEndpoint = op::Endpoints::metrics(o.metricsAddress, metrics.registry());
  if (!metricsEndpoint) return fail("--metrics-bind-address: " + metricsEndpoint.error().status.message);
  op::Controller controller(**client, metrics,
                            {o.namespaceName, o.workers, std::chrono::seconds(o.resyncSeconds),
                             std::chrono::seconds(o.statusRefreshSeconds), o.rulesNamespaceMatcher});
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
  app.add_option("--status-refresh-period", o.statusRefreshSeconds,
                 "Seconds between looks at a ServiceLevel with a cache, so that status.cache.hitRatio follows the "
                 "adapter's measurement")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  static const char* const kRulesNamespaceMatcher =
      "Add namespace=\"<the ServiceLevel's namespace>\" to every series selector of errorQuery, totalQuery and "
      "the histogram in the rules it writes, replacing any namespace matcher, so that a ServiceLevel's rules read "
      "only its own namespace (they run with Prometheus' rights, which read every namespace)";
  app.add_flag("--rules-namespace-matcher", o.rulesNamespaceMatcher, kRulesNamespaceMatcher);
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--log-format", logFormat, "json or text")->capture_default_str();

  app.set_version_flag("--version", api::versionLine("governor-operator"), "Print the version and exit");

  auto* renderCmd = app.add_subcommand(
      "render", "Print the objects a ServiceLevel file implies, as YAML, without a cluster. The file is checked\n"
                "first as validate checks it, and nothing is printed when it is invalid");
  op::RenderCommand render;
  renderCmd->add_option("-f,--filename", render.file, "ServiceLevel YAML file (- for standard input)")->required();
  bool noCrd = false;
  renderCmd->add_flag("--no-prometheus-rule-crd", noCrd,
                      "Render the rules as the ConfigMap used where the PrometheusRule CRD is missing");
  renderCmd->add_flag("--rules-namespace-matcher", render.rulesNamespaceMatcher, kRulesNamespaceMatcher);
  renderCmd
      ->add_option("--only", render.only,
                   "Print only this part: hpa, quota, cache (objects as YAML), rules (a plain Prometheus rule file, "
                   "as promtool check rules reads it) or dashboard (the Grafana dashboard's JSON)")
      ->check(CLI::IsMember(op::renderParts()));

  auto* validateCmd = app.add_subcommand(
      "validate", "Check ServiceLevel files without a cluster, with the CRD's schema and rules (unknown fields\n"
                  "included) and the operator's (the PromQL of the queries too). Exits 1 when any is invalid,\n"
                  "naming file, ServiceLevel and field");
  std::vector<std::string> files;
  validateCmd->add_option("-f,--filename", files, "ServiceLevel YAML files (- for standard input)")->required();
  CLI11_PARSE(app, argc, argv);

  if (auto out = governor::kube::configureLogging(logLevel, logFormat); !out) return fail(out.error().status.message);
  if (renderCmd->parsed()) {
    render.prometheusRuleCrd = !noCrd;
    return op::render(render);
  }
  if (validateCmd->parsed()) return op::validate(files);
  return run(o);
}
