// MetricCache and its Poller.
#include "metrics-adapter/cache.h"

#include <future>
#include <map>
#include <string_view>

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>

#include <spdlog/fmt/fmt.h>

namespace governor::adapter {

namespace {

std::string secondsText(std::chrono::system_clock::duration d) {
  return fmt::format("{:g} s", std::chrono::duration<double>(d).count());
}

}  // namespace

MetricCache::MetricCache(kube::Now<std::chrono::system_clock> clock, std::chrono::milliseconds maxAge)
    : clock_(std::move(clock)), maxAge_(maxAge) {}

void MetricCache::update(const std::string& key, const kube::Result<double>& measurement,
                         const kube::log::Fields& about) {
  const auto now = clock_();
  std::optional<kube::Error> error;
  if (!measurement.ok()) {
    error = measurement.error();
  } else if (!std::isfinite(measurement.value())) {
    error = kube::Error{kube::Status{0, "NoData", "measured a non-finite value"}, key};
  }
  bool wasFailing = false;
  {
    std::unique_lock lock(mutex_);
    auto [it, added] = entries_.try_emplace(key);
    Entry& entry = it->second;
    wasFailing = !added && entry.error.has_value();
    entry.timestamp = now;
    entry.error = error;
    if (!error) {
      entry.value = measurement.value();
      entry.lastSuccess = now;
      entry.failures = 0;
    } else {
      ++entry.failures;
    }
  }
  // Once when a metric starts failing and once when it recovers, not every poll.
  if (error && !wasFailing) {
    auto fields = about;
    fields.emplace_back("reason", error->status.reason);
    kube::log::warn(fmt::format("{}: {}", key, error->what()), fields);
  }
  if (!error && wasFailing) kube::log::info(fmt::format("{}: measured again", key), about);
}

std::optional<MetricCache::Entry> MetricCache::get(const std::string& key) const {
  std::optional<Entry> entry;
  {
    std::shared_lock lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    entry = it->second;
  }
  const auto age = clock_() - entry->timestamp;
  if (maxAge_.count() > 0 && entry->ok() && age > maxAge_) {
    entry->error = kube::Error{kube::Status{0, "Stale",
                                            "measured " + secondsText(age) + " ago, more than the maximum age of " +
                                                secondsText(maxAge_) + ": its source is slow or hung"},
                               key};
  }
  return entry;
}

void MetricCache::remove(const std::string& key) {
  std::unique_lock lock(mutex_);
  entries_.erase(key);
}

std::vector<std::string> MetricCache::keys() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) out.push_back(key);
  return out;
}

double MetricCache::ageSeconds() const {
  const auto now = clock_();
  std::shared_lock lock(mutex_);
  std::optional<std::chrono::system_clock::time_point> oldest;
  for (const auto& [key, entry] : entries_) {
    if (entry.lastSuccess && (!oldest || *entry.lastSuccess < *oldest)) oldest = entry.lastSuccess;
  }
  if (!oldest) return 0;
  return std::max(0.0, std::chrono::duration<double>(now - *oldest).count());
}

Poller::Poller(MetricCache& cache, TargetList targets, std::chrono::milliseconds interval, size_t concurrency)
    : cache_(cache),
      targets_(std::move(targets)),
      interval_(interval),
      concurrency_(std::max<size_t>(concurrency, 1)) {}

Poller::~Poller() { stop(); }

void Poller::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { run(); });
}

void Poller::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.get_id() == std::this_thread::get_id()) return;
  if (thread_.joinable()) thread_.join();
  waitForRounds();
}

void Poller::waitForRounds() {
  for (auto& [source, round] : inflight_) {
    if (round && round->done.valid()) round->done.wait();
  }
}

bool Poller::stopping() const {
  std::lock_guard lock(mutex_);
  return stop_;
}

uint64_t Poller::rounds() const {
  std::lock_guard lock(mutex_);
  return rounds_;
}

// A measurement that throws is recorded as that target's error.
kube::Result<double> Poller::measureSafely(const Target& target) {
  if (!target.measure) return kube::Error{kube::Status{0, "InternalError", "no measure function"}, target.key};
  try {
    return target.measure();
  } catch (const std::exception& e) {
    return kube::Error{kube::Status{0, "InternalError", e.what()}, target.key};
  } catch (...) {
    return kube::Error{kube::Status{0, "InternalError", "unknown exception"}, target.key};
  }
}

void Poller::pollOnce() { pollRound(true); }

std::optional<size_t> Poller::Round::take(bool& left) {
  // From the first not taken, so that a round of N targets is not N scans from the start.
  while (firstUntaken < targets.size() && taken[firstUntaken]) ++firstUntaken;
  left = false;
  for (size_t i = firstUntaken; i < targets.size(); ++i) {
    if (taken[i]) continue;
    left = true;
    if (busyOwners.contains(targets[i]->owner)) continue;
    taken[i] = true;
    busyOwners.insert(targets[i]->owner);
    return i;
  }
  return std::nullopt;
}

std::vector<const Poller::Target*> Poller::Round::takeRest() {
  std::vector<const Target*> rest;
  {
    std::lock_guard lock(mutex);
    for (size_t i = 0; i < targets.size(); ++i) {
      if (!taken[i]) rest.push_back(targets[i]);
      taken[i] = true;
    }
  }
  freed.notify_all();
  return rest;
}

void Poller::measure(Round& round) {
  auto worker = [this, &round] {
    std::unique_lock lock(round.mutex);
    while (!stopping()) {
      bool left = false;
      const std::optional<size_t> i = round.take(left);
      if (!left) return;
      if (!i) {  // every target left belongs to an owner being measured
        round.freed.wait(lock);
        continue;
      }
      const Target& target = *round.targets[*i];
      lock.unlock();
      cache_.update(target.key, measureSafely(target), kube::log::keyFields("servicelevel", target.owner));
      lock.lock();
      round.busyOwners.erase(target.owner);
      round.freed.notify_all();
    }
  };
  std::vector<std::future<void>> helpers;  // their destructors wait for them
  for (size_t n = 1; n < std::min(concurrency_, round.targets.size()); ++n) {
    helpers.push_back(std::async(std::launch::async, worker));
  }
  worker();
}

void Poller::pollRound(bool wait) {
  Targets targets;
  try {
    targets = targets_();
  } catch (...) {
    // Without a target list nothing is known to be gone: keep every entry as it is.
    return;
  }
  std::map<std::string, std::vector<const Target*>> bySource;
  for (const Target& target : *targets) bySource[target.source].push_back(&target);
  for (auto& [source, group] : bySource) {
    auto& round = inflight_[source];
    if (round && round->done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      // Still busy with its previous round (a hung server waiting out its timeouts): skipped,
      // so it never holds back the others. What that round has not started yet is not
      // measured in time: an error from now on, never its old value.
      for (const Target* target : round->takeRest()) {
        cache_.update(target->key,
                      kube::Error{kube::Status{0, "Stale",
                                               "not measured: " + source +
                                                   " is still busy with the previous round (slow or hung)"},
                                  target->key},
                      kube::log::keyFields("servicelevel", target->owner));
      }
      continue;
    }
    round = std::make_unique<Round>();
    round->list = targets;
    round->targets = std::move(group);
    round->taken.assign(round->targets.size(), false);
    round->done = std::async(std::launch::async, [this, r = round.get()] { measure(*r); });
  }
  // A source no longer targeted lets go of its last round (and so of the targets that round shared).
  std::erase_if(inflight_, [&](const auto& source) {
    return !bySource.contains(source.first) &&
           source.second->done.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  if (wait) waitForRounds();
  if (stopping()) return;
  if (polled_ && polled_ != targets) {
    std::set<std::string_view> polled;
    for (const Target& target : *targets) polled.insert(target.key);
    for (const Target& target : *polled_) {
      if (!polled.contains(target.key)) cache_.remove(target.key);
    }
  }
  polled_ = std::move(targets);
  std::lock_guard lock(mutex_);
  ++rounds_;
}

void Poller::run() {
  auto next = std::chrono::steady_clock::now();
  bool first = true;  // the first round completes before the poller counts as having run
  while (!stopping()) {
    pollRound(first);
    first = false;
    // From the start of one round to the start of the next; a round longer than the interval
    // is followed by the next one at once.
    next += interval_;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, next, [this] { return stop_; });
  }
}

}  // namespace governor::adapter
