// See redis_access.h.
#include "metrics-adapter/redis_access.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "kube/config.h"
#include "metrics-adapter/api/metrics_api.h"
#include "metrics-adapter/sources/redis_source.h"

namespace governor::adapter {
namespace {

using Bytes = std::array<unsigned char, 16>;

// An IPv4 or IPv6 literal in the 16-byte form (IPv4 mapped into ::ffff:0:0/96), as inet_pton
// reads it: "10.1" or "0x0a000009" are not IP literals here, and therefore DNS names.
std::optional<Bytes> ipLiteral(const std::string& text, bool* v4 = nullptr) {
  Bytes out{};
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    if (v4) *v4 = true;
    return out;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    if (v4) *v4 = false;
    return out;
  }
  return std::nullopt;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A Service's name (DNS-1035 label): what NAME may be. It starts with a letter, so no IP-like
// number ("167772169") passes for one.
bool isServiceName(const std::string& s) {
  if (s.empty() || s.size() > 63 || !std::islower(static_cast<unsigned char>(s.front())) || s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '-'; });
}

std::vector<std::string> labels(const std::string& host) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t dot = host.find('.', start);
    out.push_back(host.substr(start, dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

// The entries of a comma-separated flag, without the blanks around them.
std::vector<std::string> entries(const std::string& list) {
  std::vector<std::string> out;
  for (const auto& entry : splitNonEmpty(list, ',')) {
    const size_t first = entry.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    out.push_back(entry.substr(first, entry.find_last_not_of(" \t") - first + 1));
  }
  return out;
}

kube::Error forbidden(const std::string& message) { return kube::Error{kube::Status{0, "Forbidden", message}, ""}; }

}  // namespace

bool Cidr::contains(const Bytes& address) const {
  const int whole = prefix / 8;
  if (!std::equal(network.begin(), network.begin() + whole, address.begin())) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (network[whole] & mask) == (address[whole] & mask);
}

kube::Result<RedisAllowlist> parseRedisAllowlist(const std::string& cidrs, const std::string& addresses) {
  RedisAllowlist out;
  for (const auto& entry : entries(cidrs)) {
    const size_t slash = entry.find('/');
    bool v4 = false;
    const auto ip = ipLiteral(entry.substr(0, slash), &v4);
    const int maxBits = v4 ? 32 : 128;
    int bits = maxBits;
    if (ip && slash != std::string::npos) {
      const std::string text = entry.substr(slash + 1);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bits);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size() || bits < 0 || bits > maxBits) {
        bits = -1;
      }
    }
    if (!ip || bits < 0) {
      return kube::Error{
          kube::Status{0, "Invalid", "\"" + entry + "\" is not a CIDR (10.200.0.0/16, fd00::/8) or an IP address"}, ""};
    }
    Cidr cidr{*ip, bits + (v4 ? 96 : 0)};
    // The host bits do not count, as in 10.200.0.1/16.
    for (int i = cidr.prefix; i < 128; ++i) cidr.network[i / 8] &= static_cast<unsigned char>(~(0x80 >> (i % 8)));
    out.cidrs.push_back(cidr);
  }
  for (const auto& entry : entries(addresses)) {
    const auto where = parseRedisAddress(entry);
    if (!where || entry.find(':') == std::string::npos) {
      return kube::Error{kube::Status{0, "Invalid", "\"" + entry + "\" is not host:port"}, ""};
    }
    out.addresses.push_back(lower(entry));
  }
  return out;
}

kube::Result<std::string> allowedRedisAddress(const std::string& address, const std::string& ns,
                                              const RedisAllowlist& allowlist) {
  const auto where = parseRedisAddress(address);
  if (!where) return kube::Error{kube::Status{0, "Invalid", "address \"" + address + "\" is not host:port"}, ""};
  const std::string refused = "address " + address + " is not allowed: ";
  if (const auto ip = ipLiteral(where->host)) {
    for (const auto& cidr : allowlist.cidrs) {
      if (cidr.contains(*ip)) return address;
    }
    return forbidden(refused + "an IP address must be inside the adapter's --redis-allowed-cidrs");
  }
  if (std::find(allowlist.addresses.begin(), allowlist.addresses.end(), lower(address)) != allowlist.addresses.end()) {
    return address;
  }
  const std::string host = lower(where->host);
  const auto parts = labels(host);
  const bool serviceOfNs =
      isServiceName(parts[0]) &&
      (parts.size() == 1 ||
       (parts.size() >= 2 && parts[1] == ns &&
        (parts.size() == 2 || (parts.size() == 3 && parts[2] == "svc") ||
         (parts.size() == 5 && parts[2] == "svc" && parts[3] == "cluster" && parts[4] == "local"))));
  if (serviceOfNs) {
    if (parts.size() > 1) return address;
    return parts[0] + "." + ns + ".svc:" + std::to_string(where->port);
  }
  return forbidden(refused + "a host name must be a Service of namespace " + ns + " (NAME, NAME." + ns + ", NAME." +
                   ns + ".svc or NAME." + ns +
                   ".svc.cluster.local) or be one of the adapter's --redis-allowed-addresses");
}

kube::Result<std::string> redisPassword(const std::optional<api::Json>& secret, const std::string& ns,
                                        const api::SecretKeyRef& ref) {
  const std::string name = "Secret " + ns + "/" + ref.name;
  const std::string label = std::string(api::kRedisCredentialsLabel) + "=" + api::kRedisCredentialsValue;
  const std::string howTo = "the metrics adapter reads Redis passwords only from Secrets labelled " + label +
                            " (kubectl label secret -n " + ns + " " + ref.name + " " + label + ")";
  if (!secret) {
    return forbidden(name + " is missing or lacks the label " + label + ": " + howTo);
  }
  const auto found = secret->value("metadata", api::Json::object()).value("labels", api::Json::object());
  if (!found.contains(api::kRedisCredentialsLabel) ||
      found[api::kRedisCredentialsLabel] != api::kRedisCredentialsValue) {
    return forbidden(name + " lacks the label " + label + ": " + howTo);
  }
  const auto data = secret->value("data", api::Json::object());
  const std::string encoded =
      data.contains(ref.key) && data[ref.key].is_string() ? data[ref.key].get<std::string>() : "";
  auto decoded = kube::decodeBase64(encoded);
  if (encoded.empty() || !decoded) {
    return kube::Error{kube::Status{404, "NotFound", name + " has no key " + ref.key}, ""};
  }
  return *decoded;
}

}  // namespace governor::adapter
