// The adapter's latest measurements, kept in memory so that API requests never wait on Redis or
// Prometheus, and the Poller thread that refreshes them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/clock.h"
#include "kube/logging.h"
#include "kube/result.h"

namespace governor::adapter {

// Thread-safe; readers (API requests) share the lock.
class MetricCache {
 public:
  struct Entry {
    double value = 0;                                 // of the latest successful measurement; 0 while there was none
    std::chrono::system_clock::time_point timestamp;  // of the latest measurement, failed or not
    std::optional<kube::Error> error;                 // set when the latest measurement failed
    std::optional<std::chrono::system_clock::time_point> lastSuccess;  // when `value` was measured
    int failures = 0;  // measurements in a row that failed, up to the latest; 0 after a success

    // Whether `value` is current. Serve an error otherwise: never a stale number, and never the
    // 0 of an entry that has not succeeded yet.
    bool ok() const { return !error && lastSuccess.has_value(); }
  };

  // maxAge: a value measured longer ago than this is served as a Stale error, never as a
  // current value (the poll interval plus a source's timeout; 0: no bound).
  explicit MetricCache(kube::Now<std::chrono::system_clock> clock = std::chrono::system_clock::now,
                       std::chrono::milliseconds maxAge = std::chrono::milliseconds(0));

  // Success replaces value and clears the error; failure keeps the old value, records the
  // error and counts the failures in a row. A non-finite value counts as a failure. `about`:
  // the fields of the log lines on the key (its ServiceLevel).
  void update(const std::string& key, const kube::Result<double>& measurement, const kube::log::Fields& about = {});
  // The entry, with a Stale error when its value is older than the maximum age.
  std::optional<Entry> get(const std::string& key) const;
  void remove(const std::string& key);
  std::vector<std::string> keys() const;  // sorted
  // How old the oldest entry's last successful value is (an entry failing for an hour counts an
  // hour); 0 when no entry has ever succeeded.
  double ageSeconds() const;

 private:
  const kube::Now<std::chrono::system_clock> clock_;
  const std::chrono::milliseconds maxAge_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Entry> entries_;  // guarded by mutex_
};

// Owns one thread that, every interval, asks for the targets, measures them (sources in
// parallel; of one source, at most `concurrency` at once and one per owner), updates the
// cache, and removes the keys it measured before that are no longer targeted (keys that
// others put in the cache are left alone).
class Poller {
 public:
  // What to measure: the cache key, e.g. "external/shop/governor_queue_backlog/checkout", and how
  // (a source call bounded by that source's timeout; it should not throw, but an exception is
  // caught and recorded as the entry's error).
  struct Target {
    std::string key;
    std::function<kube::Result<double>()> measure;
    // Targets of one source are measured at most `concurrency` at once, sources in
    // parallel, so a hung server delays only its own metrics.
    std::string source;
    // Targets of one owner (a ServiceLevel, "namespace/name") are measured one after
    // another, so that an owner's slow queries take one of its source's workers, not all.
    std::string owner;
  };
  // Never null. Shared, not copied: the same list round after round while nothing changed.
  using Targets = std::shared_ptr<const std::vector<Target>>;
  using TargetList = std::function<Targets()>;

  Poller(MetricCache& cache, TargetList targets, std::chrono::milliseconds interval, size_t concurrency = 1);
  ~Poller();  // stop()
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Starts the thread; its first round is at once. Calling it again, or after stop(), does
  // nothing.
  void start();
  // Wakes and joins the thread and the measuring: returns after at most the measurements in
  // progress (each is bounded by its source's timeout); the rest of the round is skipped.
  // Idempotent.
  void stop();
  // One round on the caller's thread (tests; a first fill before serving). Not concurrently
  // with the thread.
  void pollOnce();
  // Rounds completed so far, by either.
  uint64_t rounds() const;

 private:
  // One source's targets of one round, each taken by one of its workers.
  struct Round {
    Targets list;                        // what `targets` point into
    std::vector<const Target*> targets;  // set before the workers start
    std::mutex mutex;
    std::condition_variable freed;     // an owner is no longer busy
    std::vector<bool> taken;           // guarded by mutex
    size_t firstUntaken = 0;           // every target before it is taken; guarded by mutex
    std::set<std::string> busyOwners;  // guarded by mutex
    std::future<void> done;            // last: destroyed first, it waits for the workers

    // The first target not taken whose owner is not busy, now taken; nullopt when there is
    // none now (`left`: whether any is still to be taken).
    std::optional<size_t> take(bool& left);
    // Takes every target not taken yet, for none of the workers to measure.
    std::vector<const Target*> takeRest();
  };

  void run();
  bool stopping() const;
  static kube::Result<double> measureSafely(const Target& target);
  void measure(Round& round);
  // Starts measuring every source not still busy; `wait` waits for all of them.
  void pollRound(bool wait);
  void waitForRounds();

  MetricCache& cache_;
  const TargetList targets_;
  const std::chrono::milliseconds interval_;
  const size_t concurrency_;
  Targets polled_;  // the targets of the previous round; used by one thread at a time
  // Per source, its latest round; used by one thread at a time.
  std::map<std::string, std::unique_ptr<Round>> inflight_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;    // guarded by mutex_
  uint64_t rounds_ = 0;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace governor::adapter
