// What kube/client.cc and watch.cc read from the API server, on arbitrary bytes: a watch
// stream (LineDecoder, then decodeWatchEvent per line, then what the reflector takes from an
// event: watchErrorStatus, resourceVersionOf, objectKey), a list response (decodeListPage)
// and an error body (errorFromResponse). No crash, no exception. Properties: the stream splits
// into the same lines however its bytes arrive; an event has an object; listed items are
// objects with a kind and an apiVersion; error messages can go into JSON (conditions, events).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace governor::kube;
using governor::fuzz::jsonSafe;

std::vector<std::string> linesOf(std::string_view stream, size_t chunk) {
  LineDecoder decoder;
  std::vector<std::string> lines;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    for (auto& line : decoder.feed(stream.substr(at, chunk))) lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = governor::fuzz::input(data, size);

  // A watch stream, as it arrives: at once, and in pieces of a size the first byte picks.
  const std::vector<std::string> lines = linesOf(input, input.size() + 1);
  const size_t chunk = size == 0 ? 1 : 1 + data[0] % 7;
  FUZZ_CHECK(linesOf(input, chunk) == lines, "pieces of %zu bytes give other lines", chunk);
  for (const std::string& line : lines) {
    FUZZ_CHECK(!line.empty() && line.find('\n') == std::string::npos, "line \"%s\"", line.c_str());
    auto event = decodeWatchEvent(line);
    if (!event) continue;
    FUZZ_CHECK(event->object.is_object(), "an event's object is %s", event->object.dump().c_str());
    if (event->type == "ERROR") {
      const Status status = watchErrorStatus(event->object);
      FUZZ_CHECK(status.code >= 0 && status.code < 1000, "code %d", status.code);
    }
    (void)resourceVersionOf(event->object);
    (void)objectKey(event->object);
  }

  // A list response.
  const nlohmann::json body = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!body.is_discarded()) {
    auto page = decodeListPage(body, "apps/v1");
    if (page) {
      for (const auto& item : page->items) {
        FUZZ_CHECK(item.is_object() && item.contains("kind") && item.contains("apiVersion"), "item %s",
                   item.dump().c_str());
        (void)objectKey(item);
        (void)resourceVersionOf(item);
      }
    }
    (void)objectKey(body);
  }

  // An error answer.
  for (int code : {404, 409, 410, 500}) {
    const Error error = errorFromResponse(code, std::string(input), "GET deployments shop/checkout");
    FUZZ_CHECK(error.status.code == code, "code %d", error.status.code);
    FUZZ_CHECK(!error.status.reason.empty(), "no reason");
    FUZZ_CHECK(jsonSafe(error.what()), "error is not UTF-8: %s", error.what().c_str());
  }
  return 0;
}
