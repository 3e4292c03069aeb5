// The Prometheus readings of one poll round, shared by its targets: every latency percentile of
// the histograms of one shape is read in one query per round, and so is the rate of every counter
// of one shape. Two selectors have one shape when they differ only in the values of their `=`
// matchers: `http_request_duration_seconds_bucket{namespace="shop",job="shop"}` and
// `…{namespace="cart",job="cart"}` are read together as
//
//   label_replace(histogram_quantile(0.5, sum by (le, job, namespace) (rate(
//       http_request_duration_seconds_bucket{job=~"cart|shop",namespace=~"cart|shop"}[2m]))),
//     "governor_percentile", "50", "", "")
//   or label_replace(histogram_quantile(0.9, …), "governor_percentile", "90", "", "") or …
//
// and each takes the series whose labels are its values. So N ServiceLevels with the same
// histogram cost one query per poll, not one per ServiceLevel and percentile. A lone selector's
// query is the one it would have alone (latencyQuery, counterRateQuery).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/series_selector.h"
#include "kube/prometheus.h"
#include "kube/result.h"

namespace governor::adapter {

// The label that tells the percentiles of one query apart.
inline constexpr const char* kPercentileLabel = "governor_percentile";

// What one query reads: a selector whose variable matchers (`=`, on a label it matches once,
// not `le` nor a `__` label) take each member's values, and for a histogram the percentiles
// (none: a counter's rate).
struct Shape {
  api::SeriesSelector selector;
  std::vector<size_t> variable;  // indices of its variable matchers
  std::set<int> percentiles;
};

// The one query of a shape over its members' values (each one's, in the order of `variable`):
// a variable label is matched by `=` when all members agree on it, else by `=~` and an
// alternation of their values (quoted), and then kept apart (`by`). Pure.
struct ShapeQuery {
  std::string promql;
  std::vector<size_t> by;  // the variable labels kept apart, as indices into `variable`
};
ShapeQuery shapeQuery(const Shape& shape, const std::vector<std::vector<std::string>>& members,
                      const std::string& window);

// Kept as long as its targets: what to read is added while they are made; each round
// (nextRound()) queries again, so that a reading is never served to a later round. reading() is
// called by the targets as they are measured (from any thread).
class PrometheusReads {
 public:
  PrometheusReads(kube::PrometheusClient& prometheus, std::string latencyWindow, std::string rateWindow)
      : prometheus_(prometheus), latencyWindow_(std::move(latencyWindow)), rateWindow_(std::move(rateWindow)) {}
  PrometheusReads(const PrometheusReads&) = delete;
  PrometheusReads& operator=(const PrometheusReads&) = delete;

  // A histogram's percentile (1 to 99), or a counter's rate per second summed over its series.
  // Returns what reading() takes. Not concurrently with reading().
  size_t addQuantile(const api::SeriesSelector& histogram, int percentile);
  size_t addRate(const api::SeriesSelector& counter);

  // Starts a round: the next reading() of each shape queries it again.
  void nextRound() { ++round_; }
  // The value of read `read` in the round current when called (or a later one). The first call
  // for a shape in a round queries Prometheus for all of its reads, later ones wait for that (a
  // call of a round whose query is under way, even once the next round began, takes its
  // result rather than querying again). Errors are those of the read's own query asked alone
  // (`prometheus URL query "<its query>": NoData: query returned no data`), which is what a
  // user can paste into Prometheus to see the same.
  kube::Result<double> reading(size_t read);

  // The queries made so far (for tests and benchmarks).
  size_t queries() const { return queries_; }

 private:
  struct ShapeReads;
  struct Read {
    ShapeReads* shape = nullptr;                // in shapes_
    std::vector<std::string> values;            // of its shape's variable matchers
    int percentile = 0;                         // 0: a rate
    std::optional<kube::Result<double>> value;  // of its shape's round; guarded by its shape's mutex
  };
  struct ShapeReads {
    Shape shape;
    std::string window;
    std::vector<size_t> reads;
    std::mutex mutex;
    uint64_t round = 0;  // of its reads' values, 0: none yet; guarded by mutex
  };
  size_t add(const api::SeriesSelector& selector, int percentile);
  void readShape(ShapeReads& shape);
  kube::Error asAlone(const Read& read, const kube::Error& error) const;

  kube::PrometheusClient& prometheus_;
  const std::string latencyWindow_, rateWindow_;
  std::vector<Read> reads_;
  // By key: kind, the selector without its variable values; nodes, so that a Read's pointer stays valid.
  std::map<std::string, ShapeReads> shapes_;
  std::atomic<size_t> queries_ = 0;
  std::atomic<uint64_t> round_ = 1;
};

}  // namespace governor::adapter
