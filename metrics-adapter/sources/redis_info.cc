// parseKeyspaceStats: see redis_info.h.
#include "metrics-adapter/sources/redis_info.h"

#include <charconv>
#include <optional>
#include <string>
#include <system_error>

namespace governor::adapter {
namespace {

kube::Error invalid(const std::string& message) {
  return kube::Error{kube::Status{0, "InvalidResponse", "INFO stats: " + message}, ""};
}

}  // namespace

kube::Result<KeyspaceStats> parseKeyspaceStats(std::string_view info) {
  std::optional<uint64_t> hits;
  std::optional<uint64_t> misses;
  while (!info.empty()) {
    const size_t end = info.find('\n');
    std::string_view line = info.substr(0, end);
    info.remove_prefix(end == std::string_view::npos ? info.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view field = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    std::optional<uint64_t>* slot = field == "keyspace_hits" ? &hits : field == "keyspace_misses" ? &misses : nullptr;
    if (slot == nullptr) continue;
    if (slot->has_value()) return invalid(std::string(field) + " is given twice");
    uint64_t n = 0;
    const auto [last, error] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || error != std::errc() || last != value.data() + value.size()) {
      return invalid(std::string(field) + " is not a count: \"" + kube::utf8Safe(value.substr(0, 32)) + "\"");
    }
    *slot = n;
  }
  if (!hits) return invalid("no keyspace_hits field");
  if (!misses) return invalid("no keyspace_misses field");
  return KeyspaceStats{*hits, *misses};
}

}  // namespace governor::adapter
