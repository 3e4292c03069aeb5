// Informer::setTransform: the store and the handlers see what the transform keeps of each
// listed and watched object; an informer without one keeps the whole object (less its
// managedFields). setCompact changes how it is kept, not what readers see; setIndex
// follows every change. Against a small in-process API server.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/informer.h"
#include "support/local_server.h"

namespace governor::kube {
namespace {

Json configMap(const std::string& name, const std::string& rv, const std::string& data) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"resourceVersion", rv},
            {"managedFields", Json::array({{{"manager", "kubectl"}}})}}},
          {"data", {{"big", data}}}};
}

std::string event(const std::string& type, const Json& obj) {
  return Json{{"type", type}, {"object", obj}}.dump() + "\n";
}

// Lists ConfigMap "a"; the first watch adds "b", changes "a" and deletes "b"; later
// watches end at once with nothing.
class FakeApi {
 public:
  FakeApi() {
    local_.server().Get(
        "/api/v1/namespaces/ns/configmaps", [this](const httplib::Request& req, httplib::Response& res) {
          std::lock_guard lock(mu_);
          if (!req.has_param("watch")) {
            Json list = {{"kind", "ConfigMapList"},
                         {"metadata", {{"resourceVersion", "10"}}},
                         {"items", Json::array({configMap("a", "5", "listed")})}};
            res.set_content(list.dump(), "application/json");
            return;
          }
          std::string body;
          if (++watches_ == 1) {
            body = event("ADDED", configMap("b", "11", "added")) + event("MODIFIED", configMap("a", "12", "changed")) +
                   event("DELETED", configMap("b", "13", "added"));
          }
          res.set_content(body, "application/json");
        });
    local_.start();
  }
  std::string url() const { return local_.url(); }

 private:
  std::mutex mu_;
  int watches_ = 0;
  testing::LocalServer local_;  // last: stops before the members above go away
};

// Keeps the metadata and the length of each data value.
Json lengths(Json object) {
  Json out = {{"metadata", object["metadata"]}};
  for (const auto& [key, value] : object["data"].items()) out["data"][key] = value.get<std::string>().size();
  return out;
}

struct Seen {
  std::mutex mu;
  std::vector<std::string> log;
  void add(const std::string& what, const Json& obj) {
    std::lock_guard lock(mu);
    log.push_back(what + " " + obj["metadata"].value("name", "") + " " + obj["data"]["big"].dump());
  }
  size_t size() {
    std::lock_guard lock(mu);
    return log.size();
  }
};

// Runs an informer, set up by `setUp`, until its handler has seen 4 events; stops it and
// gives it to `check`.
std::vector<std::string> run(const std::function<void(Informer&)>& setUp,
                             const std::function<void(const Informer&)>& check) {
  FakeApi api;
  Config config;
  config.server = api.url();
  auto client = Client::create(config);
  EXPECT_TRUE(client.ok()) << client.error().what();
  InformerOptions opts;
  opts.reflector.backoffInitial = std::chrono::milliseconds(10);
  opts.reflector.backoffCap = std::chrono::milliseconds(20);
  Informer informer(**client, Resource{"", "v1", "configmaps", true}, "ns", opts);
  setUp(informer);
  Seen seen;
  informer.addHandler({[&](const Json& o) { seen.add("add", o); },
                       [&](const Json&, const Json& o) { seen.add("update", o); },
                       [&](const Json& o) { seen.add("delete", o); }});
  informer.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  informer.stop();
  check(informer);
  return seen.log;
}

const std::vector<std::string> kWholeObjects{R"(add a "listed")", R"(add b "added")", R"(update a "changed")",
                                             R"(delete b "added")"};

TEST(InformerTransform, StoreAndHandlersSeeTheTransformedObjects) {
  auto log = run([](Informer& i) { i.setTransform(lengths); },
                 [](const Informer& i) {
                   auto a = i.get("ns/a");
                   ASSERT_TRUE(a);
                   EXPECT_EQ((*a)["data"]["big"], 7);
                   EXPECT_EQ((*a)["metadata"]["resourceVersion"], "12");
                   EXPECT_FALSE((*a)["metadata"].contains("managedFields"))
                       << "dropped before the transform sees the object";
                 });
  EXPECT_EQ(log, (std::vector<std::string>{"add a 6", "add b 5", "update a 7", "delete b 5"}));
}

TEST(InformerTransform, WithoutOneTheStoreKeepsTheWholeObject) {
  auto log = run([](Informer&) {},
                 [](const Informer& i) {
                   auto a = i.get("ns/a");
                   ASSERT_TRUE(a);
                   EXPECT_EQ((*a)["data"]["big"], "changed");
                   EXPECT_FALSE((*a)["metadata"].contains("managedFields"));
                 });
  EXPECT_EQ(log, kWholeObjects);
}

TEST(InformerCompact, ReadersAndHandlersSeeTheSameObjects) {
  auto log = run([](Informer& i) { i.setCompact(true); },
                 [](const Informer& i) {
                   auto a = i.get("ns/a");
                   ASSERT_TRUE(a);
                   auto expected = configMap("a", "12", "changed");
                   expected["metadata"].erase("managedFields");
                   EXPECT_EQ(*a, expected);
                   EXPECT_EQ(i.list(), std::vector<Json>{expected});
                   EXPECT_EQ(i.keys(), std::vector<std::string>{"ns/a"}) << "b was deleted";
                   EXPECT_FALSE(i.get("ns/b"));
                 });
  EXPECT_EQ(log, kWholeObjects);
}

TEST(InformerIndex, FollowsAddsChangesAndDeletes) {
  auto dataIndex = [](const Json& o) { return o.value("data", Json::object()).value("big", ""); };
  for (bool compact : {false, true}) {
    run(
        [&](Informer& i) {
          i.setCompact(compact);
          i.setIndex(dataIndex);
        },
        [](const Informer& i) {
          auto changed = i.byIndex("changed");
          ASSERT_EQ(changed.size(), 1u);
          EXPECT_EQ(changed[0]["metadata"]["name"], "a");
          EXPECT_TRUE(i.byIndex("listed").empty()) << "a changed";
          EXPECT_TRUE(i.byIndex("added").empty()) << "b was deleted";
          EXPECT_TRUE(i.byIndex("").empty());
        });
  }
}

}  // namespace
}  // namespace governor::kube
