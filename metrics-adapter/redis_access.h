// What a ServiceLevel may make the adapter do with Redis: which addresses it may connect to
// (its own namespace's Services, and what the adapter's flags allow) and which Secrets may
// give it a password (only those labelled governor.io/redis-credentials=true). Pure: no
// connection, no DNS lookup, no API request; docs/metrics-adapter.md explains both rules.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "api/servicelevel.h"
#include "kube/result.h"

namespace governor::adapter {

// An IPv4 or IPv6 network. IPv4 is kept as an IPv4-mapped IPv6 address (::ffff:a.b.c.d), so that
// [::ffff:10.0.0.9] and 10.0.0.9 are one address to the allowlist as they are to connect().
struct Cidr {
  std::array<unsigned char, 16> network{};
  int prefix = 128;  // in bits of the 16-byte form

  bool contains(const std::array<unsigned char, 16>& address) const;
};

// The adapter's --redis-allowed-cidrs and --redis-allowed-addresses.
struct RedisAllowlist {
  std::vector<Cidr> cidrs;             // IP literals inside one of these are allowed
  std::vector<std::string> addresses;  // exact "host:port" (host in lower case) allowed as well
};

// Reads the flags' comma-separated lists: CIDRs ("10.200.0.0/16", "fd00::/8"; a bare IP is one
// address) and host:port pairs ("redis.queues.svc:6379"). An error names the entry at fault.
kube::Result<RedisAllowlist> parseRedisAllowlist(const std::string& cidrs, const std::string& addresses);

// The address to connect to for a queue at `address` of a ServiceLevel in namespace `ns`, or
// why it is refused (reason Forbidden; the message repeats only what the ServiceLevel wrote,
// never the allowlist itself or anything resolved). Allowed:
//   - a Service of `ns`: NAME, NAME.NS, NAME.NS.svc or NAME.NS.svc.cluster.local (any case). A
//     bare NAME is connected to as NAME.NS.svc: the adapter's own DNS search path would find it
//     in the adapter's namespace instead;
//   - an IP literal inside one of `allowlist.cidrs`;
//   - an address equal to one of `allowlist.addresses`.
// Every other DNS name is refused: it is never resolved.
kube::Result<std::string> allowedRedisAddress(const std::string& address, const std::string& ns,
                                              const RedisAllowlist& allowlist);

// The password in key `ref.key` of `secret`, the Secret ns/ref.name as the adapter's Secret
// informer holds it (nullopt: the informer has no such Secret, as it only holds Secrets labelled
// governor.io/redis-credentials=true). Refused (reason Forbidden), naming the Secret and the
// label, unless the Secret carries that label with value "true".
kube::Result<std::string> redisPassword(const std::optional<api::Json>& secret, const std::string& ns,
                                        const api::SecretKeyRef& ref);

}  // namespace governor::adapter
