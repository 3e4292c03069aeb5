#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <utility>

namespace governor::testing {

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

bool isExecutable(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string findProgram(const char* envVar, const std::vector<std::string>& candidates) {
  if (const char* env = std::getenv(envVar); env && *env) return env;
  for (const std::string& candidate : candidates) {
    if (candidate.find('/') != std::string::npos) {
      if (isExecutable(candidate)) return candidate;
      continue;
    }
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const std::string full = (dir.empty() ? "." : dir) + "/" + candidate;
      if (isExecutable(full)) return full;
    }
  }
  return "";
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const std::string& logFile,
                                     const std::string& workingDir)
    : logFile_(logFile) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (!workingDir.empty() && chdir(workingDir.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
}

BackgroundProcess::BackgroundProcess(BackgroundProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exited_(other.exited_),
      status_(other.status_),
      logFile_(std::move(other.logFile_)) {}

BackgroundProcess& BackgroundProcess::operator=(BackgroundProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    exited_ = other.exited_;
    status_ = other.status_;
    logFile_ = std::move(other.logFile_);
  }
  return *this;
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() const {
  if (pid_ <= 0 || exited_) return false;
  const int reaped = waitpid(pid_, &status_, WNOHANG);
  if (reaped == pid_) exited_ = true;
  return reaped == 0;
}

int BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  const int pid = std::exchange(pid_, -1);
  int status = status_;
  if (!exited_) {
    kill(pid, SIGTERM);
    kill(pid, SIGCONT);  // a stopped process acts on SIGTERM only once it runs again
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void BackgroundProcess::signal(int sig) const {
  if (!running()) return;
  kill(pid_, sig);
  // A stop takes effect when the process next runs: wait for its state to say so (at most
  // 2 s), so that what the test does next meets a stopped process.
  for (int i = 0; sig == SIGSTOP && i < 200 && !stopped(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool BackgroundProcess::stopped() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto end = stat.rfind(')');  // the state follows the command name, which may hold anything
  return end != std::string::npos && end + 2 < stat.size() && stat[end + 2] == 'T';
}

std::string BackgroundProcess::log() const {
  std::ifstream in(logFile_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
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

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string tail(const std::string& path, int lines) {
  return run("tail -n " + std::to_string(lines) + " " + quote(path)).output;
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("governor-" + prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data())) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (ok() && !std::getenv("GOVERNOR_KEEP_TEST_FILES")) std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const {
  auto p = path_ / name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace governor::testing
