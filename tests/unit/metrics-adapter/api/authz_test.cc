// Delegated authorization without a cluster: request paths as SubjectAccessReview
// attributes (the request-info rules), the review and the 403 message, the decision cache
// with explicit times, and the Authorizer with a fake reviewer.
#include "metrics-adapter/api/authz.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kExternal = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/governor_queue_backlog";
constexpr const char* kCustom =
    "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/web/governor_latency_p95_seconds";

// ---------------------------------------------------------------------------------------
// Request attributes

struct AttributesCase {
  std::string path;
  RequestAttributes want;
};

std::string describe(const RequestAttributes& a) {
  return (a.resourceRequest ? "resource " : "non-resource ") + a.verb + " path=" + a.path + " group=" + a.group +
         " version=" + a.version + " namespace=" + a.namespaceName + " resource=" + a.resource +
         " subresource=" + a.subresource + " name=" + a.name;
}

RequestAttributes nonResource(const std::string& path) { return {false, "get", path}; }

RequestAttributes resource(const std::string& verb, const std::string& group, const std::string& version,
                           const std::string& ns, const std::string& res, const std::string& name = "",
                           const std::string& sub = "") {
  return {true, verb, "", group, version, ns, res, sub, name};
}

TEST(RequestAttributesTest, FollowTheRequestInfoRules) {
  const std::string ext = "external.metrics.k8s.io", cm = "custom.metrics.k8s.io";
  const std::vector<AttributesCase> cases = {
      // Discovery and anything outside /apis: non-resource paths.
      {"/apis", nonResource("/apis")},
      {"/apis/external.metrics.k8s.io", nonResource("/apis/external.metrics.k8s.io")},
      {"/apis/external.metrics.k8s.io/v1beta1", nonResource("/apis/external.metrics.k8s.io/v1beta1")},
      {"/healthz", nonResource("/healthz")},
      // External metrics name no object: a list of the metric in the namespace.
      {kExternal, resource("list", ext, "v1beta1", "shop", "governor_queue_backlog")},
      // Custom metrics of one object: get the object's resource, the metric a subresource.
      {kCustom, resource("get", cm, "v1beta2", "shop", "deployments.apps", "web", "governor_latency_p95_seconds")},
      // `*` is a name to the request-info rules (the kube-apiserver asks the same).
      {"/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/*/governor_latency_p95_seconds",
       resource("get", cm, "v1beta2", "shop", "deployments.apps", "*", "governor_latency_p95_seconds")},
      // A metric of the namespace itself, and of a cluster-scoped object.
      {"/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/metrics/requests",
       resource("get", cm, "v1beta2", "shop", "metrics", "requests")},
      {"/apis/custom.metrics.k8s.io/v1beta2/nodes/n1/cpu_busy",
       resource("get", cm, "v1beta2", "", "nodes", "n1", "cpu_busy")},
      // Namespaces themselves, and their own subresources.
      {"/apis/custom.metrics.k8s.io/v1beta2/namespaces", resource("list", cm, "v1beta2", "", "namespaces")},
      {"/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop",
       resource("get", cm, "v1beta2", "shop", "namespaces", "shop")},
      {"/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/status",
       resource("get", cm, "v1beta2", "shop", "namespaces", "shop", "status")},
      // Empty segments are skipped, as MetricsApi skips them: the request judged is the one served.
      {"/apis/external.metrics.k8s.io/v1beta1/namespaces//shop/governor_queue_backlog/",
       resource("list", ext, "v1beta1", "shop", "governor_queue_backlog")},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(describe(requestAttributes(c.path)), describe(c.want)) << c.path;
  }
}

// ---------------------------------------------------------------------------------------
// The review and the 403

const Caller kAlice{"alice", {"dev", "system:authenticated"}, {{"scopes", {"a", "b"}}}};

TEST(SubjectAccessReviewTest, CarriesTheCallerAndTheResourceAttributes) {
  auto review = subjectAccessReview(kAlice, requestAttributes(kCustom));
  EXPECT_EQ(review, json::parse(R"({
    "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
    "spec": {"user": "alice", "groups": ["dev", "system:authenticated"], "extra": {"scopes": ["a", "b"]},
             "resourceAttributes": {"verb": "get", "group": "custom.metrics.k8s.io", "version": "v1beta2",
                                    "namespace": "shop", "resource": "deployments.apps",
                                    "subresource": "governor_latency_p95_seconds", "name": "web"}}})"))
      << review.dump(2);
}

TEST(SubjectAccessReviewTest, NonResourcePathsAskForThePath) {
  auto review = subjectAccessReview({"bob", {}, {}}, requestAttributes("/apis/external.metrics.k8s.io"));
  EXPECT_EQ(review["spec"], json::parse(R"({"user": "bob", "groups": [], "extra": {},
    "nonResourceAttributes": {"verb": "get", "path": "/apis/external.metrics.k8s.io"}})"))
      << review.dump(2);
}

TEST(ForbiddenMessageTest, WordedAsTheKubeApiserverWordsIt) {
  EXPECT_EQ(forbiddenMessage("alice", requestAttributes(kExternal), ""),
            "governor_queue_backlog.external.metrics.k8s.io is forbidden: User \"alice\" cannot list resource "
            "\"governor_queue_backlog\" in API group \"external.metrics.k8s.io\" in the namespace \"shop\"");
  EXPECT_EQ(forbiddenMessage("alice", requestAttributes(kCustom), "no RBAC policy matched"),
            "deployments.apps.custom.metrics.k8s.io \"web\" is forbidden: User \"alice\" cannot get resource "
            "\"deployments.apps/governor_latency_p95_seconds\" in API group \"custom.metrics.k8s.io\" in the "
            "namespace \"shop\": no RBAC policy matched");
  EXPECT_EQ(forbiddenMessage("alice", requestAttributes("/apis/custom.metrics.k8s.io/v1beta2/nodes/n1/cpu"), ""),
            "nodes.custom.metrics.k8s.io \"n1\" is forbidden: User \"alice\" cannot get resource \"nodes/cpu\" in "
            "API group \"custom.metrics.k8s.io\" at the cluster scope");
  EXPECT_EQ(forbiddenMessage("alice", requestAttributes("/apis/other.io"), ""),
            "forbidden: User \"alice\" cannot get path \"/apis/other.io\"");
}

// ---------------------------------------------------------------------------------------
// Authorizer

// Answers every review with `answer` (or fails), counting them.
struct FakeReviews {
  json answer = {{"status", {{"allowed", true}}}};
  bool fail = false;
  std::vector<json> seen;

  AccessReviewer reviewer() {
    return [this](const json& review) -> kube::Result<json> {
      seen.push_back(review);
      if (fail) return kube::Error{kube::Status{403, "Forbidden", "cannot create subjectaccessreviews"}, "POST sar"};
      return answer;
    };
  }
};

std::unique_ptr<Authorizer> authorizerFor(FakeReviews& reviews, AuthorizerOptions options = {}) {
  auto a = Authorizer::create(std::move(options), reviews.reviewer());
  EXPECT_TRUE(a) << a.error().what();
  return std::move(a).value();
}

TEST(AuthorizerTest, AsksOnceAndReusesTheAnswer) {
  FakeReviews reviews;
  auto authorizer = authorizerFor(reviews);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(authorizer->authorize(kAlice, kExternal));
  ASSERT_EQ(reviews.seen.size(), 1u);
  EXPECT_EQ(reviews.seen[0], subjectAccessReview(kAlice, requestAttributes(kExternal)));

  // Anything that could change the answer is asked about again.
  Caller otherGroups = kAlice;
  otherGroups.groups.push_back("ops");
  Caller otherExtra = kAlice;
  otherExtra.extra["scopes"] = {"a"};
  EXPECT_TRUE(authorizer->authorize({"bob", kAlice.groups, kAlice.extra}, kExternal));
  EXPECT_TRUE(authorizer->authorize(otherGroups, kExternal));
  EXPECT_TRUE(authorizer->authorize(otherExtra, kExternal));
  EXPECT_TRUE(authorizer->authorize(kAlice, kCustom));
  EXPECT_EQ(reviews.seen.size(), 5u);
}

TEST(AuthorizerTest, DeniedIsForbiddenWithTheReviewsReason) {
  FakeReviews reviews;
  reviews.answer = {{"status", {{"allowed", false}, {"reason", "not in the on-call rota"}}}};
  auto authorizer = authorizerFor(reviews);
  for (int i = 0; i < 2; ++i) {
    auto out = authorizer->authorize(kAlice, kExternal);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().status.code, 403);
    EXPECT_EQ(out.error().status.reason, "Forbidden");
    EXPECT_EQ(out.error().status.message,
              forbiddenMessage("alice", requestAttributes(kExternal), "not in the on-call rota"));
  }
  EXPECT_EQ(reviews.seen.size(), 1u) << "a denial is cached too";

  // No opinion (neither allowed nor denied) is no permission.
  FakeReviews silent;
  silent.answer = {{"status", json::object()}};
  EXPECT_EQ(authorizerFor(silent)->authorize(kAlice, kExternal).error().status.code, 403);
}

TEST(AuthorizerTest, AFailedReviewIsUnavailableNeverAllowedAndNotCached) {
  FakeReviews reviews;
  reviews.fail = true;
  auto authorizer = authorizerFor(reviews);
  auto out = authorizer->authorize(kAlice, kExternal);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().status.code, 503);
  EXPECT_EQ(out.error().status.reason, "ServiceUnavailable");
  EXPECT_EQ(out.error().status.message,
            "authorization is unavailable: POST sar: 403 Forbidden: cannot create subjectaccessreviews");

  reviews.fail = false;
  EXPECT_TRUE(authorizer->authorize(kAlice, kExternal));
  EXPECT_EQ(reviews.seen.size(), 2u);
}

// An API server brownout: reviews hang. Only maxReviewsInFlight requests wait on one; the
// next is answered 503 at once instead of taking another of the server's threads.
TEST(AuthorizerTest, ReviewsBeyondTheInFlightLimitAreUnavailableAtOnce) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int waiting = 0;
  auto authorizer = std::move(Authorizer::create({.maxReviewsInFlight = 2}, [&](const json&) -> kube::Result<json> {
                      std::unique_lock lock(mu);
                      ++waiting;
                      cv.notify_all();
                      cv.wait_for(lock, 30s, [&] { return release; });
                      return json{{"status", {{"allowed", true}}}};
                    })).value();
  std::vector<std::thread> slow;
  for (const char* user : {"a", "b"}) {
    slow.emplace_back([&, user] { EXPECT_TRUE(authorizer->authorize({user, {}, {}}, kExternal)); });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return waiting == 2; }));
  }
  auto started = std::chrono::steady_clock::now();
  auto out = authorizer->authorize({"c", {}, {}}, kExternal);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().status.code, 503);
  EXPECT_EQ(out.error().status.message,
            "authorization is unavailable: 2 SubjectAccessReviews are waiting for the API server already");
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : slow) t.join();
  EXPECT_TRUE(authorizer->authorize({"c", {}, {}}, kExternal)) << "once they are answered, reviews go on";
}

TEST(AuthorizerTest, DiscoveryAndSystemMastersNeedNoReview) {
  FakeReviews reviews;
  reviews.answer = {{"status", {{"allowed", false}}}};
  auto authorizer = authorizerFor(reviews);
  for (const char* path : {"/apis", "/apis/external.metrics.k8s.io", "/apis/custom.metrics.k8s.io/v1beta2"}) {
    EXPECT_TRUE(authorizer->authorize(kAlice, path)) << path;
  }
  EXPECT_TRUE(authorizer->authorize({"admin", {"system:masters"}, {}}, kExternal));
  EXPECT_TRUE(reviews.seen.empty());

  // "/apis/*" opens non-resource paths only, never a metric.
  EXPECT_FALSE(authorizer->authorize(kAlice, kExternal));
  EXPECT_EQ(reviews.seen.size(), 1u);
}

TEST(AuthorizerTest, AlwaysAllowPathsAreExactOrTrailingPrefixes) {
  FakeReviews reviews;
  reviews.answer = {{"status", {{"allowed", false}}}};
  auto authorizer = authorizerFor(reviews, {.alwaysAllowPaths = {"/apis", "/apis/external.metrics.k8s.io/*"}});
  EXPECT_TRUE(authorizer->authorize(kAlice, "/apis"));
  EXPECT_TRUE(authorizer->authorize(kAlice, "/apis/external.metrics.k8s.io/v1beta1"));
  EXPECT_FALSE(authorizer->authorize(kAlice, "/apis/custom.metrics.k8s.io"));
  EXPECT_EQ(reviews.seen.size(), 1u);

  auto bad = Authorizer::create({.alwaysAllowPaths = {"/apis/*/v1"}}, reviews.reviewer());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().status.message, "always-allow path \"/apis/*/v1\": only a trailing * is allowed");
}

}  // namespace
}  // namespace governor::adapter
