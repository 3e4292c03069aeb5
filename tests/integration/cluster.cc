#include "cluster.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace governor::testing {

std::unique_ptr<kube::Client> clusterClient() {
  const char* path = std::getenv("KUBECONFIG");
  if (!path) {
    ADD_FAILURE() << "KUBECONFIG is not set: run integration tests through ctest or tests/cluster/exec";
    return nullptr;
  }
  auto config = kube::loadKubeconfig(path);
  if (!config) {
    ADD_FAILURE() << config.error().what();
    return nullptr;
  }
  auto client = kube::Client::create(*config);
  if (!client) {
    ADD_FAILURE() << client.error().what();
    return nullptr;
  }
  return std::move(client).value();
}

int clusterCtl(const std::string& args) {
  std::string cmd = std::string(GOVERNOR_CLUSTER_SCRIPTS) + "/ctl " + args;
  return std::system(cmd.c_str());
}

TestNamespace::TestNamespace(kube::Client& client, const std::string& prefix) : client_(client) {
  std::mt19937 rng{std::random_device{}()};
  name_ = prefix + "-" + std::to_string(rng() % 1'000'000);
  auto created = client_.create(kNamespaces, "", {{"metadata", {{"name", name_}}}});
  EXPECT_TRUE(created.ok()) << created.error().what();
}

TestNamespace::~TestNamespace() { (void)client_.remove(kNamespaces, "", name_); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const std::string& logFile)
    : logFile_(logFile) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

int BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace governor::testing
