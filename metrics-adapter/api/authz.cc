// Delegated authorization; see authz.h. The attributes follow k8s.io/apiserver's
// RequestInfoFactory, as the kube-apiserver computes them for the same request before
// proxying it here, so one RBAC rule means the same on both sides.
#include "metrics-adapter/api/authz.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "metrics-adapter/api/metrics_api.h"

namespace governor::adapter {

RequestAttributes requestAttributes(const std::string& path) {
  RequestAttributes a;
  a.verb = "get";
  // The same segments MetricsApi routes on, so that the request judged is the one served.
  auto parts = pathSegments(path);
  if (parts.size() < 4 || parts[0] != "apis") {
    a.path = path;
    return a;
  }
  a.resourceRequest = true;
  a.group = parts[1];
  a.version = parts[2];
  std::vector<std::string> rest(parts.begin() + 3, parts.end());
  if (rest[0] == "namespaces" && rest.size() > 1) {
    a.namespaceName = rest[1];
    // namespaces/NS/status and namespaces/NS/finalize are subresources of the namespace.
    if (rest.size() > 2 && rest[2] != "status" && rest[2] != "finalize") rest.erase(rest.begin(), rest.begin() + 2);
  }
  a.resource = rest[0];
  if (rest.size() > 1) a.name = rest[1];
  if (rest.size() > 2) a.subresource = rest[2];
  // Upstream also turns ?watch=true into a watch and takes the name from a metadata.name
  // fieldSelector. The adapter neither streams nor filters by field: it answers such a
  // request with the whole list, so it authorizes a list.
  if (a.name.empty()) a.verb = "list";
  return a;
}

nlohmann::json subjectAccessReview(const Caller& caller, const RequestAttributes& a) {
  nlohmann::json spec = {{"user", caller.user}, {"groups", caller.groups}, {"extra", caller.extra}};
  if (a.resourceRequest) {
    spec["resourceAttributes"] = {{"verb", a.verb},         {"group", a.group},
                                  {"version", a.version},   {"namespace", a.namespaceName},
                                  {"resource", a.resource}, {"subresource", a.subresource},
                                  {"name", a.name}};
  } else {
    spec["nonResourceAttributes"] = {{"verb", a.verb}, {"path", a.path}};
  }
  return {{"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}};
}

std::string forbiddenMessage(const std::string& user, const RequestAttributes& a, const std::string& reason) {
  std::string what = "forbidden";
  std::string why = "User \"" + user + "\" cannot " + a.verb;
  if (!a.resourceRequest) {
    why += " path \"" + a.path + "\"";
  } else {
    what = a.resource + "." + a.group + (a.name.empty() ? "" : " \"" + a.name + "\"") + " is forbidden";
    why += " resource \"" + a.resource + (a.subresource.empty() ? "" : "/" + a.subresource) + "\" in API group \"" +
           a.group + "\"";
    why += a.namespaceName.empty() ? " at the cluster scope" : " in the namespace \"" + a.namespaceName + "\"";
  }
  return what + ": " + why + (reason.empty() ? "" : ": " + reason);
}

AccessReviewer subjectAccessReviews(kube::Client& client) {
  return [&client](const nlohmann::json& review) {
    return client.create({"authorization.k8s.io", "v1", "subjectaccessreviews", false}, "", review);
  };
}

kube::Result<std::unique_ptr<Authorizer>> Authorizer::create(AuthorizerOptions options, AccessReviewer review) {
  for (const auto& p : options.alwaysAllowPaths) {
    if (p.find('*') < p.size() - 1) {
      return kube::Error{kube::Status{0, "Invalid", "always-allow path \"" + p + "\": only a trailing * is allowed"},
                         ""};
    }
  }
  return std::unique_ptr<Authorizer>(new Authorizer(std::move(options), std::move(review)));
}

Authorizer::Authorizer(AuthorizerOptions options, AccessReviewer review)
    : options_(std::move(options)), review_(std::move(review)), cache_(options_.cacheSize) {}

bool Authorizer::alwaysAllowed(const RequestAttributes& a) const {
  if (a.resourceRequest) return false;  // as upstream: the paths never open a resource
  return std::ranges::any_of(options_.alwaysAllowPaths, [&](const std::string& p) {
    return p.ends_with('*') ? a.path.starts_with(p.substr(0, p.size() - 1)) : a.path == p;
  });
}

kube::Outcome Authorizer::authorize(const Caller& caller, const std::string& path) {
  auto attributes = requestAttributes(path);
  if (alwaysAllowed(attributes) || std::ranges::count(caller.groups, "system:masters") > 0) return kube::Ok{};
  auto review = subjectAccessReview(caller, attributes);
  const auto key = review["spec"].dump();
  auto decision = cache_.get(key, std::chrono::steady_clock::now());
  if (!decision) {
    auto unavailable = [](const std::string& why) {
      return kube::Error{kube::Status{503, "ServiceUnavailable", "authorization is unavailable: " + why}, ""};
    };
    if (++inFlight_ > options_.maxReviewsInFlight) {
      --inFlight_;
      return unavailable(std::to_string(options_.maxReviewsInFlight) +
                         " SubjectAccessReviews are waiting for the API server already");
    }
    auto answer = review_(review);
    --inFlight_;
    if (!answer) {
      spdlog::warn("authorization of {} for user {} failed: {}", path, caller.user, answer.error().what());
      return unavailable(answer.error().what());
    }
    const auto status = answer->value("status", nlohmann::json::object());
    decision = Decision{status.value("allowed", false), status.value("reason", "")};
    cache_.put(key, *decision, decision->allowed ? options_.allowedTtl : options_.deniedTtl,
               std::chrono::steady_clock::now());
  }
  if (decision->allowed) return kube::Ok{};
  return kube::Error{kube::Status{403, "Forbidden", forbiddenMessage(caller.user, attributes, decision->reason)}, ""};
}

}  // namespace governor::adapter
