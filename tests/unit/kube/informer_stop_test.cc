// Stopping an informer ends its waits at once: the reflector's backoff after a refused list,
// the resync period, and a wait for the first sync.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "kube/informer.h"
#include "support/slowdown.h"
#include "unit/support/local_server.h"

namespace governor::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(InformerStop, EndsTheBackoffTheResyncAndAWaitForSyncAtOnce) {
  testing::LocalServer api;
  api.server().Get("/api/v1/namespaces/ns/configmaps", [](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_content(R"({"kind":"Status","reason":"Forbidden","code":403})", "application/json");
  });
  api.start();
  Config config;
  config.server = api.url();
  auto client = std::move(Client::create(config)).value();
  InformerOptions options;
  options.reflector.backoffInitial = options.reflector.backoffCap = 30s;
  options.resyncPeriod = 60s;
  Informer informer(*client, {"", "v1", "configmaps", true}, "ns", options);
  informer.start();

  std::stop_source stopping;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(300ms);  // the list refused, the backoff begun
    stopping.request_stop();
  });
  EXPECT_FALSE(informer.waitForSync(stopping.get_token())) << "never synced: the stop ended the wait";
  auto stopped = Clock::now();
  informer.stop();
  EXPECT_LT(Clock::now() - stopped, 1s * testing::kSlowdown);
}

}  // namespace
}  // namespace governor::kube
