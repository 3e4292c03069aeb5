// What integration tests share: a client for the real test cluster (tests run inside its
// network namespace through tests/cluster/exec), a fresh namespace per test, and a way
// to break the cluster on purpose.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kube/client.h"

namespace governor::testing {

// A client from $KUBECONFIG; fails the test when the cluster is unreachable.
std::unique_ptr<kube::Client> clusterClient();

// Runs tests/cluster/ctl with `args` ("kill kube-apiserver"); returns its exit status.
int clusterCtl(const std::string& args);

// Creates namespace "<prefix>-<random>" and deletes it when destroyed.
class TestNamespace {
 public:
  TestNamespace(kube::Client& client, const std::string& prefix);
  ~TestNamespace();
  const std::string& name() const { return name_; }

 private:
  kube::Client& client_;
  std::string name_;
};

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A program started for a test (the operator, the adapter), stopped with SIGTERM when
// destroyed; its output goes to `logFile`.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& logFile);
  ~BackgroundProcess();
  bool running() const;
  // SIGTERM, then SIGKILL after `grace`; returns the exit status (-1 when killed).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  const std::string& logFile() const { return logFile_; }

 private:
  int pid_ = -1;
  std::string logFile_;
};

// Runs a shell command (kubectl, helm, redis-cli) and returns its exit status and output.
struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};
CommandResult run(const std::string& command);

inline const kube::Resource kConfigMaps{"", "v1", "configmaps", true};
inline const kube::Resource kNamespaces{"", "v1", "namespaces", false};

}  // namespace governor::testing
