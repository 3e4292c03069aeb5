// Redis replies as the metrics adapter reads them (metrics-adapter/sources/redis_source.h:
// hiredis' reader, bounded, then the reading of LLEN/XLEN, XINFO GROUPS, XRANGE and INFO) on
// arbitrary bytes from a server: no crash, no exception, no unbounded allocation, no overflow.
// Counts are >= 0 and print back as RESP that reads as the same count; a group's backlog is
// at least its pending count; the keyspace counters print back as INFO text that reads the same.
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics-adapter/sources/redis_info.h"
#include "metrics-adapter/sources/redis_source.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace governor::adapter;
using governor::fuzz::jsonSafe;

// Errors are served in the metrics API's answers: they must go into JSON.
template <class T>
bool usable(const governor::kube::Result<T>& result) {
  if (!result) FUZZ_CHECK(jsonSafe(result.error().what()), "error is not UTF-8: %s", result.error().what().c_str());
  return result.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view resp = governor::fuzz::input(data, size);

  for (const char* command : {"LLEN", "XLEN"}) {
    auto count = readRedisCount(resp, command);
    if (!usable(count)) continue;
    FUZZ_CHECK(*count >= 0, "%s reads %lld", command, static_cast<long long>(*count));
    const std::string printed = ":" + std::to_string(*count) + "\r\n";
    auto back = readRedisCount(printed, command);
    FUZZ_CHECK(back.ok() && *back == *count, "%lld prints as %s, which does not read back",
               static_cast<long long>(*count), printed.c_str());
  }

  auto entries = readRedisEntries(resp);
  if (usable(entries))
    FUZZ_CHECK(*entries >= 0 && *entries <= (1 << 20), "XRANGE reads %lld entries", static_cast<long long>(*entries));

  auto group = readRedisGroup(resp, "jobs", "workers");
  if (usable(group)) {
    FUZZ_CHECK(group->pending >= 0, "pending %lld", static_cast<long long>(group->pending));
    FUZZ_CHECK(group->lag.has_value() != group->entriesAfter.has_value(), "a group needs a lag or an XRANGE start");
    if (group->lag) FUZZ_CHECK(*group->lag >= 0, "lag %lld", static_cast<long long>(*group->lag));
    for (std::optional<int64_t> after : {std::optional<int64_t>(), std::optional<int64_t>(entries ? *entries : 0),
                                         std::optional<int64_t>(INT64_MAX)}) {
      auto backlog = groupBacklogOf(*group, after);
      if (usable(backlog))
        FUZZ_CHECK(*backlog >= group->pending, "backlog %lld < pending", static_cast<long long>(*backlog));
    }
  }

  // INFO stats, as a bulk string and as the text itself.
  auto stats = readRedisKeyspaceStats(resp);
  auto fromText = parseKeyspaceStats(resp);
  for (const auto* read : {&stats, &fromText}) {
    if (!usable(*read)) continue;
    const std::string printed = "# Stats\r\nkeyspace_hits:" + std::to_string((*read)->hits) +
                                "\r\nkeyspace_misses:" + std::to_string((*read)->misses) + "\r\n";
    auto back = parseKeyspaceStats(printed);
    FUZZ_CHECK(back.ok() && *back == read->value(), "stats print as %s, which reads back otherwise", printed.c_str());
  }
  return 0;
}
