#include "kube/logging.h"

#include <algorithm>

#include <spdlog/pattern_formatter.h>

namespace governor::kube {
namespace {

// The fields of the line being logged on this thread. The default logger is synchronous: its
// sinks format a line on the thread that logs it, while log::write holds the fields here.
thread_local const log::Fields* tFields = nullptr;

// A value as JSON (a string with its quotes); bytes that are not UTF-8 become U+FFFD.
std::string jsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A text value as it is, or quoted when it would not read back as one value.
std::string textValue(const nlohmann::json& value) {
  if (!value.is_string()) return jsonText(value);
  const auto& s = value.get_ref<const std::string&>();
  bool plain = !s.empty() && std::none_of(s.begin(), s.end(), [](unsigned char c) {
    return c <= ' ' || c == '"' || c == '=' || c == 0x7f;
  });
  return plain ? s : jsonText(value);
}

void append(spdlog::memory_buf_t& dest, const std::string& text) {
  dest.append(text.data(), text.data() + text.size());
}

// %j: the message as a JSON string, so that any text stays valid JSON.
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    append(dest, jsonText(std::string(msg.payload.data(), msg.payload.size())));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

// %F: the line's fields, as `,"key":value` (JSON) or ` key=value` (text).
class FieldsFlag : public spdlog::custom_flag_formatter {
 public:
  explicit FieldsFlag(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (!tFields) return;
    for (const auto& [key, value] : *tFields) {
      append(dest, json_ ? "," + jsonText(key) + ":" + jsonText(value) : " " + key + "=" + textValue(value));
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<FieldsFlag>(json_); }

 private:
  bool json_;
};

}  // namespace

Outcome configureLogging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Error{Status{0, "Invalid", "--log-level \"" + level + "\": use trace, debug, info, warn or error"}, ""};
  }
  // JSON for machines in UTC, text for people in local time.
  auto formatter = std::make_unique<spdlog::pattern_formatter>(format == "json" ? spdlog::pattern_time_type::utc
                                                                                : spdlog::pattern_time_type::local);
  if (format == "json") {
    formatter->add_flag<JsonMessage>('j').add_flag<FieldsFlag>('F', true).set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":%j%F})");
  } else if (format == "text") {
    formatter->add_flag<FieldsFlag>('F', false).set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v%F");
  } else {
    return Error{Status{0, "Invalid", "--log-format \"" + format + "\": use json or text"}, ""};
  }
  spdlog::set_level(lvl);
  spdlog::set_formatter(std::move(formatter));
  return Ok{};
}

namespace log {

Fields keyFields(const std::string& nameField, const std::string& key) {
  if (key.empty()) return {};
  auto slash = key.find('/');
  if (slash == std::string::npos) return {{nameField, key}};
  return {{"namespace", key.substr(0, slash)}, {nameField, key.substr(slash + 1)}};
}

void write(spdlog::level::level_enum level, const std::string& msg, const Fields& fields) {
  tFields = &fields;
  spdlog::log(level, msg);
  tFields = nullptr;
}

}  // namespace log
}  // namespace governor::kube
