// governor-operator: reconciles ServiceLevels into autoscalers, quotas, caches and SLO
// rules; `render` and `validate` (operator/cli.h) work on files without a cluster.
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

#include "api/version.h"
#include "kube/client.h"
#include "kube/leader_election.h"
#include "kube/logging.h"
#include "kube/signals.h"
#include "operator/cli.h"
#include "operator/controller.h"
#include "operator/endpoints.h"
#include "operator/lifecycle.h"
#include "operator/shard.h"

namespace {

using namespace governor;

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
  op::BacklogApi backlogApi = op::BacklogApi::External;
  int cacheSyncTimeoutSeconds = 120;
  double kubeApiQps = 500;
  int kubeApiBurst = 1000;
  int leaseDurationSeconds = 15;
  int renewDeadlineSeconds = 10;
  int retryPeriodSeconds = 2;
  bool rulesNamespaceMatcher = false;
  std::string prometheusUrl;
  op::Shard shard;
};

int run(const RunOptions& o) {
  auto config = kube::loadDefaultConfig(o.kubeconfig, o.context);
  if (!config) return fail(config.error().what());
  config->qps = o.kubeApiQps;
  config->burst = o.kubeApiBurst;
  auto client = kube::Client::create(*config);
  if (!client) return fail(client.error().what());
  op::Metrics metrics;
  api::registerBuildInfo(*metrics.registry());
  auto countRequest = [&metrics](const std::string& verb, int code) { metrics.countRequest(verb, code); };
  (*client)->setRequestObserver(countRequest);
  auto metricsEndpoint = op::Endpoints::metrics(o.metricsAddress, metrics.registry());
  if (!metricsEndpoint) return fail("--metrics-bind-address: " + metricsEndpoint.error().status.message);
  op::Controller controller(
      **client, metrics,
      {o.namespaceName, o.workers, std::chrono::seconds(o.resyncSeconds), std::chrono::seconds(o.statusRefreshSeconds),
       o.backlogApi, o.rulesNamespaceMatcher, o.prometheusUrl, o.shard});
  op::Lifecycle lifecycle(controller, metrics,
                          {o.leaderElect, std::chrono::seconds(o.cacheSyncTimeoutSeconds),
                           std::chrono::seconds(o.renewDeadlineSeconds), o.namespaceName, o.shard.text()});
  auto health = op::Endpoints::health(o.healthAddress, [&] { return lifecycle.unready(); });
  if (!health) return fail("--health-probe-bind-address: " + health.error().status.message);

  std::stop_source stopping;
  kube::StopOnSignals stopOnSignals(stopping);
  // A client of its own: the elector bounds each of its requests by the renew deadline.
  std::unique_ptr<kube::Client> leaseClient;
  std::optional<kube::LeaderElector> elector;
  op::Lifecycle::Elect elect;
  if (o.leaderElect) {
    auto made = kube::Client::create(*config);
    if (!made) return fail(made.error().what());
    leaseClient = std::move(*made);
    leaseClient->setRequestObserver(countRequest);
    elector.emplace(
        *leaseClient,
        kube::LeaseConfig{o.leaderElectionNamespace.empty() ? config->namespaceName : o.leaderElectionNamespace,
                          o.shard.leaseName(), op::leaseIdentity(), std::chrono::seconds(o.leaseDurationSeconds),
                          std::chrono::seconds(o.renewDeadlineSeconds), std::chrono::seconds(o.retryPeriodSeconds)});
    elect = [&elector](const std::stop_token& stop, const std::function<void()>& started,
                       const std::function<void()>& stopped) { return elector->run(stop, started, stopped); };
  }
  auto failure = lifecycle.run(stopping, elect);
  return failure.empty() ? 0 : fail(failure);
}

}  // namespace

namespace {

int start(int argc, char** argv) {
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
  app.add_option("--leader-elect-lease-duration", o.leaseDurationSeconds,
                 "Seconds a standby waits after the last renewal it saw before it takes the Lease")
      ->capture_default_str()
      ->check(CLI::Range(2, 3600));
  app.add_option("--leader-elect-renew-deadline", o.renewDeadlineSeconds,
                 "Seconds the leader keeps trying to renew (each request cut off when they are up) before it stops "
                 "writing and exits 1; below the lease duration")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--leader-elect-retry-period", o.retryPeriodSeconds,
                 "Seconds between attempts to take or renew the Lease")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--cache-sync-timeout", o.cacheSyncTimeoutSeconds,
                 "Seconds the leader waits for its informers' first list (until then /readyz answers 503 naming those "
                 "not synced and why) before it exits 1")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--kube-api-qps", o.kubeApiQps,
                 "Requests a second to the API server (client-side limit; 429 and 503 are retried after their "
                 "Retry-After); 0 = no limit")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--kube-api-burst", o.kubeApiBurst, "Requests to the API server allowed at once above --kube-api-qps")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  std::string shard = "0/1";
  app.add_option("--shard", shard,
                 "I/N: reconcile only the ServiceLevels of the namespaces whose hash modulo N is I, under the Lease "
                 "governor-operator-shard-I-of-N, so that N operators share the cluster (run one for each I)")
      ->capture_default_str();
  app.add_option("--workers", o.workers, "ServiceLevels reconciled in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--resync-period", o.resyncSeconds, "Seconds between full resyncs of every ServiceLevel")
      ->capture_default_str()
      ->check(CLI::Range(10, 86400));
  app.add_option("--status-refresh-period", o.statusRefreshSeconds,
                 "Seconds between looks at a ServiceLevel with a cache, so that status.cache.hitRatio follows the "
                 "adapter's measurement, or with minReplicas 0, whose backlog decides scaling to and from none")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  const std::string backlogApiHelp =
      "Where HPAs read the queue backlog: external (external.metrics.k8s.io) or custom (an Object metric on the "
      "ServiceLevel, custom.metrics.k8s.io, for clusters where another provider such as KEDA owns the external API)";
  app.add_option("--backlog-api", o.backlogApi, backlogApiHelp)
      ->transform(CLI::CheckedTransformer(op::backlogApis(), CLI::ignore_case))
      ->default_str("external");
  static const char* const kRulesNamespaceMatcher =
      "Add namespace=\"<the ServiceLevel's namespace>\" to every series selector of errorQuery, totalQuery and "
      "the histogram in the rules it writes, replacing any namespace matcher, so that a ServiceLevel's rules read "
      "only its own namespace (they run with Prometheus' rights, which read every namespace)";
  app.add_flag("--rules-namespace-matcher", o.rulesNamespaceMatcher, kRulesNamespaceMatcher);
  app.add_option(
      "--prometheus-url", o.prometheusUrl,
      "Prometheus that evaluates Governor's rules (http(s)://host:port[/prefix]), where the scale-down guard "
      "(spec.autoscaling.scaleDownGuard) reads whether the page tier burns; empty = no guard, and a "
      "ServiceLevel asking for one gets ScaleDownGuard=False, PrometheusNotConfigured");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--log-format", logFormat, "json or text")->capture_default_str();

  app.set_version_flag("--version", api::versionLine("governor-operator"), "Print the version and exit");

  auto* renderCmd = app.add_subcommand(
      "render",
      "Print the objects a ServiceLevel file implies, as YAML, without a cluster. The file is checked\n"
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
  renderCmd->add_option("--backlog-api", render.backlogApi, backlogApiHelp)
      ->transform(CLI::CheckedTransformer(op::backlogApis(), CLI::ignore_case))
      ->default_str("external");

  auto* validateCmd =
      app.add_subcommand("validate",
                         "Check ServiceLevel files without a cluster, with the CRD's schema and rules (unknown fields\n"
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
  if (o.renewDeadlineSeconds >= o.leaseDurationSeconds || o.retryPeriodSeconds >= o.renewDeadlineSeconds) {
    return fail(
        "--leader-elect-retry-period must be below --leader-elect-renew-deadline, and that below "
        "--leader-elect-lease-duration");
  }
  auto parsedShard = op::parseShard(shard);
  if (!parsedShard) return fail("--shard: " + parsedShard.error().status.message);
  o.shard = *parsedShard;
  return run(o);
}

}  // namespace

// No exception leaves main (kube/result.h).
int main(int argc, char** argv) {
  governor::kube::ignoreSigpipe();
  return governor::kube::exitStatusOf("governor-operator", [&] { return start(argc, argv); });
}
