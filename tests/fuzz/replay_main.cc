// Runs a fuzz target without libFuzzer: feeds every file of the given directories (and any
// files given directly) to LLVMFuzzerTestOneInput, in name order, each in a child process of
// its own, and lists every input that failed. Used by the ctest tests
// fuzz.<target>.corpus with any compiler; a crash, a violated property (abort/trap), an input
// slower than -timeout seconds (default 10) or a memory blow-up past -rss_limit_mb (default
// 1024; under ASan a fixed 1024) fails the run.
//
//   fuzz_yaml_replay [-timeout=S] [-rss_limit_mb=MB] DIR_OR_FILE...
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1
#endif

// The input being run, for the timeout handler (which may only use async-signal-safe calls).
char current[4096];

void onTimeout(int) {
  const char prefix[] = "\nreplay: TIMEOUT on ";
  (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
  (void)!write(STDERR_FILENO, current, strlen(current));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(70);
}

bool flag(const std::string& arg, const char* name, long& value) {
  std::string prefix = std::string("-") + name + "=";
  if (arg.rfind(prefix, 0) != 0) return false;
  value = std::strtol(arg.c_str() + prefix.size(), nullptr, 10);
  return true;
}

}  // namespace

#ifdef REPLAY_ASAN
// Under ASan the address-space limit below cannot work; ASan's own RSS watchdog stands in.
extern "C" const char* __asan_default_options() { return "hard_rss_limit_mb=1024"; }
#endif

int main(int argc, char** argv) {
  long timeout = 10;
  long rssLimitMb = 1024;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flag(arg, "timeout", timeout) || flag(arg, "rss_limit_mb", rssLimitMb)) continue;
    if (arg.starts_with("-")) {
      std::fprintf(stderr, "replay: ignoring flag %s\n", arg.c_str());
      continue;
    }
    std::error_code error;
    if (fs::is_directory(arg, error)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(arg, error)) {
      inputs.emplace_back(arg);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", arg.c_str());
      return 2;
    }
  }
  // Each input runs in a child of its own, so that one crash does not hide the next.
  std::vector<std::string> failures;
  for (const fs::path& path : inputs) {
    std::snprintf(current, sizeof current, "%s", path.c_str());
    std::fprintf(stderr, "replay: %s\n", path.c_str());
    std::fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
      std::perror("replay: fork");
      return 2;
    }
    if (child == 0) {
#ifndef REPLAY_ASAN
      // A runaway allocation ends in std::bad_alloc (and so abort), not in the OOM killer.
      // Not under ASan, whose shadow memory needs a huge address space.
      if (rssLimitMb > 0) {
        rlim_t bytes = static_cast<rlim_t>(rssLimitMb) * 1024 * 1024;
        rlimit limit{bytes, bytes};
        setrlimit(RLIMIT_AS, &limit);
      }
#endif
      std::signal(SIGALRM, onTimeout);
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      alarm(static_cast<unsigned>(std::max(timeout, 0L)));
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      std::fflush(nullptr);
      _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) {
        std::perror("replay: waitpid");
        return 2;
      }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    std::string what = WIFSIGNALED(status)         ? "killed by signal " + std::to_string(WTERMSIG(status))
                       : WEXITSTATUS(status) == 70 ? "timed out after " + std::to_string(timeout) + "s"
                                                   : "exit status " + std::to_string(WEXITSTATUS(status));
    std::fprintf(stderr, "replay: FAILED %s: %s\n", path.c_str(), what.c_str());
    failures.push_back(path.string() + ": " + what);
  }
  if (!failures.empty()) {
    std::fprintf(stderr, "replay: %zu of %zu inputs failed:\n", failures.size(), inputs.size());
    for (const std::string& failure : failures) std::fprintf(stderr, "  %s\n", failure.c_str());
    return 1;
  }
  std::fprintf(stderr, "replay: %zu inputs, all passed\n", inputs.size());
  return 0;
}
