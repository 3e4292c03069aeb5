// PrometheusReads; see prometheus_reads.h.
#include "metrics-adapter/prometheus_reads.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "metrics-adapter/sources/prometheus_source.h"

namespace governor::adapter {
namespace {

// The value as an RE2 pattern that matches it alone (Prometheus anchors every regex).
std::string regexQuote(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (std::string_view(R"(\.+*?()|[]{}^$)").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Whether matcher `i` of `s` may take a value per member: `=` on a label it matches once, and
// not one whose grouping would change the query (le, the percentile's, __name__ and the like).
bool variable(const api::SeriesSelector& s, size_t i) {
  const api::LabelMatcher& m = s.matchers[i];
  if (m.op != "=" || m.label == "le" || m.label == kPercentileLabel || m.label.starts_with("__")) return false;
  size_t times = 0;
  for (const auto& other : s.matchers) times += other.label == m.label;
  return times == 1;
}

}  // namespace

ShapeQuery shapeQuery(const Shape& shape, const std::vector<std::vector<std::string>>& members,
                      const std::string& window) {
  ShapeQuery out;
  api::SeriesSelector selector = shape.selector;
  std::vector<std::string> by;
  for (size_t k = 0; k < shape.variable.size(); ++k) {
    std::set<std::string> values;
    for (const auto& member : members) values.insert(member.at(k));
    api::LabelMatcher& m = selector.matchers.at(shape.variable[k]);
    if (values.size() == 1) {
      m.value = *values.begin();
      continue;
    }
    m.op = "=~";
    m.value.clear();
    for (auto v = values.begin(); v != values.end(); ++v) m.value += (v == values.begin() ? "" : "|") + regexQuote(*v);
    out.by.push_back(k);
    by.push_back(m.label);
  }
  const std::string series = api::renderSeriesSelector(selector);
  if (shape.percentiles.empty()) {
    out.promql = counterRateQuery(series, window, by);
  } else if (shape.percentiles.size() == 1) {
    out.promql = latencyQuery(series, *shape.percentiles.begin() / 100.0, window, by);
  } else {
    for (int p : shape.percentiles) {
      out.promql += (out.promql.empty() ? "" : " or ") + std::string("label_replace(") +
                    latencyQuery(series, p / 100.0, window, by) + ", \"" + kPercentileLabel + "\", \"" +
                    std::to_string(p) + "\", \"\", \"\")";
    }
  }
  return out;
}

size_t PrometheusReads::addQuantile(const api::SeriesSelector& histogram, int percentile) {
  return add(histogram, percentile);
}

size_t PrometheusReads::addRate(const api::SeriesSelector& counter) { return add(counter, 0); }

size_t PrometheusReads::add(const api::SeriesSelector& selector, int percentile) {
  Shape shape{selector, {}, {}};
  Read read;
  for (size_t i = 0; i < selector.matchers.size(); ++i) {
    if (!variable(selector, i)) continue;
    shape.variable.push_back(i);
    read.values.push_back(selector.matchers[i].value);
    shape.selector.matchers[i].value.clear();
  }
  std::string key = (percentile ? "quantile " : "rate ") + api::renderSeriesSelector(shape.selector);
  for (size_t i : shape.variable) key += " " + std::to_string(i);
  const std::string& window = percentile ? latencyWindow_ : rateWindow_;
  ShapeReads& reads = shapes_[key];
  if (reads.reads.empty()) {
    reads.shape = std::move(shape);
    reads.window = window;
  }
  if (percentile) reads.shape.percentiles.insert(percentile);
  read.shape = &reads;
  read.percentile = percentile;
  reads_.push_back(std::move(read));
  reads.reads.push_back(reads_.size() - 1);
  return reads_.size() - 1;
}

kube::Result<double> PrometheusReads::reading(size_t read) {
  const uint64_t round = round_;  // before waiting: a query under way may be this round's
  ShapeReads& shape = *reads_.at(read).shape;
  std::lock_guard lock(shape.mutex);
  if (shape.round < round) {
    readShape(shape);
    shape.round = round;
  }
  return *reads_[read].value;
}

kube::Error PrometheusReads::asAlone(const Read& read, const kube::Error& error) const {
  // Its own query: its shape with its values and its percentile alone.
  const ShapeReads& reads = *read.shape;
  std::set<int> percentile;
  if (read.percentile) percentile.insert(read.percentile);
  const std::string alone =
      shapeQuery(Shape{reads.shape.selector, reads.shape.variable, percentile}, {read.values}, reads.window).promql;
  return kube::Error{error.status, "prometheus " + prometheus_.baseURL() + " query \"" + alone + "\""};
}

void PrometheusReads::readShape(ShapeReads& shape) {
  std::vector<std::vector<std::string>> members;
  for (size_t i : shape.reads) members.push_back(reads_[i].values);
  const ShapeQuery query = shapeQuery(shape.shape, members, shape.window);
  ++queries_;
  const kube::Result<nlohmann::json> series = prometheus_.series(query.promql);
  // Each series by its percentile and the values of the labels kept apart.
  std::map<std::pair<int, std::vector<std::string>>, const nlohmann::json*> found;
  const bool onePercentile = shape.shape.percentiles.size() <= 1;
  const int only = onePercentile && !shape.shape.percentiles.empty() ? *shape.shape.percentiles.begin() : 0;
  if (series) {
    for (const auto& s : series.value()) {
      const nlohmann::json labels = s.is_object() ? s.value("metric", nlohmann::json::object()) : nlohmann::json();
      if (!labels.is_object()) continue;
      int percentile = only;
      if (!onePercentile) percentile = std::atoi(labels.value(kPercentileLabel, "0").c_str());
      std::vector<std::string> values;
      for (size_t k : query.by)
        values.push_back(labels.value(shape.shape.selector.matchers[shape.shape.variable[k]].label, ""));
      found.emplace(std::pair{percentile, std::move(values)}, &s);
    }
  }
  for (size_t i : shape.reads) {
    Read& read = reads_[i];
    if (!series) {
      read.value = asAlone(read, series.error());
      continue;
    }
    std::vector<std::string> values;
    for (size_t k : query.by) values.push_back(read.values[k]);
    auto it = found.find({read.percentile, values});
    // As if asked alone: its one series, or none.
    nlohmann::json data{{"resultType", "vector"}, {"result", nlohmann::json::array()}};
    if (it != found.end()) data["result"].push_back(*it->second);
    kube::Result<double> value = kube::prometheusValue(data);
    read.value = value ? value : kube::Result<double>(asAlone(read, value.error()));
  }
}

}  // namespace governor::adapter
