// The reflector: list, then watch from the list's resourceVersion; resume from the last
// seen resourceVersion after a broken stream, relist on 410 Gone, back off with jitter.
// Modelled on client-go's tools/cache/reflector.go.
#pragma once

#include <chrono>
#include <functional>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/client.h"

namespace governor::kube {

// Exponential backoff with full jitter in [d/2, d], as client-go's wait.Backoff.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), next_(initial) {}
  std::chrono::milliseconds next();
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, cap_, next_;
  std::mt19937 rng_{std::random_device{}()};
};

// Receives what the reflector learns. Called from the reflector's thread only.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // What the sink keeps of a listed object: the reflector reduces each item to it as its
  // page arrives, so that a list of many large objects never holds them all whole. Null:
  // nothing (the item is left out of replace()).
  virtual Json view(Json object) const { return object; }
  // A full list: the sink's state becomes exactly `items`, each already view(item).
  virtual void replace(std::vector<Json> items) = 0;
  // ADDED, MODIFIED or DELETED.
  virtual void apply(const WatchEvent& event) = 0;
};

struct ReflectorOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t pageSize = 500;
  std::chrono::milliseconds backoffInitial{800};
  std::chrono::milliseconds backoffCap{30'000};
  // Watch timeouts are randomised in [min, 2*min) so that watches do not expire together.
  int minWatchTimeoutSeconds = 300;
};

struct ReflectorStats {
  int lists = 0;
  int watches = 0;
  int gone = 0;           // 410s seen (each led to a relist)
  std::string listError;  // why the latest list failed; empty once one succeeded
};

class Reflector {
 public:
  Reflector(Client& client, Resource resource, std::string ns, ReflectorOptions opts, ReflectorSink& sink);

  // Runs until a stop is requested, which ends the watch in flight or the backoff at once.
  // Resumes from lastResourceVersion() when it is set, so a stopped reflector started again
  // continues where it left off (or relists on 410).
  void run(const std::stop_token& stop);
  // Before run(): the items a list asks for per page.
  void setPageSize(int64_t pageSize) { opts_.pageSize = pageSize; }
  std::string lastResourceVersion() const;
  ReflectorStats stats() const;

 private:
  enum class WatchEnd { Closed, Gone, Missing, Failed };
  bool listAndReplace(const std::stop_token& stop);
  WatchEnd watchOnce(WatchCancel& cancel, bool& sawEvents);

  Client& client_;
  Resource resource_;
  std::string ns_;
  ReflectorOptions opts_;
  ReflectorSink& sink_;
  Backoff backoff_;
  mutable std::mutex mu_;
  std::string rv_;
  ReflectorStats stats_;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace governor::kube
