// governor-bench-load: drives one HTTPS URL, or several in turn, as the kube-apiserver's
// front proxy does (a client certificate, the user in request headers, keep-alive
// connections) and prints requests per second and latency percentiles. bench/adapter runs
// it against Governor's metrics adapter and against its peer in the same run; bench/keda
// against the kube-apiserver, reading the metrics of N objects in turn.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <CLI/CLI.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Url {
  std::string host;
  int port = 443;
  std::string path;
};

bool parseUrl(const std::string& text, Url& url) {
  static const std::regex form(R"(https://([^/:]+)(:(\d+))?(/.*))");
  std::smatch m;
  if (!std::regex_match(text, m, form)) return false;
  url.host = m[1];
  if (m[3].matched) url.port = std::stoi(m[3]);
  url.path = m[4];
  return true;
}

// What one connection did: the latency of every answered request, in microseconds.
struct Tally {
  std::vector<double> micros;
  long errors = 0;
  std::string firstError;
};

// The q-quantile (0 < q <= 1) of sorted values: the smallest value with at least q of all
// values at or below it.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "governor-bench-load: sends GET URL over N keep-alive HTTPS connections (one thread each) for D seconds,\n"
      "each request as soon as the previous one on its connection was answered (with several URLs, each\n"
      "connection GETs them in turn), and prints one line:\n"
      "requests= errors= rps= p50_ms= p99_ms= p999_ms= bytes= (bytes: the size of one answer).\n"
      "A request counts as an error unless it is answered 200.",
      "governor-bench-load"};
  std::vector<std::string> urlTexts;
  std::string urlFile, cert, key, ca;
  std::vector<std::string> headerTexts;
  int connections = 8;
  double seconds = 10;
  app.add_option("url", urlTexts, "https://HOST:PORT/PATH?QUERY; several must share HOST:PORT");
  app.add_option("--url-file", urlFile, "More URLs, one a line")->check(CLI::ExistingFile);
  app.add_option("-c,--connections", connections, "Connections, each with its own thread")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("-d,--duration", seconds, "Seconds to send requests for")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--cert", cert, "Client certificate (PEM), as the front proxy's")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--key", key, "Key of --cert (PEM)")->required()->check(CLI::ExistingFile);
  app.add_option("--cacert", ca, "CA that signed the server's certificate (PEM)")->required()->check(CLI::ExistingFile);
  app.add_option("-H,--header", headerTexts, "A request header 'Name: value'; repeatable");
  CLI11_PARSE(app, argc, argv);

  if (!urlFile.empty()) {
    std::ifstream in(urlFile);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) urlTexts.push_back(line);
    }
  }
  if (urlTexts.empty()) {
    std::fprintf(stderr, "governor-bench-load: no URL (an argument or --url-file)\n");
    return 2;
  }
  std::vector<Url> urls(urlTexts.size());
  for (size_t i = 0; i < urls.size(); ++i) {
    if (!parseUrl(urlTexts[i], urls[i])) {
      std::fprintf(stderr, "governor-bench-load: %s is not an https://HOST[:PORT]/PATH URL\n", urlTexts[i].c_str());
      return 2;
    }
    if (urls[i].host != urls[0].host || urls[i].port != urls[0].port) {
      std::fprintf(stderr, "governor-bench-load: %s is not on %s:%d\n", urlTexts[i].c_str(), urls[0].host.c_str(),
                   urls[0].port);
      return 2;
    }
  }
  const Url& url = urls[0];
  httplib::Headers headers;
  for (const auto& h : headerTexts) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::fprintf(stderr, "governor-bench-load: header \"%s\" is not 'Name: value'\n", h.c_str());
      return 2;
    }
    auto value = h.find_first_not_of(' ', colon + 1);
    headers.emplace(h.substr(0, colon), value == std::string::npos ? "" : h.substr(value));
  }

  std::atomic<size_t> bytes{0};
  std::vector<Tally> tallies(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const auto started = Clock::now();
  for (size_t c = 0; c < tallies.size(); ++c) {
    // Connection c starts at its own share of the URLs, so that together they read all.
    threads.emplace_back([&, &tally = tallies[c], next = c * urls.size() / tallies.size()]() mutable {
      httplib::SSLClient client(url.host, url.port, cert, key);
      client.set_ca_cert_path(ca);
      client.enable_server_certificate_verification(true);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);  // as Go's HTTP client (the kube-apiserver's) does
      tally.micros.reserve(1 << 16);
      while (Clock::now() < deadline) {
        auto sent = Clock::now();
        auto res = client.Get(urls[next].path, headers);
        next = (next + 1) % urls.size();
        auto took = std::chrono::duration<double, std::micro>(Clock::now() - sent).count();
        if (res && res->status == 200) {
          tally.micros.push_back(took);
          bytes = res->body.size();
          continue;
        }
        if (tally.errors++ == 0) {
          tally.firstError = res ? "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 300)
                                 : "no answer: " + httplib::to_string(res.error());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  std::vector<double> all;
  long errors = 0;
  for (const auto& t : tallies) {
    all.insert(all.end(), t.micros.begin(), t.micros.end());
    errors += t.errors;
    if (!t.firstError.empty()) std::fprintf(stderr, "governor-bench-load: %s\n", t.firstError.c_str());
  }
  std::sort(all.begin(), all.end());
  std::printf("requests=%zu errors=%ld rps=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f bytes=%zu\n", all.size(), errors,
              static_cast<double>(all.size()) / elapsed, quantile(all, 0.5) / 1000, quantile(all, 0.99) / 1000,
              quantile(all, 0.999) / 1000, bytes.load());
  return errors == 0 && !all.empty() ? 0 : 1;
}
