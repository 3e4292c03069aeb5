// Delegated authorization, as every aggregated API server does it: what a request asks
// to do (in the terms of k8s.io/apiserver's request-info rules), a SubjectAccessReview to
// the kube-apiserver for the user, groups and extra the front proxy named, and a short
// cache of the answers so that polling HPAs do not cost a review per request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "kube/result.h"
#include "metrics-adapter/api/auth.h"
#include "metrics-adapter/expiring_cache.h"

namespace governor::adapter {

// A GET request as a SubjectAccessReview describes it.
struct RequestAttributes {
  bool resourceRequest = false;
  std::string verb;  // get or list
  std::string path;  // non-resource requests only
  std::string group;
  std::string version;
  std::string namespaceName;
  std::string resource;
  std::string subresource;
  std::string name;
};

// What a GET of `path` asks to do, by the request-info rules: /apis, /apis/G and
// /apis/G/V are non-resource paths; below them namespaces/NS sets the namespace and the
// rest is resource/name/subresource, and a request without a name is a list.
RequestAttributes requestAttributes(const std::string& path);

// The SubjectAccessReview (authorization.k8s.io/v1) asking whether `caller` may do it.
nlohmann::json subjectAccessReview(const Caller& caller, const RequestAttributes& attributes);

// The kube-apiserver's wording of a 403, e.g. `governor_queue_backlog.external.metrics.k8s.io
// is forbidden: User "x" cannot list resource "governor_queue_backlog" in API group
// "external.metrics.k8s.io" in the namespace "shop"`, with the review's reason appended.
std::string forbiddenMessage(const std::string& user, const RequestAttributes& attributes, const std::string& reason);

// What a review answered.
struct Decision {
  bool allowed = false;
  std::string reason;
};

// Creates a SubjectAccessReview and returns the API server's answer (with its status).
using AccessReviewer = std::function<kube::Result<nlohmann::json>(const nlohmann::json& review)>;

// The reviewer of a real cluster: POST /apis/authorization.k8s.io/v1/subjectaccessreviews
// (the ClusterRole system:auth-delegator allows it).
AccessReviewer subjectAccessReviews(kube::Client& client);

struct AuthorizerOptions {
  // Non-resource paths allowed to every authenticated caller without a review, as
  // --authorization-always-allow-paths: exact, or a prefix when ending in '*'. By default
  // the discovery documents, which the aggregator and kubectl read.
  std::vector<std::string> alwaysAllowPaths{"/apis", "/apis/*"};
  std::chrono::milliseconds allowedTtl{10'000};
  std::chrono::milliseconds deniedTtl{10'000};
  size_t cacheSize = 10'000;
  // Reviews waiting for the API server at once; a request that would need one more is
  // answered 503 at once, so that an API server brownout ties up a few of the server's
  // connection threads, not all of them.
  int maxReviewsInFlight = 8;
};

class Authorizer {
 public:
  // Fails on an always-allow path with a '*' before its end.
  static kube::Result<std::unique_ptr<Authorizer>> create(AuthorizerOptions options, AccessReviewer review);

  // Ok when `caller` may GET `path`: an always-allowed path, a member of system:masters
  // (whom the kube-apiserver allows everything), or a review that allowed it. Otherwise
  // 403 Forbidden, or 503 ServiceUnavailable when the review could not be made (failed,
  // or maxReviewsInFlight already waiting): a failed review never lets a request through.
  kube::Outcome authorize(const Caller& caller, const std::string& path);

 private:
  Authorizer(AuthorizerOptions options, AccessReviewer review);
  bool alwaysAllowed(const RequestAttributes& attributes) const;

  AuthorizerOptions options_;
  AccessReviewer review_;
  ExpiringCache<Decision> cache_;  // each answer for the TTL of its kind
  std::atomic<int> inFlight_{0};
};

}  // namespace governor::adapter
