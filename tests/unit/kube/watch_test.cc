// The watch decoder and the reflector's recovery, each against a small in-process HTTP
// server that misbehaves in one way: a stream cut mid-line, a 410 inside the stream; a stop
// during a backoff.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "kube/watch.h"
#include "support/local_server.h"
#include "support/slowdown.h"

namespace governor::kube {
namespace {

TEST(LineDecoder, JoinsLinesSplitAcrossChunks) {
  LineDecoder d;
  EXPECT_TRUE(d.feed("{\"a\"").empty());
  EXPECT_TRUE(d.hasPartial());
  EXPECT_EQ(d.feed(":1}\n{\"b\":2}\n{\"c\""), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(d.feed(":3}\n"), (std::vector<std::string>{"{\"c\":3}"}));
  EXPECT_FALSE(d.hasPartial());
  EXPECT_TRUE(d.feed("\n\n").empty()) << "blank lines are not events";
}

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(400));
  auto first = b.next();
  EXPECT_GE(first.count(), 50);
  EXPECT_LE(first.count(), 100);
  auto second = b.next();
  EXPECT_GE(second.count(), 100);
  EXPECT_LE(second.count(), 200);
  for (int i = 0; i < 5; ++i) EXPECT_LE(b.next().count(), 400);
  b.reset();
  EXPECT_LE(b.next().count(), 100);
}

Json cm(const std::string& name, const std::string& rv) {
  return {{"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
}

std::string event(const std::string& type, const Json& obj) {
  return Json{{"type", type}, {"object", obj}}.dump() + "\n";
}

class RecordingSink : public ReflectorSink {
 public:
  void replace(std::vector<Json> items) override {
    std::lock_guard lock(mu);
    log.push_back("replace " + std::to_string(items.size()));
  }
  void apply(const WatchEvent& ev) override {
    std::lock_guard lock(mu);
    log.push_back(ev.type + " " + ev.object["metadata"].value("name", ""));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return log;
  }
  std::mutex mu;
  std::vector<std::string> log;
};

// Serves /api/v1/namespaces/ns/configmaps: lists answer RV "10" the first time and "20"
// after; watches follow a script, one step per watch request.
class FakeApi {
 public:
  // `missing`: the second watch is answered 404, as when the resource's CRD was deleted.
  explicit FakeApi(bool missing = false) : missing_(missing) {
    server_.Get("/api/v1/namespaces/ns/configmaps", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (!req.has_param("watch")) {
        ++lists_;
        Json list = {{"kind", "ConfigMapList"},
                     {"metadata", {{"resourceVersion", lists_ == 1 ? "10" : "20"}}},
                     {"items", Json::array({cm("x", "5")})}};
        res.set_content(list.dump(), "application/json");
        return;
      }
      watchRvs_.push_back(req.get_param_value("resourceVersion"));
      auto step = watchRvs_.size();
      std::string body;
      if (step == 1) {
        // Two events, the second cut in half: the stream breaks mid-line.
        body = event("ADDED", cm("a", "11")) + event("BOOKMARK", cm("", "12")) + event("ADDED", cm("b", "13"));
        body.resize(body.size() - 10);
      } else if (step == 2 && missing_) {
        res.status = 404;
        res.set_content("404 page not found", "text/plain");
        return;
      } else if (step == 2) {
        body = event("ERROR", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}, {"message", "too old"}});
      } else {
        body = event("ADDED", cm("c", "21"));
      }
      res.set_content(body, "application/json");
    });
    local_.start();
  }
  std::string url() const { return local_.url(); }
  std::vector<std::string> watchRvs() {
    std::lock_guard lock(mu_);
    return watchRvs_;
  }
  int lists() {
    std::lock_guard lock(mu_);
    return lists_;
  }

 private:
  const bool missing_;
  std::mutex mu_;
  int lists_ = 0;
  std::vector<std::string> watchRvs_;
  // Last: destroyed first, so no handler runs while the members above go away.
  testing::LocalServer local_;
  httplib::Server& server_ = local_.server();
};

// Runs a Reflector against `api` until it has made `watches` watch requests.
void reflectUntil(FakeApi& api, RecordingSink& sink, size_t watches, ReflectorStats* stats = nullptr) {
  Config config;
  config.server = api.url();
  auto client = Client::create(config);
  ASSERT_TRUE(client.ok()) << client.error().what();
  ReflectorOptions opts;
  opts.backoffInitial = std::chrono::milliseconds(10);
  opts.backoffCap = std::chrono::milliseconds(20);
  Reflector reflector(**client, Resource{"", "v1", "configmaps", true}, "ns", opts, sink);
  std::jthread runner([&](const std::stop_token& stop) { reflector.run(stop); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (api.watchRvs().size() < watches && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  runner.request_stop();
  runner.join();
  if (stats) *stats = reflector.stats();
}

TEST(Reflector, ResumesFromTheLastResourceVersionAndRelistsOnGone) {
  FakeApi api;
  RecordingSink sink;
  ReflectorStats stats;
  reflectUntil(api, sink, 4, &stats);

  auto rvs = api.watchRvs();
  ASSERT_GE(rvs.size(), 4u);
  EXPECT_EQ(rvs[0], "10") << "the first watch starts at the list's resourceVersion";
  EXPECT_EQ(rvs[1], "12") << "after a broken stream it resumes from the last complete event (a bookmark)";
  EXPECT_EQ(rvs[2], "20") << "410 Gone relists and watches from the new list";
  EXPECT_EQ(rvs[3], "21");
  EXPECT_EQ(api.lists(), 2);
  auto log = sink.snapshot();
  ASSERT_GE(log.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(log.begin(), log.begin() + 4),
            (std::vector<std::string>{"replace 1", "ADDED a", "replace 1", "ADDED c"}));
  EXPECT_EQ(stats.gone, 1);
}

// A watch answered 404: the resource itself is gone (its CRD deleted), and what the cache
// holds may have gone with it without an event each. The reflector lists again, which
// replaces the cache, rather than resuming from its resourceVersion.
TEST(Reflector, RelistsWhenItsResourceIsGone) {
  FakeApi api(/*missing=*/true);
  RecordingSink sink;
  reflectUntil(api, sink, 3);
  auto rvs = api.watchRvs();
  ASSERT_GE(rvs.size(), 3u);
  EXPECT_EQ(rvs[1], "12");
  EXPECT_EQ(rvs[2], "20") << "after the 404 it lists again and watches from the new list";
  EXPECT_EQ(api.lists(), 2);
  auto log = sink.snapshot();
  ASSERT_GE(log.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(log.begin(), log.begin() + 4),
            (std::vector<std::string>{"replace 1", "ADDED a", "replace 1", "ADDED c"}));
}

// A list of large objects never holds them all whole: each item becomes the sink's view as
// its page arrives, before the next page is asked for; replace() gets the views.
TEST(Reflector, EachListedItemIsTheSinksViewAsItsPageArrives) {
  std::mutex mu;
  std::vector<std::string> log;
  auto note = [&](const std::string& line) {
    std::lock_guard lock(mu);
    log.push_back(line);
  };
  testing::LocalServer local;
  local.server().Get("/api/v1/namespaces/ns/configmaps", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("watch")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return res.set_content("", "application/json");
    }
    const bool first = !req.has_param("continue");
    note(first ? "list page 1, limit " + req.get_param_value("limit") : "list page 2");
    Json page = {{"kind", "ConfigMapList"},
                 {"metadata", {{"resourceVersion", "10"}, {"continue", first ? "next" : ""}}},
                 {"items", first ? Json::array({cm("a", "5"), cm("b", "6")}) : Json::array({cm("c", "7")})}};
    for (auto& item : page["items"]) item["data"] = {{"big", std::string(1000, 'x')}};
    res.set_content(page.dump(), "application/json");
  });
  local.start();
  struct ViewingSink : ReflectorSink {
    std::function<void(const std::string&)> note;
    Json view(Json object) const override {
      note("view " + object["metadata"].value("name", ""));
      return {{"metadata", object["metadata"]}};
    }
    void replace(std::vector<Json> items) override {
      std::string line = "replace";
      for (const auto& item : items)
        line += " " + item["metadata"].value("name", "") + (item.contains("data") ? "+data" : "");
      note(line);
    }
    void apply(const WatchEvent&) override {}
  } sink;
  sink.note = note;
  Config config;
  config.server = local.url();
  auto client = Client::create(config);
  ASSERT_TRUE(client.ok()) << client.error().what();
  ReflectorOptions opts;
  opts.pageSize = 2;
  Reflector reflector(**client, Resource{"", "v1", "configmaps", true}, "ns", opts, sink);
  std::jthread runner([&](const std::stop_token& stop) { reflector.run(stop); });
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       reflector.lastResourceVersion().empty() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  runner.request_stop();
  runner.join();
  std::lock_guard lock(mu);
  EXPECT_EQ(log, (std::vector<std::string>{"list page 1, limit 2", "view a", "view b", "list page 2", "view c",
                                           "replace a b c"}));
}

// A stop ends the backoff after a failed list at once, not when the backoff is up.
TEST(Reflector, AStopEndsItsBackoffAtOnce) {
  std::atomic<int> lists{0};
  testing::LocalServer local;
  local.server().Get("/api/v1/namespaces/ns/configmaps", [&](const httplib::Request&, httplib::Response& res) {
    ++lists;
    res.status = 403;
    res.set_content(R"({"kind":"Status","reason":"Forbidden","code":403})", "application/json");
  });
  local.start();
  Config config;
  config.server = local.url();
  auto client = Client::create(config);
  ASSERT_TRUE(client.ok()) << client.error().what();
  ReflectorOptions opts;
  opts.backoffInitial = opts.backoffCap = std::chrono::seconds(30);
  RecordingSink sink;
  Reflector reflector(**client, Resource{"", "v1", "configmaps", true}, "ns", opts, sink);
  std::jthread runner([&](const std::stop_token& stop) { reflector.run(stop); });
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       lists == 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(lists, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // into the backoff of 15 to 30 s
  auto stopped = std::chrono::steady_clock::now();
  runner.request_stop();
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, std::chrono::seconds(1) * testing::kSlowdown);
}

TEST(Client, ErrorStatusFromTheServerIsKeptWhole) {
  auto err = errorFromResponse(
      422, R"({"kind":"Status","status":"Failure","reason":"Invalid","message":"spec.x: must be >= 1","code":422})",
      "PATCH horizontalpodautoscalers shop/checkout");
  EXPECT_EQ(err.status.code, 422);
  EXPECT_EQ(err.status.reason, "Invalid");
  EXPECT_EQ(err.what(), "PATCH horizontalpodautoscalers shop/checkout: 422 Invalid: spec.x: must be >= 1");
  auto plain = errorFromResponse(503, "upstream down", "GET /x");
  EXPECT_EQ(plain.status.reason, "ServiceUnavailable");
  EXPECT_EQ(plain.what(), "GET /x: 503 ServiceUnavailable: upstream down");
}

TEST(Client, AnswersOfTheWrongShapeAreErrorsNotExceptions) {
  // json::value() throws when a field has another type: these once escaped the watch callback.
  auto event = decodeWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"7"}}})");
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->type, "ADDED");
  EXPECT_EQ(resourceVersionOf(event->object), "7");
  EXPECT_FALSE(decodeWatchEvent(R"({"type":1,"object":{}})").ok());
  EXPECT_FALSE(decodeWatchEvent(R"({"type":"MODIFIED","object":"x"})").ok());
  EXPECT_EQ(watchErrorStatus(Json::parse(R"({"code":"410","reason":5})")).code, 0);
  EXPECT_EQ(watchErrorStatus(Json::parse(R"({"code":410,"reason":"Expired"})")).reason, "Expired");
  EXPECT_EQ(objectKey(Json::parse(R"({"metadata":[]})")), "");
  EXPECT_EQ(resourceVersionOf(Json::parse(R"({"metadata":{"resourceVersion":3}})")), "");

  auto page = decodeListPage(Json::parse(R"({"kind":"DeploymentList","metadata":{"continue":"c"},
                                            "items":[{"metadata":{"name":"a"}}]})"),
                             "apps/v1");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->continueToken, "c");
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0]["kind"], "Deployment");
  EXPECT_EQ(page->items[0]["apiVersion"], "apps/v1");
  EXPECT_FALSE(decodeListPage(Json::parse(R"({"items":["x"]})"), "v1").ok());
  EXPECT_FALSE(decodeListPage(Json::parse(R"({"items":{}})"), "v1").ok());

  // A body that is not UTF-8 is quoted with U+FFFD, so that the message can go into JSON.
  auto latin1 = errorFromResponse(502, "caf\xE9", "GET /x");
  EXPECT_EQ(latin1.status.message, "caf\xEF\xBF\xBD");
}

TEST(Resource, PathsFollowTheApiLayout) {
  Resource cms{"", "v1", "configmaps", true};
  Resource deploys{"apps", "v1", "deployments", true};
  Resource crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
  EXPECT_EQ(cms.path("ns", "x"), "/api/v1/namespaces/ns/configmaps/x");
  EXPECT_EQ(cms.path(""), "/api/v1/configmaps");
  EXPECT_EQ(deploys.path("shop"), "/apis/apps/v1/namespaces/shop/deployments");
  EXPECT_EQ(crds.path("ignored", "y"), "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/y");
  EXPECT_EQ(deploys.apiVersion(), "apps/v1");
}

}  // namespace
}  // namespace governor::kube
