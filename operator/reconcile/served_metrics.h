// The metrics the adapter serves, as the operator reads them back for status (the backlog, the
// latency p95, the cache hit ratio): a namespace's values of one metric are read in one
// request (the `*` name of the custom metrics API, no label selector for the external one) and
// kept for `maxAge`, so that the reconciles of a resync, one after another, share that
// request, whatever the number of ServiceLevels in the namespace. The age is short: nothing
// brings a ServiceLevel back when only what the adapter serves changes, so a reconcile's status
// must show what is served then, not what was served at the previous reconcile.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "operator/reconcile/api_verbs.h"

namespace governor::op {

using kube::Json;

class ServedMetrics {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit ServedMetrics(
      Api& api, std::chrono::milliseconds maxAge = std::chrono::seconds(1),
      Clock clock = [] { return std::chrono::steady_clock::now(); })
      : api_(api), maxAge_(maxAge), clock_(std::move(clock)) {}

  // The item about `name` (a custom metric's describedObject, an external metric's
  // governor.io/service-level label) in the list at `listPath`, read at most `maxAge` ago.
  // When that list cannot be read (the adapter fails a whole list for one value it cannot
  // measure), the one at `objectPath` is asked for instead. None when it is not served.
  std::optional<Json> item(const std::string& listPath, const std::string& name, const std::string& objectPath);

 private:
  struct List {
    std::mutex mu;  // held while the list is read: one request at a time, the others wait for it
    std::optional<std::chrono::steady_clock::time_point> readAt;
    bool ok = false;
    std::map<std::string, Json> items;  // by name
  };
  // The items of the metric list at `path`, or the error (a 403 is logged: that is the
  // operator's RBAC, not a value momentarily unavailable).
  kube::Result<Json> read(const std::string& path);

  Api& api_;
  const std::chrono::milliseconds maxAge_;
  const Clock clock_;
  std::mutex mu_;  // guards lists_
  std::map<std::string, std::shared_ptr<List>> lists_;
};

}  // namespace governor::op
