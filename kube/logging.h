// Log set-up shared by both binaries: spdlog at a level, as text for people or as one
// JSON object per line for clusters, and log lines with key/value fields.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "kube/result.h"

namespace governor::kube {

// level: trace|debug|info|warn|error; format: json|text.
Outcome configureLogging(const std::string& level, const std::string& format);

namespace log {

// A line's fields, in order: a string or a number each, e.g. {{"namespace", "shop"},
// {"duration", 0.25}}. JSON puts each at the top level next to "msg"; text appends
// ` key=value`, the value quoted when it has a space, a quote, an `=` or a control
// character. A plain spdlog call logs a line without fields.
using Fields = std::vector<std::pair<std::string, nlohmann::json>>;

// The fields of a line about the object `key`, "namespace/name" or "name": "namespace" and
// `nameField` (e.g. "servicelevel"); none for "".
Fields keyFields(const std::string& nameField, const std::string& key);

void write(spdlog::level::level_enum level, const std::string& msg, const Fields& fields);
inline void debug(const std::string& msg, const Fields& fields) { write(spdlog::level::debug, msg, fields); }
inline void info(const std::string& msg, const Fields& fields) { write(spdlog::level::info, msg, fields); }
inline void warn(const std::string& msg, const Fields& fields) { write(spdlog::level::warn, msg, fields); }
inline void error(const std::string& msg, const Fields& fields) { write(spdlog::level::err, msg, fields); }

}  // namespace log
}  // namespace governor::kube
