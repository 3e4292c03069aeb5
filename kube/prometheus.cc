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
    httplib::Result res = client->Get(pathPrefix_ + "/api/v1/query", params, headers);
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

  const int code = response->status;
  const json body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    std::string excerpt = response->body.substr(0, 200);
    return fail(promql, code, "InvalidResponse",
                "HTTP " + std::to_string(code) + ", body is not a Prometheus API answer: " + excerpt);
  }
  if (body.value("status", "") != "success") {
    const std::string errorType = body.value("errorType", "");
    return fail(promql, code, reasonOf(errorType), body.value("error", "status " + body.value("status", "missing")));
  }

  const auto dataIt = body.find("data");
  if (dataIt == body.end() || !dataIt->is_object()) return fail(promql, code, "InvalidResponse", "no data object");
  if (!dataIt->contains("result")) return fail(promql, code, "InvalidResponse", "no result");
  return *dataIt;
}

kube::Result<json> PrometheusClient::series(const std::string& promql) {
  auto answer = data(promql);
  if (!answer) return answer.error();
  const std::string resultType = answer->value("resultType", "");
  const json& result = (*answer)["result"];
  if (resultType != "vector" || !result.is_array()) {
    return fail(promql, 200, "Invalid", "query returned a " + resultType + ", want a vector");
  }
  return result;
}

kube::Result<double> PrometheusClient::query(const std::string& promql) {
  auto answer = data(promql);
  if (!answer) return answer.error();
  const int code = 200;  // data() answers only for a successful response
  const std::string resultType = answer->value("resultType", "");
  const auto resultIt = answer->find("result");
  const json* sample = nullptr;  // [timestamp, "value"]
  if (resultType == "scalar") {
    sample = &*resultIt;
  } else if (resultType == "vector") {
    if (!resultIt->is_array()) return fail(promql, code, "InvalidResponse", "vector result is not an array");
    if (resultIt->empty()) return fail(promql, code, "NoData", "query returned no data");
    if (resultIt->size() > 1) {
      return fail(promql, code, "Invalid",
                  "query returned " + std::to_string(resultIt->size()) + " series, want one (aggregate it, e.g. sum)");
    }
    const json& series = resultIt->front();
    if (!series.is_object() || !series.contains("value")) {
      return fail(promql, code, "InvalidResponse", "series has no value");
    }
    sample = &series["value"];
  } else {
    return fail(promql, code, "Invalid", "query returned a " + resultType + ", want a scalar or one series");
  }
  if (!sample->is_array() || sample->size() != 2 || !(*sample)[1].is_string()) {
    return fail(promql, code, "InvalidResponse", "sample is not [time, \"value\"]");
  }
  const std::string text = (*sample)[1].get<std::string>();
  const std::optional<double> value = parseSampleValue(text);
  if (!value) return fail(promql, code, "InvalidResponse", "sample value \"" + text + "\" is not a number");
  if (!std::isfinite(*value)) {
    // histogram_quantile gives NaN when nothing was observed in the window: no traffic is not
    // a latency, and reporting 0 would scale the workload down.
    return fail(promql, code, "NoData", "query returned " + text + " (no observations in the window?)");
  }
  return *value;
}

}  // namespace governor::kube
