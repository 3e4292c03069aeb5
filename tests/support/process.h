// What tests that start programs share: a free port to give them, finding the program,
// running it in the background (or a shell command to completion).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace governor::testing {

// A loopback port nobody listens on right now (the kernel's pick for an ephemeral bind);
// 0 when there is none.
int freePort();

// The program to run: $envVar when set and not empty, else the first executable of
// `candidates` (a name without '/' is looked up on $PATH); "" when there is none.
std::string findProgram(const char* envVar, const std::vector<std::string>& candidates);

// A program started for a test (the operator, redis-server, prometheus), stopped with
// SIGTERM when destroyed. Its stdout and stderr are appended to `logFile`; it runs in
// `workingDir` when one is given.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& logFile,
                    const std::string& workingDir = "");
  BackgroundProcess(BackgroundProcess&& other) noexcept;
  BackgroundProcess& operator=(BackgroundProcess&& other) noexcept;
  ~BackgroundProcess();

  // False once it has exited (or could not be started).
  bool running() const;
  // SIGTERM, then SIGKILL after `grace`; returns the exit status (-1 when killed by a
  // signal). A process that already exited gives its exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Sends `sig` while it runs (SIGSTOP and SIGCONT to make it hang and come back); after
  // SIGSTOP, returns once the process is stopped.
  void signal(int sig) const;
  // Whether it is stopped (SIGSTOP), as /proc says.
  bool stopped() const;
  const std::string& logFile() const { return logFile_; }
  // What it has written to logFile() so far.
  std::string log() const;

 private:
  int pid_ = -1;
  mutable bool exited_ = false;  // reaped by running()
  mutable int status_ = 0;       // its wait status, once exited_
  std::string logFile_;
};

// Runs a shell command (kubectl, helm, redis-cli) and returns its exit status and output.
struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};
CommandResult run(const std::string& command);
// A fresh directory under the system's temporary directory ("governor-PREFIX-XXXXXX"),
// removed with its files when destroyed, unless GOVERNOR_KEEP_TEST_FILES is set (to look at
// what a failing test wrote). path() is empty when it could not be made.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  bool ok() const { return !path_.empty(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `text` to file `name`; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// `s` as one shell word, single-quoted.
std::string quote(const std::string& s);
// The last lines of a log file, for failure messages.
std::string tail(const std::string& path, int lines = 15);

}  // namespace governor::testing
