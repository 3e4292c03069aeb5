#include "operator/lifecycle.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>
#include <utility>

#include "kube/stop.h"

namespace governor::op {

namespace {

// "a, b, c".
std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

Lifecycle::Lifecycle(Work& work, Metrics& metrics, LifecycleOptions options)
    : work_(work), metrics_(metrics), options_(std::move(options)), standingBy_(options_.leaderElect) {}

std::string Lifecycle::unready() const {
  if (standingBy_ || work_.synced()) return "";
  return "informers not synced: " + joined(work_.unsynced());
}

std::string Lifecycle::run(std::stop_source stopping, const Elect& elect) {
  if (options_.leaderElect != static_cast<bool>(elect)) {
    throw std::invalid_argument("Lifecycle::run: an elector with leader election, and only then");
  }
  // Runs on a thread of its own, which stopWriting() ends at once while it waits for the caches.
  std::atomic<bool> syncTimedOut{false};
  auto startWork = [&] {
    standingBy_ = false;
    metrics_.setLeader(true);
    if (work_.start(options_.cacheSyncTimeout)) {
      spdlog::info("operator started (namespace: {}, shard: {})",
                   options_.namespaceName.empty() ? "all" : options_.namespaceName, options_.shard);
    } else if (!work_.stopped()) {
      syncTimedOut = true;
      stopping.request_stop();
    }
  };
  // When the work must end: on a stop (SIGTERM), or, without one, because the lease was lost.
  auto stopWork = [&] { work_.stopWriting(!stopping.stop_requested(), options_.renewDeadline); };
  bool lost = false;
  if (elect) {
    lost = elect(stopping.get_token(), startWork, stopWork);
  } else {
    std::thread leading(startWork);
    kube::waitUntilStopped(stopping.get_token());
    stopWork();
    leading.join();
  }
  if (lost) return "lost the leader lease; exiting so that a restart can compete again";
  if (syncTimedOut) {
    return "informers did not sync within " + std::to_string(options_.cacheSyncTimeout.count()) +
           "s (--cache-sync-timeout): " + joined(work_.unsynced());
  }
  spdlog::info("operator stopped");
  return "";
}

std::string leaseIdentity() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(getpid());
}

}  // namespace governor::op
