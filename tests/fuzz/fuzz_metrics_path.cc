// The metrics adapter's request handling without the socket: a request path (percent-decoded
// by the server, so any bytes) and a labelSelector, through malformedRequest, the attributes
// authorization judges (requestAttributes, subjectAccessReview) and MetricsApi::get, against a
// few targets with values. No crash, no exception; every answer and every SubjectAccessReview
// serializes as JSON; the path is judged and served by its segments only, so "/" + the
// segments joined is judged alike and answered with the same status.
//
// Input: the path, then (after the first newline) the labelSelector.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics-adapter/api/authz.h"
#include "metrics-adapter/api/metrics_api.h"
#include "metrics-adapter/cache.h"
#include "metrics-adapter/targets.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace governor::adapter;
using governor::fuzz::dumps;

const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1'700'000'000)};

// A target of ServiceLevel shop/checkout.
MetricTarget ofCheckout(MetricTarget::Api api, const std::string& key, const std::string& metric) {
  MetricTarget t;
  t.api = api;
  t.key = key;
  t.namespaceName = "shop";
  t.metric = metric;
  t.serviceLevel = "checkout";
  return t;
}

// One backlog (external), one latency of a Deployment and one hit ratio (custom), measured;
// and a backlog in another namespace that never was.
struct World {
  MetricCache cache{[] { return kNow; }};
  Targets targets;
  MetricsApi api{cache, targets, "2m"};

  World() {
    std::vector<MetricTarget> all;
    MetricTarget backlog =
        ofCheckout(MetricTarget::Api::External, "external/shop/governor_queue_backlog/checkout", kBacklogMetric);
    backlog.labels = {{"servicelevel", "checkout"}, {"queue", "jobs"}};
    backlog.fallback = MetricTarget::Fallback{3, 5};
    all.push_back(backlog);

    MetricTarget latency = ofCheckout(MetricTarget::Api::Custom, "custom/shop/p95/checkout", latencyMetric(95));
    latency.resource = "deployments.apps";
    latency.objectKind = "Deployment";
    latency.objectName = "checkout";
    latency.labels = {{"app", "checkout"}};
    all.push_back(latency);

    MetricTarget hits = ofCheckout(MetricTarget::Api::Custom, "custom/shop/hits/checkout", kCacheHitRatioMetric);
    hits.resource = kServiceLevelResource;
    hits.objectKind = "ServiceLevel";
    hits.objectApiVersion = "governor.io/v1alpha1";
    hits.objectName = "checkout";
    hits.served = [] { return std::optional<double>(0.75); };
    all.push_back(hits);

    MetricTarget never = backlog;
    never.key = "external/other/governor_queue_backlog/never";
    never.namespaceName = "other";
    never.fallback.reset();
    all.push_back(never);
    targets.set(all);

    cache.update(backlog.key, 42.0);
    cache.update(latency.key, 0.25);
    cache.update(hits.key, 1.0);
  }
};

bool sameAttributes(const RequestAttributes& a, const RequestAttributes& b) {
  return a.resourceRequest == b.resourceRequest && a.verb == b.verb && a.group == b.group && a.version == b.version &&
         a.namespaceName == b.namespaceName && a.resource == b.resource && a.name == b.name &&
         a.subresource == b.subresource;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const std::string input(governor::fuzz::input(data, size));
  const size_t newline = input.find('\n');
  const std::string path = input.substr(0, newline);
  const std::string selector = newline == std::string::npos ? "" : input.substr(newline + 1);
  const std::map<std::string, std::string> query{{"labelSelector", selector}};

  const ApiResponse answer = world.api.get(path, query);
  FUZZ_CHECK(dumps(answer.body), "the answer to %s does not serialize", path.c_str());
  FUZZ_CHECK(answer.status == 200 || answer.status == 400 || answer.status == 404 || answer.status == 503,
             "status %d for %s", answer.status, path.c_str());

  if (auto malformed = malformedRequest(path, selector)) {
    FUZZ_CHECK(malformed->status == 400 && dumps(malformed->body), "malformed %s", path.c_str());
    FUZZ_CHECK(answer.status == 400, "get() serves the malformed %s with %d", path.c_str(), answer.status);
    return 0;
  }
  // What the server asks the API server before it serves the request.
  const RequestAttributes attributes = requestAttributes(path);
  const Caller caller{"system:serviceaccount:kube-system:horizontal-pod-autoscaler", {"system:authenticated"}, {}};
  FUZZ_CHECK(dumps(subjectAccessReview(caller, attributes)), "the review of %s does not serialize", path.c_str());
  FUZZ_CHECK(governor::fuzz::jsonSafe(forbiddenMessage(caller.user, attributes, "no RBAC policy matched")),
             "the 403 of %s is not UTF-8", path.c_str());

  // Judged and served by the segments: the normalized path is the same request.
  std::string normalized;
  for (const std::string& segment : pathSegments(path)) normalized += "/" + segment;
  if (normalized.empty()) normalized = "/";
  FUZZ_CHECK(pathSegments(normalized) == pathSegments(path), "%s normalizes to %s", path.c_str(), normalized.c_str());
  if (attributes.resourceRequest) {
    FUZZ_CHECK(sameAttributes(requestAttributes(normalized), attributes), "%s is judged unlike %s", path.c_str(),
               normalized.c_str());
  }
  const ApiResponse again = world.api.get(normalized, query);
  FUZZ_CHECK(again.status == answer.status, "%s answers %d, %s answers %d", path.c_str(), answer.status,
             normalized.c_str(), again.status);
  if (answer.status == 200)
    FUZZ_CHECK(again.body == answer.body, "%s and %s answer differently", path.c_str(), normalized.c_str());
  return 0;
}
