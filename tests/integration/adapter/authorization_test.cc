// governor-metrics-adapter's delegated authorization on the real cluster: the adapter runs
// as the chart's ServiceAccount with exactly the chart's RBAC (system:auth-delegator lets
// it create SubjectAccessReviews), registered with the aggregation layer, and serves the
// backlog of a real redis-server list. A user without RBAC is refused, through the
// aggregator and by the adapter itself when it is called with the front proxy's own
// certificate; a Role bound to the user lets them read the value; the admin
// (system:masters) and the HPA controller's ServiceAccount may read it; without the
// auth-delegator binding requests fail closed.
//
// It also reproduces issue 16's exfiltration: a ServiceLevel naming a Secret and an address
// of its author's choosing. A Secret without the label governor.io/redis-credentials=true is
// never sent (a TCP listener at an allowed address sees no connection, the metric names the
// Secret and the label); labelled, it goes to that address (AUTH reaches the listener, a real
// redis-server with requirepass accepts it). An address outside the allowlist
// (--redis-allowed-cidrs) is refused before any connection, whatever the Secret.
//
// Run through ctest (`ctest -R adapter.authorization`), or by hand inside the cluster:
//   tests/cluster/exec build/tests/adapter_authorization_tests
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapter_setup.h"
#include "cluster.h"
#include "kube/client.h"

namespace governor::testing {
namespace {

using kube::Json;
using namespace std::chrono_literals;

constexpr int kAdapterPort = 8444;
constexpr const char* kRedisAddress = "10.200.0.1:6390";
const std::string kRedisCli = "redis-cli -h 10.200.0.1 -p 6390 ";
// A redis-server that asks for a password (requirepass), and that password.
constexpr const char* kAuthRedisAddress = "10.200.0.1:6391";
const std::string kAuthRedisCli = "redis-cli -h 10.200.0.1 -p 6391 --no-auth-warning -a hunter2 ";
constexpr const char* kPassword = "hunter2";
// The adapter's allowlist: the network namespace's own address only. 127.0.0.1, which the
// adapter reaches just as well, is outside it.
constexpr const char* kAllowedCidrs = "10.200.0.1/32";
const std::string kHpaController = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
const std::vector<std::string> kHpaGroups = {"system:serviceaccounts", "system:serviceaccounts:kube-system",
                                             "system:authenticated"};

std::string backlogPath(const std::string& ns, const std::string& serviceLevel) {
  return "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + ns +
         "/governor_queue_backlog?labelSelector=governor.io/service-level%3D" + serviceLevel;
}

// The backlog's value in a successful answer, or "" (an error, or not one item).
std::string valueOf(const Json& list) {
  if (!list.is_object() || list.value("items", Json::array()).size() != 1) return "";
  return list["items"][0].value("value", "");
}

// A TCP server that only listens: it counts the connections made to it and keeps every byte
// received (what an attacker's host would see), answering nothing.
class Listener {
 public:
  explicit Listener(const std::string& ip) : ip_(ip) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Listener() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int c : clients_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  bool listening() const { return fd_ >= 0; }
  std::string address() const { return ip_ + ":" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::string received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void serve() {
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (int c : clients_) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c >= 0) {
          ++connections_;
          clients_.push_back(c);
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[4096];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          std::lock_guard lock(mu_);
          received_.append(buffer, static_cast<size_t>(n));
        } else {
          ::close(fds[i].fd);
          std::erase(clients_, fds[i].fd);
        }
      }
    }
  }

  std::string ip_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::vector<int> clients_;  // the serving thread's only
  mutable std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

// `kubectl get --raw PATH`, as the admin or, with `as`, impersonating that user.
struct Answer {
  int status = -1;  // kubectl's exit status, or the HTTP status of a direct call
  std::string output;
  Json json;
};
Answer getRaw(const std::string& path, const std::string& as = "") {
  auto r = run("kubectl get --raw " + quote(path) + (as.empty() ? "" : " --as=" + quote(as)));
  return {r.status, r.output, Json::parse(r.output, nullptr, false)};
}

class AuthorizationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* clusterDir = std::getenv("GOVERNOR_CLUSTER_DIR");
    ASSERT_TRUE(std::getenv("KUBECONFIG") && clusterDir)
        << "KUBECONFIG and GOVERNOR_CLUSTER_DIR are unset: run through ctest or tests/cluster/exec";
    pki_ = std::string(clusterDir) + "/pki";
    char dirTemplate[] = "/tmp/governor-authz-XXXXXX";
    ASSERT_NE(mkdtemp(dirTemplate), nullptr);
    tmp_ = dirTemplate;
    const std::string logs = std::string(GOVERNOR_BINARY_DIR) + "/";

    auto cert = writeAdapterServingCert(tmp_, kAddress);
    ASSERT_EQ(cert.status, 0) << cert.output;

    auto crd = applyServiceLevelCrd();
    ASSERT_EQ(crd.status, 0) << crd.output;

    auto redisServer = run("command -v redis-server").output;
    ASSERT_FALSE(redisServer.empty()) << "redis-server is not installed (scripts/install-deps)";
    redis_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{redisServer.substr(0, redisServer.find('\n')), "--bind", kAddress, "--port", "6390",
                                 "--protected-mode", "no", "--save", "", "--appendonly", "no"},
        logs + "authz-redis.log");
    ASSERT_TRUE(eventually([] { return run(kRedisCli + "ping").output == "PONG\n"; }, 10s)) << tail(redis_->logFile());
    authRedis_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{redisServer.substr(0, redisServer.find('\n')), "--bind", kAddress, "--port", "6391",
                                 "--requirepass", kPassword, "--save", "", "--appendonly", "no"},
        logs + "authz-redis-auth.log");
    ASSERT_TRUE(eventually([] { return run(kAuthRedisCli + "ping").output == "PONG\n"; }, 10s))
        << tail(authRedis_->logFile());

    // The chart's ServiceAccount and RBAC, and a kubeconfig with a token of that account.
    auto rbac = applyChartRbac();
    ASSERT_EQ(rbac.status, 0) << rbac.output;
    auto made = writeServiceAccountKubeconfig(tmp_, "governor-metrics-adapter");
    ASSERT_EQ(made.status, 0) << made.output;
    const std::string kubeconfig = tmp_ + "/governor-metrics-adapter.kubeconfig";

    adapter_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{GOVERNOR_ADAPTER_BINARY, "--kubeconfig", kubeconfig, "--bind-address", kAddress,
                                 "--secure-port", std::to_string(kAdapterPort), "--tls-cert-file",
                                 tmp_ + "/adapter.crt", "--tls-private-key-file", tmp_ + "/adapter.key",
                                 "--poll-interval", "1s", "--redis-allowed-cidrs", kAllowedCidrs, "--log-format",
                                 "text"},
        logs + "authz-adapter.log");
    const std::string readyz = "https://" + std::string(kAddress) + ":" + std::to_string(kAdapterPort) + "/readyz";
    ASSERT_TRUE(eventually([&] { return run("curl -sfk " + readyz).status == 0; }))
        << "the adapter did not become ready:\n"
        << tail(adapter_->logFile());

    auto apply = registerAdapter(tmp_, kAddress, kAdapterPort);
    ASSERT_EQ(apply.status, 0) << apply.output << tail(adapter_->logFile());
  }

  static void TearDownTestSuite() {
    unregisterAdapter();
    if (adapter_) {
      EXPECT_EQ(adapter_->stop(), 0) << "the adapter must stop cleanly on SIGTERM";
    }
    adapter_.reset();
    redis_.reset();
    authRedis_.reset();
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_);
  }

  void SetUp() override {
    ASSERT_TRUE(adapter_ && adapter_->running()) << "the suite's setup failed, or the adapter died";
    client_ = clusterClient();
    ASSERT_TRUE(client_);
    ns_ = std::make_unique<TestNamespace>(*client_, "authz");
  }

  const std::string& ns() const { return ns_->name(); }

  // ServiceLevel `name` with a Redis list of `items` entries; returns once the admin reads it.
  void createBacklog(const std::string& name, int items) {
    const std::string key = name + "-" + ns();
    ASSERT_NO_FATAL_FAILURE(createQueue(name, kRedisAddress, key, ""));
    std::string push = kRedisCli + "RPUSH " + key;
    for (int i = 0; i < items; ++i) push += " x";
    ASSERT_EQ(run(push).output, std::to_string(items) + "\n");
    Answer admin;
    ASSERT_TRUE(eventually(
        [&] {
          admin = getRaw(backlogPath(ns(), name));
          return valueOf(admin.json) == std::to_string(items);
        },
        15s))
        << admin.output << tail(adapter_->logFile());
  }

  // ServiceLevel `name` whose queue is list `key` at `address`, with the password in key
  // "password" of Secret `secret` (none when empty).
  void createQueue(const std::string& name, const std::string& address, const std::string& key,
                   const std::string& secret) {
    Json redis = {{"address", address}, {"key", key}};
    if (!secret.empty()) redis["passwordSecretRef"] = {{"name", secret}, {"key", "password"}};
    Json sl = {
        {"apiVersion", "governor.io/v1alpha1"},
        {"kind", "ServiceLevel"},
        {"metadata", {{"name", name}}},
        {"spec",
         {{"workload", {{"name", name}}},
          {"autoscaling",
           {{"minReplicas", 1}, {"maxReplicas", 10}, {"queue", {{"redis", redis}, {"targetPerReplica", 10}}}}}}}};
    auto created = client_->create(kServiceLevels, ns(), sl);
    ASSERT_TRUE(created.ok()) << created.error().what();
  }

  // Secret `name` holding kPassword in key "password", labelled for Redis or not.
  void createSecret(const std::string& name, bool labelled) {
    Json secret = {{"metadata", {{"name", name}}}, {"stringData", {{"password", kPassword}}}};
    if (labelled) secret["metadata"]["labels"] = {{"governor.io/redis-credentials", "true"}};
    auto created = client_->create(kSecrets, ns(), secret);
    ASSERT_TRUE(created.ok()) << created.error().what();
  }

  // The adapter's answer for `name`'s backlog once its message contains `text` (as the HPA
  // controller asks for it).
  Answer backlogErrorContaining(const std::string& name, const std::string& text) {
    Answer r;
    EXPECT_TRUE(eventually(
        [&] {
          r = direct(backlogPath(ns(), name), kHpaController, kHpaGroups);
          return r.json.value("message", "").find(text) != std::string::npos;
        },
        20s))
        << r.output << tail(adapter_->logFile());
    return r;
  }

  // GET on the adapter itself with the front proxy's certificate, naming `user` and `groups`
  // as the aggregator would.
  Answer direct(const std::string& path, const std::string& user, const std::vector<std::string>& groups) {
    httplib::SSLClient c(kAddress, kAdapterPort, pki_ + "/front-proxy-client.crt", pki_ + "/front-proxy-client.key");
    c.set_ca_cert_path((pki_ + "/ca.crt").c_str());
    c.enable_server_certificate_verification(true);
    c.set_read_timeout(15, 0);
    httplib::Headers headers = {{"X-Remote-User", user}};
    for (const auto& g : groups) headers.emplace("X-Remote-Group", g);
    auto r = c.Get(path.c_str(), headers);
    if (!r) return {-1, httplib::to_string(r.error()), Json()};
    return {r->status, r->body, Json::parse(r->body, nullptr, false)};
  }

  static inline std::string pki_;
  static inline std::string tmp_;
  static inline std::unique_ptr<BackgroundProcess> redis_;
  static inline std::unique_ptr<BackgroundProcess> authRedis_;
  static inline std::unique_ptr<BackgroundProcess> adapter_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<TestNamespace> ns_;
};

TEST_F(AuthorizationTest, AUserWithoutRbacIsForbiddenUntilARoleIsBound) {
  createBacklog("orders", 3);
  const std::string path = backlogPath(ns(), "orders");
  const std::string denied =
      "User \"someone\" cannot list resource \"governor_queue_backlog\" in API group "
      "\"external.metrics.k8s.io\" in the namespace \"" +
      ns() + "\"";

  // Through the aggregator: the kube-apiserver itself refuses first.
  auto viaAggregator = getRaw(path, "someone");
  EXPECT_NE(viaAggregator.status, 0) << viaAggregator.output;
  EXPECT_NE(viaAggregator.output.find(denied), std::string::npos) << viaAggregator.output;
  // The adapter asks the API server the same question and refuses in the same words.
  auto atAdapter = direct(path, "someone", {"system:authenticated"});
  EXPECT_EQ(atAdapter.status, 403) << atAdapter.output;
  EXPECT_EQ(atAdapter.json.value("reason", ""), "Forbidden") << atAdapter.output;
  EXPECT_NE(atAdapter.json.value("message", "").find(denied), std::string::npos) << atAdapter.output;
  // Discovery stays open to them.
  EXPECT_EQ(getRaw("/apis/external.metrics.k8s.io/v1beta1", "someone").status, 0);

  Json role = {{"metadata", {{"name", "read-backlog"}}},
               {"rules",
                {{{"apiGroups", {"external.metrics.k8s.io"}},
                  {"resources", {"governor_queue_backlog"}},
                  {"verbs", {"get", "list"}}}}}};
  Json binding = {{"metadata", {{"name", "someone-reads-backlog"}}},
                  {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "read-backlog"}}},
                  {"subjects", {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", "someone"}}}}};
  ASSERT_TRUE(client_->create(kRoles, ns(), role).ok());
  ASSERT_TRUE(client_->create(kRoleBindings, ns(), binding).ok());

  // Within the adapter's 10 s cache of the denial, and then for good.
  Answer granted;
  EXPECT_TRUE(eventually(
      [&] {
        granted = getRaw(path, "someone");
        return valueOf(granted.json) == "3";
      },
      30s))
      << granted.output << tail(adapter_->logFile());
  auto grantedAtAdapter = direct(path, "someone", {"system:authenticated"});
  EXPECT_EQ(grantedAtAdapter.status, 200) << grantedAtAdapter.output;
  EXPECT_EQ(valueOf(grantedAtAdapter.json), "3") << grantedAtAdapter.output;

  // The Role is the namespace's only.
  auto elsewhere = direct(backlogPath(ns() + "-other", "orders"), "someone", {"system:authenticated"});
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.output;
}

TEST_F(AuthorizationTest, TheAdminAndTheHpaControllerMayRead) {
  createBacklog("jobs", 4);  // read by the admin (system:masters)
  const std::string path = backlogPath(ns(), "jobs");
  // The built-in ClusterRole system:controller:horizontal-pod-autoscaler allows its account
  // both metrics groups: through the aggregator, and when the adapter asks.
  auto hpa = getRaw(path, kHpaController);
  EXPECT_EQ(valueOf(hpa.json), "4") << hpa.output;
  auto hpaAtAdapter = direct(path, kHpaController, kHpaGroups);
  EXPECT_EQ(hpaAtAdapter.status, 200) << hpaAtAdapter.output;
  EXPECT_EQ(valueOf(hpaAtAdapter.json), "4") << hpaAtAdapter.output;

  // Custom metrics too: authorized (no workload has a latency objective here, hence 404),
  // and refused to a user without RBAC in the kube-apiserver's words.
  const std::string custom =
      "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns() + "/deployments.apps/web/governor_latency_p95_seconds";
  EXPECT_EQ(direct(custom, kHpaController, kHpaGroups).status, 404);
  auto refused = direct(custom, "someone", {"system:authenticated"});
  EXPECT_EQ(refused.status, 403) << refused.output;
  EXPECT_NE(
      refused.json.value("message", "")
          .find("deployments.apps.custom.metrics.k8s.io \"web\" is forbidden: User \"someone\" cannot get resource "
                "\"deployments.apps/governor_latency_p95_seconds\" in API group \"custom.metrics.k8s.io\""),
      std::string::npos)
      << refused.output;
}

// Issue 16: someone who may create ServiceLevels but not read Secrets names a Secret and an
// address of their own. Unlabelled, the Secret is never sent: not even a connection is made.
TEST_F(AuthorizationTest, AnUnlabelledSecretIsNeverSentAndALabelledOneWorks) {
  Listener thief(kAddress);  // inside --redis-allowed-cidrs: only the label stands in the way
  ASSERT_TRUE(thief.listening());
  createSecret("creds", false);
  createQueue("stolen", thief.address(), "jobs", "creds");

  auto refused = backlogErrorContaining("stolen", "governor.io/redis-credentials=true");
  EXPECT_EQ(refused.status, 503) << refused.output;
  EXPECT_EQ(refused.json.value("reason", ""), "ServiceUnavailable") << refused.output;
  const std::string message = refused.json.value("message", "");
  EXPECT_NE(message.find("Secret " + ns() + "/creds is missing or lacks the label governor.io/redis-credentials=true"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(kPassword), std::string::npos) << message;
  EXPECT_EQ(valueOf(refused.json), "") << "a value was served: " << refused.output;
  std::this_thread::sleep_for(5s);  // five poll intervals
  EXPECT_EQ(thief.connections(), 0) << "received: " << thief.received();
  EXPECT_EQ(thief.received().find("AUTH"), std::string::npos) << thief.received();

  // The control: once the Secret's owner labels it, the listener gets AUTH with the password
  // (so its silence above was the adapter's doing).
  auto labelled = run("kubectl label secret -n " + ns() + " creds governor.io/redis-credentials=true");
  ASSERT_EQ(labelled.status, 0) << labelled.output;
  EXPECT_TRUE(eventually([&] { return thief.received().find(kPassword) != std::string::npos; }, 20s))
      << "connections: " << thief.connections() << ", received: " << thief.received() << tail(adapter_->logFile());
  EXPECT_NE(thief.received().find("AUTH"), std::string::npos) << thief.received();

  // Pointed at a real redis-server with requirepass: AUTH is accepted, the backlog served.
  ASSERT_EQ(run(kAuthRedisCli + "RPUSH " + ns() + " a b c d e").output, "5\n");
  auto moved = run(
      "kubectl patch servicelevel -n " + ns() + " stolen --type=merge -p " +
      quote(Json{{"spec", {{"autoscaling", {{"queue", {{"redis", {{"address", kAuthRedisAddress}, {"key", ns()}}}}}}}}}}
                .dump()));
  ASSERT_EQ(moved.status, 0) << moved.output;
  Answer served;
  EXPECT_TRUE(eventually(
      [&] {
        served = getRaw(backlogPath(ns(), "stolen"));
        return valueOf(served.json) == "5";
      },
      20s))
      << served.output << tail(adapter_->logFile());
}

// An address outside the allowlist is refused before any connection, even with a labelled
// Secret, and the error shows neither the allowlist nor anything resolved.
TEST_F(AuthorizationTest, AnAddressOutsideTheAllowlistIsNeverConnectedTo) {
  Listener outside("127.0.0.1");  // reachable by the adapter, but not in --redis-allowed-cidrs
  ASSERT_TRUE(outside.listening());
  createSecret("creds", true);
  createQueue("probe", outside.address(), "jobs", "creds");
  createQueue("elsewhere", "kubernetes.default.svc:443", "jobs", "");

  auto refused = backlogErrorContaining("probe", "is not allowed");
  EXPECT_EQ(refused.status, 503) << refused.output;
  const std::string message = refused.json.value("message", "");
  EXPECT_NE(message.find("address " + outside.address() +
                         " is not allowed: an IP address must be inside the adapter's --redis-allowed-cidrs"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(kAllowedCidrs), std::string::npos) << "the allowlist leaked: " << message;
  EXPECT_EQ(message.find(kPassword), std::string::npos) << message;

  auto otherNamespace = backlogErrorContaining("elsewhere", "is not allowed");
  const std::string otherMessage = otherNamespace.json.value("message", "");
  EXPECT_NE(otherMessage.find("address kubernetes.default.svc:443 is not allowed: a host name must be a Service of "
                              "namespace " +
                              ns()),
            std::string::npos)
      << otherMessage;
  EXPECT_EQ(otherMessage.find("10."), std::string::npos) << "a resolved address leaked: " << otherMessage;

  std::this_thread::sleep_for(5s);  // five poll intervals
  EXPECT_EQ(outside.connections(), 0) << "received: " << outside.received();
  EXPECT_EQ(outside.received(), "");
}

// Last: it takes the adapter's system:auth-delegator binding away (and gives it back).
TEST_F(AuthorizationTest, WithoutTheRightToReviewRequestsFailClosed) {
  createBacklog("closed", 2);
  auto removed = run("kubectl delete clusterrolebinding governor-metrics-adapter:system:auth-delegator");
  ASSERT_EQ(removed.status, 0) << removed.output;
  Answer r;
  // A caller the adapter has no cached answer for: the review itself is refused.
  EXPECT_TRUE(eventually(
      [&] {
        r = direct(backlogPath(ns(), "closed"), kHpaController, {"system:authenticated"});
        return r.status == 503;
      },
      15s))
      << r.output;
  EXPECT_EQ(r.json.value("reason", ""), "ServiceUnavailable") << r.output;
  EXPECT_NE(r.output.find("authorization is unavailable"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("subjectaccessreviews"), std::string::npos) << r.output;
  EXPECT_EQ(valueOf(r.json), "") << "a value leaked: " << r.output;

  auto restored = applyChartRbac();
  ASSERT_EQ(restored.status, 0) << restored.output;
  EXPECT_TRUE(eventually(
      [&] {
        r = direct(backlogPath(ns(), "closed"), kHpaController, {"system:authenticated"});
        return valueOf(r.json) == "2";
      },
      15s))
      << r.output;
}

}  // namespace
}  // namespace governor::testing
