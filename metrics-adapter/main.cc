// governor-metrics-adapter: serves governor_queue_backlog (external.metrics.k8s.io),
// governor_latency_p<N>_seconds and governor_cache_hit_ratio (custom.metrics.k8s.io) through
// the kube-apiserver's aggregation layer, from a cache that polls Redis and Prometheus.
#include <malloc.h>

#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "api/version.h"
#include "kube/client.h"
#include "kube/duration.h"
#include "kube/informer.h"
#include "kube/logging.h"
#include "kube/signals.h"
#include "kube/stop.h"
#include "metrics-adapter/api/auth.h"
#include "metrics-adapter/api/authz.h"
#include "metrics-adapter/api/metrics_api.h"
#include "metrics-adapter/cache.h"
#include "metrics-adapter/cache_gauges.h"
#include "metrics-adapter/cache_stats.h"
#include "metrics-adapter/live_targets.h"
#include "metrics-adapter/redis_access.h"
#include "metrics-adapter/server.h"
#include "metrics-adapter/targets.h"

namespace {

// How often the request-header CA and allowed names are read again (docs/metrics-adapter.md).
constexpr std::chrono::seconds kFrontProxyReloadInterval{30};

using namespace governor;

int fail(const std::string& message) {
  std::cerr << "governor-metrics-adapter: " << message << "\n";
  return 1;
}

std::chrono::milliseconds durationFlag(const std::string& flag, const std::string& text, int& status) {
  auto d = kube::parseDuration(text);
  if (!d || d->count() <= 0) {
    status = fail(flag + " \"" + text + "\": use a duration like 5s or 250ms");
    return {};
  }
  return *d;
}

// An object without its metadata.resourceVersion, which every write changes.
kube::Json withoutVersion(kube::Json object) {
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    metadata->erase("resourceVersion");
  }
  return object;
}

}  // namespace

namespace {

int start(int argc, char** argv) {
  CLI::App app{
      "governor-metrics-adapter: an aggregated API server for the HPA. It serves governor_queue_backlog\n"
      "(external.metrics.k8s.io/v1beta1: the length of a Redis list, or the entries of a stream that its consumer\n"
      "group has not yet read or not yet acknowledged)\n"
      "and governor_latency_p<N>_seconds (custom.metrics.k8s.io/v1beta2: a latency percentile from Prometheus)\n"
      "for every ServiceLevel, answering from a cache that it refreshes every poll interval. For a ServiceLevel\n"
      "with a cache it reads the cache's INFO stats every poll, exports governor_cache_keyspace_hits_total and\n"
      "governor_cache_keyspace_misses_total on /metrics, and serves governor_cache_hit_ratio on the ServiceLevel\n"
      "(custom.metrics.k8s.io/v1beta2, resource servicelevels.governor.io).",
      "governor-metrics-adapter"};
  std::string kubeconfig, context, ns, logLevel = "info", logFormat = "json";
  adapter::ServerOptions server;
  std::string clientCa, allowedNames, prometheusUrl = "http://prometheus-operated.monitoring.svc:9090";
  std::string pollInterval = "5s", redisTimeout = "2s", prometheusTimeout = "5s", latencyWindow = "2m",
              queueRateWindow = "1m";
  std::string cacheAddressTemplate, redisAllowedCidrs, redisAllowedAddresses;
  bool prometheusNamespaceScope = true;
  size_t pollConcurrency = 4;
  std::string selfSignedNames = "localhost,governor-metrics-adapter.governor.svc";
  std::string alwaysAllowPaths = "/apis,/apis/*", authorizedTtl = "10s", unauthorizedTtl = "10s";
  int maxReviewsInFlight = 8;
  std::string shutdownDelay = "0s";
  double kubeApiQps = 500;
  int kubeApiBurst = 1000;
  app.add_option("--kubeconfig", kubeconfig,
                 "Path to a kubeconfig; default: $KUBECONFIG, else in-cluster, else ~/.kube/config");
  app.add_option("--context", context, "kubeconfig context to use; default: its current-context");
  app.add_option("--namespace", ns, "Only serve ServiceLevels of this namespace; default: all namespaces");
  app.add_option("--bind-address", server.bindAddress, "Address to listen on")->capture_default_str();
  app.add_option("--secure-port", server.port, "HTTPS port (0 = any free port)")->capture_default_str();
  app.add_option("--health-port", server.healthPort,
                 "Plain-HTTP port of /healthz, /livez and /readyz for the kubelet's probes, apart from the secure "
                 "port so that connections to that one never starve them (0 = any free port)")
      ->capture_default_str();
  app.add_option("--tls-cert-file", server.certFile,
                 "Serving certificate (PEM), re-read when it changes; default: a self-signed one made at start");
  app.add_option("--tls-private-key-file", server.keyFile, "Key of --tls-cert-file (PEM)");
  app.add_option("--self-signed-names", selfSignedNames, "DNS names of a self-signed certificate, comma-separated")
      ->capture_default_str();
  app.add_option("--requestheader-client-ca-file", clientCa,
                 "CA of the front proxy's client certificate; default: read from "
                 "kube-system/extension-apiserver-authentication. Either is read again every 30s, so a rotated CA "
                 "needs no restart");
  app.add_option("--requestheader-allowed-names", allowedNames,
                 "Comma-separated CNs allowed as front proxy (empty = any the CA signed); default with the ConfigMap: "
                 "its list, read again every 30s");
  app.add_option("--authorization-always-allow-paths", alwaysAllowPaths,
                 "Comma-separated non-resource paths (discovery) that every caller the front proxy names may GET "
                 "without a SubjectAccessReview; a trailing * matches a prefix. Metrics always need one (members of "
                 "system:masters excepted); /healthz, /livez, /readyz, /openapi/* and /metrics need no "
                 "authentication at all")
      ->capture_default_str();
  app.add_option("--authorization-webhook-cache-authorized-ttl", authorizedTtl,
                 "How long a SubjectAccessReview that allowed a request is reused for the same request")
      ->capture_default_str();
  app.add_option("--authorization-webhook-cache-unauthorized-ttl", unauthorizedTtl,
                 "How long a SubjectAccessReview that denied a request is reused for the same request")
      ->capture_default_str();
  app.add_option("--authorization-max-reviews-in-flight", maxReviewsInFlight,
                 "SubjectAccessReviews waiting for the API server at once (each times out after 5s); a request that "
                 "needs one more is answered 503 at once, so that an API server brownout cannot take every connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--kube-api-qps", kubeApiQps,
                 "Requests a second to the API server (client-side limit; 429 and 503 are retried after their "
                 "Retry-After); 0 = no limit")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--kube-api-burst", kubeApiBurst, "Requests to the API server allowed at once above --kube-api-qps")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--prometheus-url", prometheusUrl, "Prometheus to compute latency percentiles with")
      ->capture_default_str();
  app.add_option("--poll-interval", pollInterval, "How often Redis and Prometheus are measured")->capture_default_str();
  app.add_option("--redis-timeout", redisTimeout, "Connect timeout for Redis, and how long each reply is awaited")
      ->capture_default_str();
  adapter::RedisTlsFiles redisTls;
  app.add_option("--redis-ca-file", redisTls.caFile,
                 "CA bundle (PEM) that the certificates of Redis servers with tls: true must chain to; re-read for "
                 "every new connection; default: the system's trust store");
  auto* redisCert = app.add_option("--redis-client-cert-file", redisTls.certFile,
                                   "Client certificate (PEM) for Redis servers that ask for one (tls-auth-clients); "
                                   "default: none");
  auto* redisKey = app.add_option("--redis-client-key-file", redisTls.keyFile, "Key of --redis-client-cert-file (PEM)");
  redisCert->needs(redisKey);
  redisKey->needs(redisCert);
  app.add_option("--redis-allowed-cidrs", redisAllowedCidrs,
                 "Comma-separated CIDRs (10.200.0.0/16, fd00::/8; a bare IP is one address): a queue's "
                 "spec.autoscaling.queue.redis.address that is an IP address inside one of them is measured. "
                 "Without it or --redis-allowed-addresses, only Services of the ServiceLevel's own namespace (NAME, "
                 "NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local) are connected to; any other address is an error for "
                 "that metric and is never connected to, nor resolved; default: none");
  app.add_option("--redis-allowed-addresses", redisAllowedAddresses,
                 "Comma-separated host:port addresses a queue may name besides those (a Service of another namespace, "
                 "redis.queues.svc:6379), matched exactly (the host in any case); default: none");
  app.add_option("--prometheus-timeout", prometheusTimeout, "Query timeout for Prometheus")->capture_default_str();
  app.add_option("--prometheus-namespace-scope", prometheusNamespaceScope,
                 "true: every latency query reads only its ServiceLevel's namespace, namespace=\"<its namespace>\" "
                 "replacing any namespace matcher of spec.objectives.latency.histogram; false (a single-tenant "
                 "cluster): the histogram's selector as written")
      ->capture_default_str();
  app.add_option("--poll-concurrency", pollConcurrency,
                 "Measurements of one source (Prometheus, or one Redis address) that run at once; those of one "
                 "ServiceLevel run one after another, so its slow queries hold up one of them, not the others' "
                 "metrics. A value older than --poll-interval plus the larger of --redis-timeout and "
                 "--prometheus-timeout, or not measured because its source is still busy with the previous round, "
                 "is answered with 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--latency-window", latencyWindow, "rate() range of the latency percentile queries")
      ->capture_default_str();
  app.add_option("--queue-rate-window", queueRateWindow,
                 "rate() range of a list's arrivalQuery and processedQuery (spec.autoscaling.queue.drainWithin)")
      ->capture_default_str();
  app.add_option("--cache-address-template", cacheAddressTemplate,
                 "host:port of each ServiceLevel's cache, {servicelevel} and {namespace} replaced by its name and "
                 "namespace (for an adapter outside the cluster's DNS, or a test); default: the cache's Service, "
                 "{servicelevel}-redis.{namespace}.svc:6379");
  app.add_option("--shutdown-delay-duration", shutdownDelay,
                 "On SIGTERM, how long /readyz answers 503 while every request is still served, so that the "
                 "endpoints drop this replica before its secure port closes; then the requests already accepted are "
                 "answered and it exits 0. Set it above the time an endpoint change takes to reach the API servers "
                 "(the chart: 5s); 0 = close at once")
      ->capture_default_str();
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--log-format", logFormat, "json or text")->capture_default_str();
  app.set_version_flag("--version", api::versionLine("governor-metrics-adapter"), "Print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (auto out = kube::configureLogging(logLevel, logFormat); !out) return fail(out.error().status.message);
  // From the start, so that a stop while waiting for the API server is still clean.
  std::stop_source stopping;
  kube::StopOnSignals stopOnSignals(stopping);
  const std::stop_token stop = stopping.get_token();
  int status = 0;
  auto poll = durationFlag("--poll-interval", pollInterval, status);
  auto redisT = durationFlag("--redis-timeout", redisTimeout, status);
  auto promT = durationFlag("--prometheus-timeout", prometheusTimeout, status);
  durationFlag("--latency-window", latencyWindow, status);
  durationFlag("--queue-rate-window", queueRateWindow, status);
  auto allowedTtl = durationFlag("--authorization-webhook-cache-authorized-ttl", authorizedTtl, status);
  auto deniedTtl = durationFlag("--authorization-webhook-cache-unauthorized-ttl", unauthorizedTtl, status);
  auto delay = kube::parseDuration(shutdownDelay);
  if (!delay || delay->count() < 0) {
    status = fail("--shutdown-delay-duration \"" + shutdownDelay + "\": use a duration like 5s, or 0s");
  }
  if (status != 0) return status;
  if (auto tls = adapter::checkRedisTlsFiles(redisTls); !tls) return fail("Redis " + tls.error().status.message);
  auto redisAllowlist = adapter::parseRedisAllowlist(redisAllowedCidrs, redisAllowedAddresses);
  if (!redisAllowlist) {
    return fail("--redis-allowed-cidrs or --redis-allowed-addresses: " + redisAllowlist.error().status.message);
  }

  auto config = kube::loadDefaultConfig(kubeconfig, context);
  if (!config) return fail(config.error().what());
  config->qps = kubeApiQps;
  config->burst = kubeApiBurst;
  auto client = kube::Client::create(*config);
  if (!client) return fail(client.error().what());

  // Whom the front proxy's certificate must come from: read at start, then again every
  // kFrontProxyReloadInterval (a rotated CA).
  auto frontProxySource = [&] { return adapter::frontProxyFromFlags(**client, clientCa, allowedNames); };
  auto frontProxy = frontProxySource();
  if (!frontProxy) return fail(frontProxy.error().what());
  auto auth = adapter::Authenticator::create(*frontProxy);
  if (!auth) return fail("request-header CA: " + auth.error().status.message);
  adapter::FrontProxyReloader frontProxyReloader(**auth, frontProxySource, kFrontProxyReloadInterval);
  // SubjectAccessReviews get a client of their own: a request waits on its review, so
  // that review times out after 5 s rather than the 30 s of other API calls.
  auto reviewConfig = *config;
  reviewConfig.timeout = std::chrono::seconds(5);
  auto reviewClient = kube::Client::create(reviewConfig);
  if (!reviewClient) return fail(reviewClient.error().what());
  auto authorizer = adapter::Authorizer::create({.alwaysAllowPaths = adapter::splitNonEmpty(alwaysAllowPaths, ','),
                                                 .allowedTtl = allowedTtl,
                                                 .deniedTtl = deniedTtl,
                                                 .maxReviewsInFlight = maxReviewsInFlight},
                                                adapter::subjectAccessReviews(**reviewClient));
  if (!authorizer) return fail("--authorization-always-allow-paths: " + authorizer.error().status.message);

  adapter::RedisSource redis({.timeout = redisT, .tls = redisTls});
  kube::PrometheusClient prometheus(prometheusUrl, promT);
  // The oldest value served: a round's start plus its source's timeout.
  adapter::MetricCache cache(std::chrono::system_clock::now, poll + std::max(redisT, promT));
  adapter::Targets targets;
  auto registry = std::make_shared<prometheus::Registry>();
  adapter::CacheStats cacheStats(*registry);
  kube::Informer serviceLevels(**client, {"governor.io", "v1alpha1", "servicelevels", true}, ns);
  // What parseServiceLevel reads (the store drops managedFields itself), as MessagePack: a
  // fifth of the memory of a tree, for every ServiceLevel. A poll parses each in turn.
  serviceLevels.setTransform([](nlohmann::json object) {
    object.erase("status");
    return object;
  });
  serviceLevels.setCompact(true);
  serviceLevels.start();

  // Only the Secrets that opted in: no Secret without the label is ever read, whatever a
  // ServiceLevel names (RBAC: list and watch secrets, no get; docs/metrics-adapter.md).
  kube::InformerOptions secretOptions;
  secretOptions.reflector.labelSelector = std::string(api::kRedisCredentialsLabel) + "=" + api::kRedisCredentialsValue;
  kube::Informer credentials(**client, {"", "v1", "secrets", true}, ns, secretOptions);
  credentials.start();

  // The workloads ServiceLevels name: their labels and replicas, from informers.
  kube::Informers workloadInformers(**client);
  api::Workloads::watch(workloadInformers, ns);
  api::Workloads workloads(workloadInformers, ns);
  workloadInformers.startAll();
  adapter::DrainEstimator drains;
  const adapter::Sources sources{redis,
                                 prometheus,
                                 cacheStats,
                                 drains,
                                 [&credentials](const std::string& secretNs, const api::SecretKeyRef& ref) {
                                   return adapter::redisPassword(credentials.get(secretNs + "/" + ref.name), secretNs,
                                                                 ref);
                                 },
                                 [&workloads](const std::string& workloadNs, const api::Workload& w) {
                                   return workloads.replicas(workloadNs, w);
                                 }};
  const adapter::TargetOptions targetOptions{.latencyWindow = latencyWindow,
                                             .queueRateWindow = queueRateWindow,
                                             .cacheAddressTemplate = cacheAddressTemplate,
                                             .redisAllowlist = *redisAllowlist,
                                             .prometheusNamespaceScope = prometheusNamespaceScope};
  // The targets are made again when a ServiceLevel or a workload changes, not every poll round:
  // new ServiceLevels are measured from the next round, removed ones stop being served. Shared
  // with the informers' handlers, which may run until the informers are destroyed, after it.
  auto live = std::make_shared<adapter::LiveTargets>(
      sources, targetOptions,
      [&workloads](const std::string& workloadNs, const api::Workload& w) { return workloads.labels(workloadNs, w); },
      [&serviceLevels](const auto& visit) {
        // One ServiceLevel at a time: neither the store nor the parses are copied whole.
        for (const auto& key : serviceLevels.keys()) {
          auto object = serviceLevels.get(key);
          if (!object) continue;  // deleted meanwhile
          if (auto p = api::parseServiceLevel(*object); p.serviceLevel) visit(*p.serviceLevel);
        }
      },
      targets);
  serviceLevels.addHandler({[live](const kube::Json&) { live->changed(); },
                            [live](const kube::Json& before, const kube::Json& after) {
                              // A write of its status alone (which the store drops) changes no target.
                              if (withoutVersion(before) != withoutVersion(after)) live->changed();
                            },
                            [live](const kube::Json&) { live->changed(); }});
  workloads.onChange(api::Workloads::Change::Labels,
                     [live](const std::string&, const api::Workload&) { live->changed(); });
  adapter::Poller poller(
      cache,
      [&] {
        // Connections no target used for two rounds (servers of deleted ServiceLevels) close.
        redis.closeIdle(2 * poll + redisT);
        return live->nextRound();
      },
      poll, pollConcurrency);

  api::registerBuildInfo(*registry);
  adapter::CacheGauges cacheGauges(*registry, cache);
  adapter::MetricsApi metricsApi(cache, targets, latencyWindow);
  std::atomic<bool> shuttingDown{false};
  server.selfSignedNames = adapter::splitNonEmpty(selfSignedNames, ',');
  auto https = adapter::AdapterServer::start(server, metricsApi, **auth, **authorizer, registry, [&] {
    return !shuttingDown && serviceLevels.hasSynced() && credentials.hasSynced() &&
           workloadInformers.unsynced().empty() && poller.rounds() > 0;
  });
  if (!https) return fail(https.error().status.message);
  serviceLevels.waitForSync(stop);
  credentials.waitForSync(stop);
  while (!workloadInformers.waitForSync(std::chrono::seconds(1), stop) && !stop.stop_requested()) {
  }
  poller.start();
  spdlog::info("serving on {}:{}, probes on port {}", server.bindAddress, (*https)->port(), (*https)->healthPort());

  while (!kube::sleepUnlessStopped(stop, std::chrono::milliseconds(200))) cacheGauges.update();
  // Not ready at once, so that the endpoints drop this replica; still serving while that
  // change reaches the API servers; then what was accepted is answered (docs/operations.md, Adapter).
  shuttingDown = true;
  spdlog::info("stopping: /readyz answers 503, serving for {} more (--shutdown-delay-duration)", shutdownDelay);
  std::this_thread::sleep_for(*delay);
  (*https)->drain();
  poller.stop();
  serviceLevels.stop();
  credentials.stop();
  workloadInformers.stopAll();
  spdlog::info("adapter stopped");
  return 0;
}

}  // namespace

// No exception leaves main (kube/result.h).
int main(int argc, char** argv) {
  governor::kube::ignoreSigpipe();
  // Two malloc arenas, not one per thread that allocates (up to 8 per core): the poll threads
  // and the server's threads each kept what a round's targets had taken. And blocks of 256 KiB
  // or more (the lists of targets and readings, which grow with the ServiceLevels) always mapped
  // on their own, so that freeing them gives the memory back: by default the threshold rises to
  // the largest block freed, and such blocks then leave holes in the heap
  // (docs/benchmarks.md, "The adapter with N ServiceLevels").
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  return governor::kube::exitStatusOf("governor-metrics-adapter", [&] { return start(argc, argv); });
}
