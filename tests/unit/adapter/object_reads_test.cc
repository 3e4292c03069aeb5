// ObjectReads against a small in-process API server that counts the GETs it answers.
#include "metrics-adapter/object_reads.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace governor::adapter {
namespace {

using namespace std::chrono_literals;
using kube::Json;

class FakeApi {
 public:
  FakeApi() {
    server_.Get(
        "/apis/apps/v1/namespaces/shop/deployments/web", [this](const httplib::Request&, httplib::Response& res) {
          ++workloadGets;
          if (missing) {
            res.status = 404;
            res.set_content(Json{{"kind", "Status"}, {"code", 404}, {"reason", "NotFound"}}.dump(), "application/json");
            return;
          }
          res.set_content(Json{{"kind", "Deployment"}, {"metadata", {{"labels", {{"app", "web"}}}}}}.dump(),
                          "application/json");
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Bound before the thread starts: a client connecting early waits in the backlog.
  }
  ~FakeApi() {
    server_.stop();
    thread_.join();
  }
  std::unique_ptr<kube::Client> client() {
    kube::Config config;
    config.server = "http://127.0.0.1:" + std::to_string(port_);
    auto client = kube::Client::create(config);
    EXPECT_TRUE(client.ok());
    return std::move(client.value());
  }

  std::atomic<int> workloadGets{0};
  std::atomic<bool> missing{true};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(ObjectReadsTest, AWorkloadsLabelsAreKeptButAFailureIsNot) {
  FakeApi api;
  auto client = api.client();
  ObjectReads reads(*client, 10s);
  EXPECT_FALSE(reads.workloadLabels("deployments.apps", "shop", "web").ok());
  api.missing = false;
  for (int i = 0; i < 5; ++i) {
    auto labels = reads.workloadLabels("deployments.apps", "shop", "web");
    ASSERT_TRUE(labels.ok()) << labels.error().what();
    EXPECT_EQ(*labels, (api::Labels{{"app", "web"}}));
  }
  EXPECT_EQ(api.workloadGets, 2) << "the 404 was asked again once the Deployment existed, then kept";
}

}  // namespace
}  // namespace governor::adapter
