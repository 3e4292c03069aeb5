// The HTTP API of the adapter as a pure function of the cache and the targets:
// discovery, OpenAPI, and the custom and external metric values. No I/O, so the whole
// surface is unit-tested; server.cc puts it behind TLS and authentication.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics-adapter/cache.h"
#include "metrics-adapter/targets.h"

namespace governor::adapter {

using Json = nlohmann::json;

struct ApiResponse {
  int status = 200;
  Json body;
};

class MetricsApi {
 public:
  MetricsApi(const MetricCache& cache, const Targets& targets, const std::string& latencyWindow = "2m");

  // A GET of `path` with its decoded query parameters.
  ApiResponse get(const std::string& path, const std::map<std::string, std::string>& query) const;

 private:
  ApiResponse external(const std::string& ns, const std::string& metric, const std::string& labelSelector) const;
  ApiResponse custom(const std::string& ns, const std::string& resource, const std::string& name,
                     const std::string& metric, const std::string& labelSelector) const;

  const MetricCache& cache_;
  const Targets& targets_;
  int64_t latencyWindowSeconds_;
};

// A 400 answer for a request that no route can serve and whose text cannot go into a JSON
// answer or a SubjectAccessReview: a path or labelSelector that is not UTF-8 (the server decodes
// %XX, so any bytes arrive). nullopt for every other request. The server asks before it
// authorizes; get() asks too.
std::optional<ApiResponse> malformedRequest(const std::string& path, const std::string& labelSelector);

// The non-empty pieces of `text` between `separator`s: ("/apis/g//v", '/') gives apis, g, v;
// ("a,,b", ',') gives a, b.
std::vector<std::string> splitNonEmpty(const std::string& text, char separator);

// The segments of a request path. Authorization reads the path with it too, so that it
// judges the request that is served.
inline std::vector<std::string> pathSegments(const std::string& path) { return splitNonEmpty(path, '/'); }

// A metav1.Status for a failed request.
Json statusBody(int code, const std::string& reason, const std::string& message);

// A Kubernetes quantity for a measured value: "50", "1500m", "812500u".
std::string quantityString(double value);

}  // namespace governor::adapter
