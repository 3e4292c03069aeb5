// The keyspace counters of a Redis INFO reply, read by a pure function: the adapter exports
// them for each ServiceLevel's cache. It takes any bytes a server may send (fuzz-friendly:
// no allocation beyond the error text, no exception, no assumption about the layout).
#pragma once

#include <cstdint>
#include <string_view>

#include "kube/result.h"

namespace governor::adapter {

// Counters since the server started (or since CONFIG RESETSTAT).
struct KeyspaceStats {
  uint64_t hits = 0;    // keyspace_hits: lookups of a key that existed
  uint64_t misses = 0;  // keyspace_misses: lookups of a key that did not
  bool operator==(const KeyspaceStats&) const = default;
};

// keyspace_hits and keyspace_misses of the text of INFO (or INFO stats): lines "field:value"
// ending in \r\n or \n, "# Section" headers and blank lines ignored. An error (reason
// InvalidResponse) when either is missing, given twice, or not a decimal integer of 64 bits.
kube::Result<KeyspaceStats> parseKeyspaceStats(std::string_view info);

}  // namespace governor::adapter
