// Times on the Kubernetes wire: metav1.Time (RFC 3339, seconds) and metav1.MicroTime.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace governor::kube {

// "2026-12-06T07:00:00Z": RFC 3339 UTC with seconds, metav1.Time's wire form.
std::string rfc3339(std::chrono::system_clock::time_point t);
// The time rfc3339 wrote; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text);
// "2026-01-02T15:04:05.000000Z", metav1.MicroTime's wire form.
std::string microTime(std::chrono::system_clock::time_point t);

}  // namespace governor::kube
