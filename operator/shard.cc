#include "operator/shard.h"

#include <charconv>

#include "operator/render/render.h"

namespace governor::op {

bool Shard::owns(const std::string& ns) const {
  return count <= 1 || fnv1a(ns) % static_cast<uint64_t>(count) == static_cast<uint64_t>(index);
}

std::string Shard::leaseName() const {
  if (count <= 1) return "governor-operator";
  return "governor-operator-shard-" + std::to_string(index) + "-of-" + std::to_string(count);
}

kube::Result<Shard> parseShard(const std::string& text) {
  auto invalid = [&text] {
    return kube::Error{kube::Status{0, "Invalid", "\"" + text + "\" is not I/N with 0 <= I < N <= 64, like 0/2"}, ""};
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return invalid();
  Shard s;
  const char* end = text.data() + text.size();
  auto [p1, e1] = std::from_chars(text.data(), text.data() + slash, s.index);
  auto [p2, e2] = std::from_chars(text.data() + slash + 1, end, s.count);
  if (e1 != std::errc() || p1 != text.data() + slash || e2 != std::errc() || p2 != end) return invalid();
  if (s.index < 0 || s.count < 1 || s.count > 64 || s.index >= s.count) return invalid();
  return s;
}

}  // namespace governor::op
