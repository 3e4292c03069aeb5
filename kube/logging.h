// Log set-up shared by both binaries: spdlog at a level, as text for people or as one
// JSON object per line for clusters.
#pragma once

#include <string>

#include "kube/result.h"

namespace governor::kube {

// level: trace|debug|info|warn|error; format: json|text.
Outcome configureLogging(const std::string& level, const std::string& format);

}  // namespace governor::kube
