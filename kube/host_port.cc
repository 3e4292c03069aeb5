#include "kube/host_port.h"

#include <charconv>

namespace governor::kube {
namespace {

// A port of `minPort`..65535; `defaultPort` when none is written, unless it is negative.
std::optional<HostPort> parse(std::string_view rest, int defaultPort, int minPort) {
  HostPort out{"", defaultPort};
  const bool portRequired = defaultPort < 0;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (rest.empty()) return out.host.empty() || portRequired ? std::nullopt : std::optional(out);
    if (!rest.starts_with(':')) return std::nullopt;
    rest.remove_prefix(1);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      out.host = std::string(rest);
      return out.host.empty() || portRequired ? std::nullopt : std::optional(out);
    }
    out.host = std::string(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out.port);
  if (out.host.empty() || ec != std::errc() || end != rest.data() + rest.size() || out.port < minPort ||
      out.port > 65535) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<HostPort> parseHostPort(std::string_view text, int defaultPort) { return parse(text, defaultPort, 1); }

std::optional<HostPort> parseBindAddress(std::string_view text) {
  if (text.starts_with(':')) return parse("0.0.0.0" + std::string(text), -1, 0);
  return parse(text, -1, 0);
}

std::optional<HostPort> urlHostPort(std::string_view url) {
  for (auto [scheme, port] : {std::pair{std::string_view("https://"), 443}, {std::string_view("http://"), 80}}) {
    if (!url.starts_with(scheme)) continue;
    std::string_view authority = url.substr(scheme.size());
    authority = authority.substr(0, authority.find('/'));
    return parseHostPort(authority, port);
  }
  return std::nullopt;
}

}  // namespace governor::kube
