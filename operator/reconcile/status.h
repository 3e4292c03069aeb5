// Pure helpers for the ServiceLevel status: metav1.Condition lists and the comparison
// that decides whether a live object already holds what we want.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace governor::op {

using Json = nlohmann::json;

struct Condition {
  std::string type;
  bool status = false;
  std::string reason;
  std::string message;
};

// Returns `conditions` with `c` set: lastTransitionTime moves to `now` only when the
// status changes, as the API conventions ask.
Json setCondition(Json conditions, const Condition& c, int64_t observedGeneration, const std::string& now);
Json removeCondition(Json conditions, const std::string& type);
// The condition of that type, or null.
Json findCondition(const Json& conditions, const std::string& type);

// True when every field of `desired` is present in `live` with the same value (objects
// recursively; arrays element by element, of equal length). Fields the server adds
// (defaults, status, managedFields) do not count.
bool holds(const Json& live, const Json& desired);

// True when `object` has a controller owner reference with this uid.
bool ownedBy(const Json& object, const std::string& uid);

// RFC 3339 UTC time with seconds, like metav1.Time.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace governor::op
