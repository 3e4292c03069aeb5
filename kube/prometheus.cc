// Prometheus instant queries with cpp-httplib; the JSON answer is reduced to one finite number
// or to its series.
#include "kube/prometheus.h"

#include <httplib.h>

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace governor::kube {
namespace {

using kube::Error;
using kube::Result;
using kube::Status;
using nlohmann::json;

struct SplitURL {
  std::string schemeHostPort;  // what httplib::Client takes
  std::string pathPrefix;      // without a trailing slash
};

// "http(s)://host[:port][/prefix]"; httplib would silently take anything else for a host name.
std::optional<SplitURL> splitURL(const std::string& url, std::string& why) {
  const size_t schemeEnd = url.find("://");
  const std::string scheme = schemeEnd == std::string::npos ? "" : url.substr(0, schemeEnd);
  if (scheme != "http" && scheme != "https") {
    why = "URL \"" + url + "\" does not start with http:// or https://";
    return std::nullopt;
  }
  const size_t hostStart = schemeEnd + 3;
  const size_t slash = url.find('/', hostStart);
  SplitURL out;
  out.schemeHostPort = url.substr(0, slash);
  if (out.schemeHostPort.size() == hostStart) {
    why = "URL \"" + url + "\" has no host";
    return std::nullopt;
  }
  if (url.find_first_of("?#") != std::string::npos) {
    why = "URL \"" + url + "\" has a query or fragment";
    return std::nullopt;
  }
  if (slash != std::string::npos) out.pathPrefix = url.substr(slash);
  while (!out.pathPrefix.empty() && out.pathPrefix.back() == '/') out.pathPrefix.pop_back();
  return out;
}

// Prometheus prints sample values with Go's strconv ('f', -1): "0.25", "NaN", "+Inf", "-Inf".
std::optional<double> parseSampleValue(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The reasons of Prometheus' errorType values, in the API's CamelCase.
std::string reasonOf(const std::string& errorType) {
  if (errorType == "bad_data") return "Invalid";
  if (errorType == "timeout" || errorType == "canceled") return "Timeout";
  if (errorType == "unavailable") return "Unavailable";
  if (errorType == "not_found") return "NotFound";
  return "InternalError";  // execution, internal, and anything newer
}

// httplib's own names ("Connection", "Read") say too little in an error message.
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "could not connect";
    case httplib::Error::Read: return "failed to read the response";
    case httplib::Error::Write: return "failed to send the request";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "could not load the CA certificates";
    case httplib::Error::SSLServerVerification: return "the server's TLS certificate did not verify";
    default: return httplib::to_string(error);
  }
}

// The string at `key` of an object; "" when it is absent or no string (json::value() would
// throw on a type mismatch, and the answer is untrusted).
std::string stringAt(const json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

Error invalidResponse(int code, std::string message) {
  return Error{Status{code, "InvalidResponse", std::move(message)}, ""};
}

std::string seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

PrometheusClient::PrometheusClient(std::string baseURL, std::chrono::milliseconds timeout)
    : baseURL_(std::move(baseURL)), timeout_(timeout) {
  const std::optional<SplitURL> split = splitURL(baseURL_, invalidURL_);
  if (!split) return;
  pathPrefix_ = split->pathPrefix;
  schemeHostPort_ = split->schemeHostPort;
  try {
    auto client = newClient();
    if (!client->is_valid()) {
      invalidURL_ = "URL \"" + baseURL_ + "\" cannot be used (TLS context failed)";
      return;
    }
    idle_.push_back(std::move(client));
  } catch (const std::exception& e) {  // httplib throws for a scheme it was built without
    invalidURL_ = "URL \"" + baseURL_ + "\": " + e.what();
  }
}

PrometheusClient::~PrometheusClient() = default;

std::unique_ptr<httplib::Client> PrometheusClient::newClient() const {
  auto client = std::make_unique<httplib::Client>(schemeHostPort_);
  const auto sec = static_cast<time_t>(timeout_.count() / 1000);
  const auto usec = static_cast<time_t>((timeout_.count() % 1000) * 1000);
  client->set_connection_timeout(sec, usec);
  client->set_read_timeout(sec, usec);
  client->set_write_timeout(sec, usec);
  client->set_keep_alive(true);
  return client;
}

kube::Error PrometheusClient::fail(const std::string& promql, int code, std::string reason, std::string message) const {
  return Error{Status{code, std::move(reason), std::move(message)},
               "prometheus " + baseURL_ + " query \"" + promql + "\""};
}

kube::Result<json> PrometheusClient::data(const std::string& promql) {
  if (!invalidURL_.empty()) return fail(promql, 0, "Invalid", invalidURL_);

  // Prometheus' own evaluation timeout too, so that it gives up when we do.
  const httplib::Params params{{"query", promql}, {"timeout", seconds(timeout_)}};
  const httplib::Headers headers{{"Accept", "application/json"}};
  std::optional<httplib::Response> response;
  httplib::Error transport = httplib::Error::Success;
  const auto started = std::chrono::steady_clock::now();
  try {
    std::unique_ptr<httplib::Client> client;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        client = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!client) client = newClient();
    // POST: a query that reads many ServiceLevels at once can be longer than a URL may be.
    httplib::Result res = client->Post(pathPrefix_ + "/api/v1/query", headers, params);
    if (res) response = res.value();
    transport = res.error();
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(client));
  } catch (const std::exception& e) {
    return fail(promql, 0, "Unavailable", e.what());
  }
  if (!response) {
    const bool slow = std::chrono::steady_clock::now() - started >= timeout_;
    if (transport == httplib::Error::ConnectionTimeout || (slow && transport == httplib::Error::Read)) {
      return fail(promql, 0, "Timeout", "timed out after " + seconds(timeout_));
    }
    return fail(promql, 0, "Unavailable", describe(transport));
  }

  auto answer = prometheusData(response->status, response->body);
  if (!answer)
    return fail(promql, answer.error().status.code, answer.error().status.reason, answer.error().status.message);
  return answer;
}

kube::Result<json> PrometheusClient::series(const std::string& promql) {
  auto answer = data(promql);
  if (!answer) return answer.error();
  auto result = prometheusSeries(*answer);
  if (!result)
    return fail(promql, result.error().status.code, result.error().status.reason, result.error().status.message);
  return result;
}

kube::Result<double> PrometheusClient::query(const std::string& promql) {
  auto answer = data(promql);
  if (!answer) return answer.error();
  auto value = prometheusValue(*answer);
  if (!value) return fail(promql, value.error().status.code, value.error().status.reason, value.error().status.message);
  return value;
}

kube::Result<json> prometheusData(int code, const std::string& body) {
  const json answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    // The excerpt goes into JSON (conditions, API answers) later.
    std::string excerpt = kube::utf8Safe(body.substr(0, 200));
    return invalidResponse(code, "HTTP " + std::to_string(code) + ", body is not a Prometheus API answer: " + excerpt);
  }
  if (stringAt(answer, "status") != "success") {
    const std::string status = stringAt(answer, "status");
    const std::string error = stringAt(answer, "error");
    return Error{Status{code, reasonOf(stringAt(answer, "errorType")),
                        !error.empty() ? error : "status " + (status.empty() ? "missing" : status)},
                 ""};
  }
  const auto dataIt = answer.find("data");
  if (dataIt == answer.end() || !dataIt->is_object()) return invalidResponse(code, "no data object");
  if (!dataIt->contains("result")) return invalidResponse(code, "no result");
  return *dataIt;
}

kube::Result<json> prometheusSeries(const json& data) {
  const std::string resultType = stringAt(data, "resultType");
  const auto resultIt = data.find("result");
  if (resultType != "vector" || resultIt == data.end() || !resultIt->is_array()) {
    return Error{Status{200, "Invalid", "query returned a " + resultType + ", want a vector"}, ""};
  }
  return *resultIt;
}

kube::Result<double> prometheusValue(const json& data) {
  const int code = 200;  // a data object comes only from a successful response
  auto invalid = [](std::string reason, std::string message) {
    return Error{Status{code, std::move(reason), std::move(message)}, ""};
  };
  const std::string resultType = stringAt(data, "resultType");
  const auto resultIt = data.find("result");
  if (resultIt == data.end()) return invalidResponse(code, "no result");
  const json* sample = nullptr;  // [timestamp, "value"]
  if (resultType == "scalar") {
    sample = &*resultIt;
  } else if (resultType == "vector") {
    if (!resultIt->is_array()) return invalidResponse(code, "vector result is not an array");
    if (resultIt->empty()) return invalid("NoData", "query returned no data");
    if (resultIt->size() > 1) {
      return invalid("Invalid", "query returned " + std::to_string(resultIt->size()) +
                                    " series, want one (aggregate it, e.g. sum)");
    }
    const json& series = resultIt->front();
    if (!series.is_object() || !series.contains("value")) return invalidResponse(code, "series has no value");
    sample = &series["value"];
  } else {
    return invalid("Invalid", "query returned a " + resultType + ", want a scalar or one series");
  }
  if (!sample->is_array() || sample->size() != 2 || !(*sample)[1].is_string()) {
    return invalidResponse(code, "sample is not [time, \"value\"]");
  }
  const std::string text = (*sample)[1].get<std::string>();
  const std::optional<double> value = parseSampleValue(text);
  if (!value) return invalidResponse(code, "sample value \"" + text + "\" is not a number");
  if (!std::isfinite(*value)) {
    // histogram_quantile gives NaN when nothing was observed in the window: no traffic is not
    // a latency, and reporting 0 would scale the workload down.
    return invalid("NoData", "query returned " + text + " (no observations in the window?)");
  }
  return *value;
}

}  // namespace governor::kube
