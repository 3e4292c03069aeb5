#include "operator/controller.h"

#include <spdlog/fmt/fmt.h>

#include "kube/logging.h"
#include "kube/stop.h"

namespace governor::op {

Controller::Controller(kube::Client& client, Metrics& metrics, ControllerOptions options)
    : client_(client),
      options_(std::move(options)),
      metrics_(metrics),
      informers_(client,
                 [&] {
                   kube::InformerOptions o;
                   o.resyncPeriod = options_.resyncPeriod;
                   // A shard caches, and so reconciles, only the objects of its namespaces.
                   if (options_.shard.count > 1) {
                     o.keepNamespace = [shard = options_.shard](const std::string& ns) { return shard.owns(ns); };
                   }
                   return o;
                 }()),
      api_(client),
      reconciler_(api_, informers_, options_.namespaceName, metrics) {
  reconciler_.setStatusRefreshPeriod(options_.statusRefreshPeriod);
  reconciler_.setBacklogApi(options_.backlogApi);
  reconciler_.setRulesNamespaceMatcher(options_.rulesNamespaceMatcher);
  reconciler_.setPrometheusUrl(options_.prometheusUrl);
  reconciler_.registerInformers([this](const std::string& key) {
    queue_.add(key);
    metrics_.setQueueDepth(static_cast<double>(queue_.size()));
  });
}

Controller::~Controller() { stop(); }

bool Controller::start(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    if (stopped()) return false;
    informers_.startAll();
  }
  if (!informers_.waitForSync(timeout, stopping_.get_token())) return false;
  std::lock_guard lock(mu_);
  if (stopped()) return false;
  synced_ = true;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  return true;
}

void Controller::stop() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    stopping_.request_stop();  // ends start()'s wait for the caches at once
    workers = std::move(workers_);
  }
  queue_.shutDown();
  for (auto& w : workers) w.join();
  informers_.stopAll();
}

void Controller::stopWriting(bool lost, std::chrono::milliseconds grace) {
  if (lost) client_.refuseWrites();
  // Refuses writes once `grace` is up, or at once when stop() has returned (its destructor
  // asks it to stop).
  std::jthread deadline([this, grace](const std::stop_token& workStopped) {
    kube::sleepUnlessStopped(workStopped, grace);
    client_.refuseWrites();
  });
  stop();
}

void Controller::work() {
  while (auto key = queue_.get()) {
    // Stopped: the keys still queued are left to the next leader (WorkQueue::get hands them
    // out after shutDown), so that a SIGTERM ends with the reconciles in flight.
    if (stopped()) {
      queue_.done(*key);
      return;
    }
    auto started = std::chrono::steady_clock::now();
    // A boundary: a bug that throws on one ServiceLevel's data costs that ServiceLevel a
    // retry with backoff and an error log, not every ServiceLevel its operator.
    Outcome outcome;
    try {
      outcome = reconciler_.reconcile(*key);
    } catch (const std::exception& e) {
      kube::log::error(
          fmt::format("servicelevel {}: reconcile failed on an internal error (a bug; please report it): {}", *key,
                      e.what()),
          kube::log::keyFields("servicelevel", *key));
      outcome = Outcome::retry(std::string("internal error: ") + e.what());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto fields = kube::log::keyFields("servicelevel", *key);
    fields.emplace_back("duration", seconds);
    switch (outcome.kind) {
      case Outcome::Kind::Done:
        queue_.forget(*key);
        kube::log::debug(fmt::format("servicelevel {}: reconciled", *key), fields);
        metrics_.countReconcile("success", seconds);
        break;
      case Outcome::Kind::RequeueAfter:
        queue_.forget(*key);
        queue_.addAfter(*key, outcome.after);
        kube::log::debug(fmt::format("servicelevel {}: reconciled; again in {}ms", *key, outcome.after.count()),
                         fields);
        metrics_.countReconcile("requeue", seconds);
        break;
      case Outcome::Kind::Retry: {
        auto delay = queue_.addRateLimited(*key);
        kube::log::warn(fmt::format("servicelevel {}: {}; retrying in {}ms", *key, outcome.error,
                                    std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()),
                        fields);
        metrics_.countReconcile("error", seconds);
        metrics_.countRetry();
        break;
      }
    }
    queue_.done(*key);
    metrics_.setQueueDepth(static_cast<double>(queue_.size()));
  }
}

}  // namespace governor::op
