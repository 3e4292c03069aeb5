// List+watch loop; see watch.h. Errors never end the loop: they are logged and retried.
#include "kube/watch.h"

#include <spdlog/spdlog.h>

#include "kube/stop.h"

namespace governor::kube {

std::chrono::milliseconds Backoff::next() {
  auto d = next_;
  next_ = std::min(cap_, next_ * 2);
  std::uniform_int_distribution<int64_t> jitter(d.count() / 2, d.count());
  return std::chrono::milliseconds(jitter(rng_));
}

Reflector::Reflector(Client& client, Resource resource, std::string ns, ReflectorOptions opts, ReflectorSink& sink)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      opts_(std::move(opts)),
      sink_(sink),
      backoff_(opts_.backoffInitial, opts_.backoffCap) {}

std::string Reflector::lastResourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

ReflectorStats Reflector::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Reflector::listAndReplace(const std::stop_token& stop) {
  ListOptions lo{opts_.labelSelector, opts_.fieldSelector, "", opts_.pageSize, ""};
  auto listed = client_.list(resource_, ns_, lo, [this](Json item) { return sink_.view(std::move(item)); });
  {
    std::lock_guard lock(mu_);
    ++stats_.lists;
    stats_.listError = listed ? "" : listed.error().what();
  }
  if (!listed) {
    spdlog::warn("list {} failed: {}", resource_.plural, listed.error().what());
    sleepUnlessStopped(stop, backoff_.next());
    return false;
  }
  sink_.replace(std::move(listed->items));
  std::lock_guard lock(mu_);
  rv_ = listed->resourceVersion;
  return true;
}

Reflector::WatchEnd Reflector::watchOnce(WatchCancel& cancel, bool& sawEvents) {
  std::uniform_int_distribution<int> timeout(opts_.minWatchTimeoutSeconds, 2 * opts_.minWatchTimeoutSeconds - 1);
  WatchOptions wo{lastResourceVersion(), opts_.labelSelector, opts_.fieldSelector, timeout(rng_), true};
  bool gone = false;
  std::optional<Error> streamError;
  {
    std::lock_guard lock(mu_);
    ++stats_.watches;
  }
  auto out = client_.watch(
      resource_, ns_, wo,
      [&](const WatchEvent& ev) {
        if (ev.type == "ERROR") {
          Status status = watchErrorStatus(ev.object);
          if (status.code == 410) {
            gone = true;
          } else {
            streamError = Error{std::move(status), "WATCH " + resource_.plural};
          }
          return false;
        }
        sawEvents = true;
        if (ev.type != "BOOKMARK") sink_.apply(ev);
        // Every event, bookmarks included, moves the resume point.
        auto rv = resourceVersionOf(ev.object);
        std::lock_guard lock(mu_);
        if (!rv.empty()) rv_ = rv;
        return true;
      },
      &cancel);
  if (!out && out.error().isGone()) gone = true;
  if (gone) {
    std::lock_guard lock(mu_);
    ++stats_.gone;
    return WatchEnd::Gone;
  }
  if (!out) streamError = out.error();
  if (streamError && streamError->isNotFound()) {
    spdlog::warn("watch {}: the resource is gone ({}); relisting once it is back", resource_.plural,
                 streamError->what());
    return WatchEnd::Missing;
  }
  if (streamError) {
    spdlog::warn("watch {} failed: {}", resource_.plural, streamError->what());
    return WatchEnd::Failed;
  }
  return WatchEnd::Closed;
}

void Reflector::run(const std::stop_token& stop) {
  WatchCancel cancel;
  std::stop_callback endWatch(stop, [&cancel] { cancel.cancel(); });
  bool needList = lastResourceVersion().empty();
  while (!stop.stop_requested()) {
    if (needList) {
      if (!listAndReplace(stop)) continue;
      needList = false;
    }
    auto started = std::chrono::steady_clock::now();
    bool sawEvents = false;
    auto end = watchOnce(cancel, sawEvents);
    if (stop.stop_requested()) return;
    switch (end) {
      case WatchEnd::Gone:
        spdlog::info("watch {}: resourceVersion {} expired, relisting", resource_.plural, lastResourceVersion());
        needList = true;
        break;
      case WatchEnd::Missing:
        // Its CRD was deleted, and every object with it, maybe without an event for each:
        // only a list tells what exists once it is back.
        needList = true;
        sleepUnlessStopped(stop, backoff_.next());
        break;
      case WatchEnd::Failed:
        // Keep the resourceVersion: a later watch resumes without relisting.
        sleepUnlessStopped(stop, backoff_.next());
        break;
      case WatchEnd::Closed:
        // A stream that closes at once with nothing in it is a failure in disguise.
        if (!sawEvents && std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
          sleepUnlessStopped(stop, backoff_.next());
        } else {
          backoff_.reset();
        }
        break;
    }
  }
}

}  // namespace governor::kube
