#include "operator/render/slo.h"

#include "kube/duration.h"

namespace governor::op {

std::string decimal(int64_t units, int scale) {
  bool negative = units < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(units) : static_cast<uint64_t>(units);
  uint64_t divisor = 1;
  for (int i = 0; i < scale; ++i) divisor *= 10;
  std::string out = std::to_string(magnitude / divisor);
  std::string fraction = std::to_string(magnitude % divisor);
  fraction.insert(0, static_cast<size_t>(scale) - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) out += "." + fraction;
  return negative && out != "0" ? "-" + out : out;
}

std::string ratioOf(const Percent& p) { return decimal(p.micro, 8); }
std::string budgetOf(const Percent& p) { return decimal(100000000 - p.micro, 8); }
std::string percentText(const Percent& p) { return p.text() + "%"; }

std::string promqlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string selector(const Labels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ",";
    out += k + "=" + promqlString(v);
  }
  return out + "}";
}

Labels seriesLabels(const ServiceLevel& sl, const std::string& slo) {
  Labels l{{"namespace", sl.namespaceName}, {"service_level", sl.name}};
  if (!slo.empty()) l["slo"] = slo;
  return l;
}

std::string errorsRecord(milliseconds window) {
  return "governor:slo_errors:ratio_rate" + kube::formatDuration(window);
}

}  // namespace governor::op
