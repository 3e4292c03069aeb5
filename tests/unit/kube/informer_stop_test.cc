// Stopping ends an informer's waits at once: the reflector's backoff after a refused list, the
// resync period, and a wait for the first sync (of one informer, or of several with a timeout).
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "kube/informer.h"
#include "support/local_server.h"
#include "support/slowdown.h"

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An API server that refuses every list of ConfigMaps: informers of them never sync.
class InformerStop : public ::testing::Test {
 protected:
  InformerStop() {
    api.server().Get("/api/v1/namespaces/ns/configmaps", [](const httplib::Request&, httplib::Response& res) {
      res.status = 403;
      res.set_content(R"({"kind":"Status","reason":"Forbidden","code":403})", "application/json");
    });
    api.start();
    Config config;
    config.server = api.url();
    client = std::move(Client::create(config)).value();
    options.reflector.backoffInitial = options.reflector.backoffCap = 30s;
    options.resyncPeriod = 60s;
  }

  // Requests `stopping`'s stop once the first list has been refused and the backoff begun.
  std::jthread stopSoon() {
    return std::jthread([this] {
      std::this_thread::sleep_for(300ms);
      stopping.request_stop();
    });
  }

  testing::LocalServer api;
  std::unique_ptr<Client> client;
  InformerOptions options;
  std::stop_source stopping;
};

TEST_F(InformerStop, EndsTheBackoffTheResyncAndAWaitForSyncAtOnce) {
  Informer informer(*client, {"", "v1", "configmaps", true}, "ns", options);
  informer.start();
  auto stopper = stopSoon();
  EXPECT_FALSE(informer.waitForSync(stopping.get_token())) << "never synced: the stop ended the wait";
  auto stopped = Clock::now();
  informer.stop();
  EXPECT_LT(Clock::now() - stopped, 1s * testing::kSlowdown);
}

// The wait leaves the set free: the readiness probe asks what has not synced meanwhile.
TEST_F(InformerStop, EndsAWaitForSeveralToSyncBeforeItsTimeout) {
  Informers informers(*client, options);
  informers.get({"", "v1", "configmaps", true}, "ns");
  informers.startAll();
  auto stopper = stopSoon();
  std::jthread probe([&] {
    std::this_thread::sleep_for(100ms);
    auto asked = Clock::now();
    EXPECT_EQ(informers.unsynced().size(), 1u);
    EXPECT_LT(Clock::now() - asked, 100ms * testing::kSlowdown) << "not after the wait";
  });
  auto started = Clock::now();
  EXPECT_FALSE(informers.waitForSync(60s, stopping.get_token()));
  EXPECT_LT(Clock::now() - started, 300ms + 1s * testing::kSlowdown) << "not the 60 s timeout";
  informers.stopAll();
}

}  // namespace
}  // namespace governor::kube
