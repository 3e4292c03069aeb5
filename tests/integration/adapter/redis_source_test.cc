// RedisSource against a real redis-server (Redis 7) started by each test on a free port in a
// temporary directory: lists, streams with consumer groups, passwords, a hung server, a
// restarted one. Fails when there is no redis-server (or $REDIS_SERVER): scripts/install-deps
// installs it.
#include "metrics-adapter/sources/redis_source.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "metrics-adapter/cache_stats.h"
#include "support/process.h"
#include "support/slowdown.h"

namespace governor::adapter {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

std::string findRedisServer() {
  return governor::testing::findProgram("REDIS_SERVER",
                                        {"redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"});
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};

// The test's own client, for setting up data: a fresh connection per command.
ReplyPtr run(int port, const std::vector<std::string>& args, const std::string& password = "") {
  std::unique_ptr<redisContext, ContextFree> c(redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0}));
  if (!c || c->err) return nullptr;
  redisSetTimeout(c.get(), timeval{2, 0});
  auto argv = [&](const std::vector<std::string>& a) {
    std::vector<const char*> p;
    std::vector<size_t> n;
    for (const auto& s : a) {
      p.push_back(s.data());
      n.push_back(s.size());
    }
    const int argc = static_cast<int>(a.size());
    return ReplyPtr(static_cast<redisReply*>(redisCommandArgv(c.get(), argc, p.data(), n.data())));
  };
  if (!password.empty()) argv({"AUTH", password});
  return argv(args);
}

// redis-server as a child process in its own temporary directory; stopped on destruction.
class RedisServer {
 public:
  explicit RedisServer(int port, std::string password = "") : port_(port), password_(std::move(password)) {
    std::string tmpl = (fs::temp_directory_path() / "governor-adapter-redis-XXXXXX").string();
    if (mkdtemp(tmpl.data())) dir_ = tmpl;
  }
  ~RedisServer() {
    kill();
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  ::testing::AssertionResult start() {
    if (dir_.empty()) return ::testing::AssertionFailure() << "no temporary directory";
    std::vector<std::string> args{
        findRedisServer(), "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
        "--appendonly",    "no",     "--daemonize",         "no"};
    if (!password_.empty()) args.insert(args.end(), {"--requirepass", password_});
    process_.emplace(args, (dir_ / "redis.log").string(), dir_.string());
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      if (!process_->running()) return ::testing::AssertionFailure() << "redis-server exited:\n" << log();
      ReplyPtr pong = run(port_, {"PING"}, password_);
      if (pong && pong->type == REDIS_REPLY_STATUS && std::string(pong->str) == "PONG") {
        return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(20ms);
    }
    return ::testing::AssertionFailure() << "redis-server did not answer PING on port " << port_ << ":\n" << log();
  }

  void kill() {
    if (process_) process_->stop(2s);
  }
  void pause() { process_->signal(SIGSTOP); }
  void resume() { process_->signal(SIGCONT); }

  // Runs a command as the test's client; the reply's integer, or -1.
  long long integer(const std::vector<std::string>& args) const {
    ReplyPtr r = run(port_, args, password_);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }
  ReplyPtr command(const std::vector<std::string>& args) const { return run(port_, args, password_); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  int port_;
  std::string password_;
  fs::path dir_;
  std::optional<governor::testing::BackgroundProcess> process_;
};

class RedisSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(findRedisServer().empty()) << "redis-server not found: run scripts/install-deps (or set REDIS_SERVER)";
    server_ = std::make_unique<RedisServer>(governor::testing::freePort());
    ASSERT_TRUE(server_->start());
  }

  RedisQueue list(const std::string& key) const { return {.address = server_->address(), .key = key}; }
  RedisQueue stream(const std::string& key, const std::string& group) const {
    return {.address = server_->address(), .key = key, .type = RedisQueue::Type::Stream, .consumerGroup = group};
  }
  void push(const std::string& key, int n) {
    std::vector<std::string> args{"LPUSH", key};
    for (int i = 0; i < n; ++i) args.push_back("job-" + std::to_string(i));
    ASSERT_EQ(server_->integer(args), n);
  }
  // XADD n entries; returns their IDs in order.
  std::vector<std::string> add(const std::string& key, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ReplyPtr r = server_->command({"XADD", key, "*", "job", std::to_string(i)});
      if (!r || r->type != REDIS_REPLY_STRING) return ids;
      ids.emplace_back(r->str, r->len);
    }
    return ids;
  }
  void readGroup(const std::string& key, const std::string& group, int count) {
    ReplyPtr r = server_->command(
        {"XREADGROUP", "GROUP", group, "worker-1", "COUNT", std::to_string(count), "STREAMS", key, ">"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY);
  }

  std::unique_ptr<RedisServer> server_;
};

template <class T>
std::string whatOf(const kube::Result<T>& r) {
  return r.ok() ? "<ok>" : r.error().what();
}

TEST_F(RedisSourceTest, ListBacklogIsItsLength) {
  RedisSource source;
  push("jobs", 50);
  auto backlog = source.backlog(list("jobs"));
  ASSERT_TRUE(backlog.ok()) << whatOf(backlog);
  EXPECT_EQ(backlog.value(), 50);

  auto missing = source.backlog(list("no-such-list"));
  ASSERT_TRUE(missing.ok()) << whatOf(missing);
  EXPECT_EQ(missing.value(), 0);  // what Redis says for a list nobody has pushed to yet
}

TEST_F(RedisSourceTest, SelectsTheDatabase) {
  RedisSource source;
  std::unique_ptr<redisContext, ContextFree> c(redisConnect("127.0.0.1", server_->port()));  // SELECT is per connection
  ASSERT_TRUE(c && !c->err);
  ReplyPtr selected(static_cast<redisReply*>(redisCommand(c.get(), "SELECT 3")));
  ReplyPtr pushed(static_cast<redisReply*>(redisCommand(c.get(), "RPUSH jobs a b c d e f g")));
  ASSERT_TRUE(pushed && pushed->type == REDIS_REPLY_INTEGER && pushed->integer == 7);

  RedisQueue inDb3 = list("jobs");
  inDb3.db = 3;
  auto three = source.backlog(inDb3);
  ASSERT_TRUE(three.ok()) << whatOf(three);
  EXPECT_EQ(three.value(), 7);
  auto zero = source.backlog(list("jobs"));
  ASSERT_TRUE(zero.ok()) << whatOf(zero);
  EXPECT_EQ(zero.value(), 0);
  EXPECT_EQ(source.openConnections(), 2u);  // one per database
}

TEST_F(RedisSourceTest, StreamGroupBacklogIsUndeliveredPlusPending) {
  RedisSource source;
  const std::vector<std::string> ids = add("events", 30);
  ASSERT_EQ(ids.size(), 30u);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "events", "g", "0"}));

  auto fresh = source.backlog(stream("events", "g"));
  ASSERT_TRUE(fresh.ok()) << whatOf(fresh);
  EXPECT_EQ(fresh.value(), 30);  // nothing delivered yet

  readGroup("events", "g", 10);  // 10 pending, 20 undelivered
  auto read = source.backlog(stream("events", "g"));
  ASSERT_TRUE(read.ok()) << whatOf(read);
  EXPECT_EQ(read.value(), 30);

  ASSERT_EQ(server_->integer({"XACK", "events", "g", ids[0], ids[1], ids[2], ids[3], ids[4]}), 5);
  auto acked = source.backlog(stream("events", "g"));
  ASSERT_TRUE(acked.ok()) << whatOf(acked);
  EXPECT_EQ(acked.value(), 25);

  auto whole = source.backlog(stream("events", ""));  // no group: XLEN, as KEDA does
  ASSERT_TRUE(whole.ok()) << whatOf(whole);
  EXPECT_EQ(whole.value(), 30);
}

TEST_F(RedisSourceTest, StreamCountsAreEntriesAddedAndAcknowledgedByTheGroup) {
  RedisSource source;
  auto counts = [&](const RedisQueue& queue) { return *source.read({{queue, true}}).front().counts; };
  const std::vector<std::string> ids = add("events", 30);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "events", "g", "0"}));
  auto fresh = counts(stream("events", "g"));
  ASSERT_TRUE(fresh.ok()) << whatOf(fresh);
  EXPECT_EQ(fresh->added, 30);
  EXPECT_EQ(fresh->acknowledged, 0);

  readGroup("events", "g", 10);  // delivered, not acknowledged: not processed yet
  ASSERT_EQ(server_->integer({"XACK", "events", "g", ids[0], ids[1], ids[2], ids[3]}), 4);
  add("events", 5);
  auto later = counts(stream("events", "g"));
  ASSERT_TRUE(later.ok()) << whatOf(later);
  EXPECT_EQ(later->added, 35);
  EXPECT_EQ(later->acknowledged, 4);
  // Trimming the stream leaves entries-added counting.
  ASSERT_TRUE(server_->command({"XTRIM", "events", "MAXLEN", "0"}));
  auto trimmed = counts(stream("events", "g"));
  ASSERT_TRUE(trimmed.ok()) << whatOf(trimmed);
  EXPECT_EQ(trimmed->added, 35);

  auto noGroup = counts(stream("events", "nope"));
  ASSERT_FALSE(noGroup.ok());
  EXPECT_NE(noGroup.error().what().find("consumer group nope of stream events does not exist"), std::string::npos);
  auto ofList = counts(list("jobs"));
  ASSERT_FALSE(ofList.ok());
  EXPECT_NE(ofList.error().what().find("of a stream's consumer group only"), std::string::npos)
      << ofList.error().what();
}

TEST_F(RedisSourceTest, UnknownLagFallsBackToCountingUndeliveredEntries) {
  const std::vector<std::string> ids = add("events", 30);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "events", "g", "0"}));
  readGroup("events", "g", 10);
  // Deleting an undelivered entry makes Redis 7 report lag as nil.
  ASSERT_EQ(server_->integer({"XDEL", "events", ids[20]}), 1);

  RedisSource source;
  auto counted = source.backlog(stream("events", "g"));
  ASSERT_TRUE(counted.ok()) << whatOf(counted);
  EXPECT_EQ(counted.value(), 10 + 19);

  RedisSource capped({.streamScanLimit = 5});
  auto atCap = capped.backlog(stream("events", "g"));
  ASSERT_TRUE(atCap.ok()) << whatOf(atCap);
  EXPECT_EQ(atCap.value(), 10 + 5);
}

TEST_F(RedisSourceTest, MissingGroupOrStreamIsAnError) {
  RedisSource source;
  add("events", 3);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "events", "g", "0"}));

  auto noGroup = source.backlog(stream("events", "nope"));
  ASSERT_FALSE(noGroup.ok());
  EXPECT_EQ(noGroup.error().what(), "redis " + server_->address() +
                                        " key events: NotFound: consumer group nope of stream events does not exist");

  auto noStream = source.backlog(stream("no-such-stream", "g"));
  ASSERT_FALSE(noStream.ok());
  EXPECT_NE(noStream.error().what().find("consumer group g of stream no-such-stream does not exist"),
            std::string::npos);

  push("jobs", 2);
  auto wrongType = source.backlog(stream("jobs", "g"));
  ASSERT_FALSE(wrongType.ok());
  EXPECT_NE(wrongType.error().what().find("WRONGTYPE"), std::string::npos) << wrongType.error().what();

  // The connection survives errors the server answered.
  auto fine = source.backlog(list("jobs"));
  ASSERT_TRUE(fine.ok()) << whatOf(fine);
  EXPECT_EQ(fine.value(), 2);
}

// ---- one read of many queues: one pipeline per connection ------------------------------------

// The test's own connection to the server, kept open: each command it sends is one read event of
// the server (INFO stats total_reads_processed), so that the source's reads can be counted.
class Client {
 public:
  explicit Client(int port) : c_(redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0})) {}
  bool ok() const { return c_ && !c_->err; }
  ReplyPtr command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    return ReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(c_.get(), static_cast<int>(args.size()), argv.data(), lengths.data())));
  }
  std::string text(const std::vector<std::string>& args) {
    ReplyPtr r = command(args);
    return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
  }
  // The server's read events so far (its own INFO's among them).
  long long serverReads() {
    const std::string info = text({"INFO", "stats"});
    const std::string field = "total_reads_processed:";
    const size_t at = info.find(field);
    return at == std::string::npos ? -1 : std::stoll(info.substr(at + field.size()));
  }
  // Connections whose latest command was `command` ("llen").
  int connectionsLastRunning(const std::string& command) {
    const std::string clients = text({"CLIENT", "LIST"});
    int n = 0;
    for (size_t at = clients.find(" cmd=" + command + " "); at != std::string::npos;
         at = clients.find(" cmd=" + command + " ", at + 1)) {
      ++n;
    }
    return n;
  }

 private:
  std::unique_ptr<redisContext, ContextFree> c_;
};

// The server's read events during `poll`, less those of asking for them.
template <class Poll>
long long serverReadsOf(Client& client, Poll poll) {
  const long long first = client.serverReads();
  const long long asking = client.serverReads() - first;
  const long long before = client.serverReads();
  poll();
  return client.serverReads() - before - asking;
}

TEST_F(RedisSourceTest, OneReadOfQueuesOfEveryKindKeepsEachQueuesErrorItsOwn) {
  push("jobs", 3);
  add("events", 30);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "events", "g", "0"}));
  readGroup("events", "g", 10);  // 10 pending, 20 undelivered
  const std::vector<std::string> gaps = add("gaps", 30);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "gaps", "g", "0"}));
  readGroup("gaps", "g", 10);
  ASSERT_EQ(server_->integer({"XDEL", "gaps", gaps[20]}), 1);  // the lag is nil now: XRANGE counts

  RedisSource source;
  const std::vector<RedisRead> reads{
      {list("jobs")},
      {stream("jobs", "g")},
      {stream("events", "g"), true},
      {stream("events", "nope"), true},
      {list("no-such-list")},
      {stream("gaps", "g"), true},
      {stream("events", "")},
      {list("")},
  };
  const std::vector<RedisReading> read = source.read(reads);
  ASSERT_EQ(read.size(), reads.size());
  const std::string at = "redis " + server_->address() + " key ";
  EXPECT_EQ(whatOf(read[0].backlog), "<ok>");
  EXPECT_EQ(read[0].backlog.ok() ? read[0].backlog.value() : -1, 3);
  EXPECT_FALSE(read[0].counts) << "not asked for";
  EXPECT_EQ(whatOf(read[1].backlog),
            at + "jobs: Invalid: XINFO: WRONGTYPE Operation against a key holding the wrong kind of value");
  ASSERT_TRUE(read[2].backlog.ok()) << whatOf(read[2].backlog);
  EXPECT_EQ(read[2].backlog.value(), 30);
  ASSERT_TRUE(read[2].counts && read[2].counts->ok()) << (read[2].counts ? whatOf(*read[2].counts) : "none");
  EXPECT_EQ((*read[2].counts)->added, 30);
  EXPECT_EQ((*read[2].counts)->acknowledged, 0);
  EXPECT_EQ(whatOf(read[3].backlog), at + "events: NotFound: consumer group nope of stream events does not exist");
  ASSERT_TRUE(read[3].counts);
  EXPECT_EQ(whatOf(*read[3].counts), whatOf(read[3].backlog));
  EXPECT_EQ(read[4].backlog.ok() ? read[4].backlog.value() : -1, 0);
  ASSERT_TRUE(read[5].backlog.ok()) << whatOf(read[5].backlog);
  EXPECT_EQ(read[5].backlog.value(), 10 + 19);
  ASSERT_TRUE(read[5].counts && read[5].counts->ok());
  EXPECT_EQ((*read[5].counts)->added, 30);
  EXPECT_EQ(read[6].backlog.ok() ? read[6].backlog.value() : -1, 30);
  EXPECT_EQ(whatOf(read[7].backlog), at + ": Invalid: no key given");
  EXPECT_EQ(source.openConnections(), 1u) << "the errors the server answered keep the connection";
}

TEST_F(RedisSourceTest, AConnectionThatFailsFailsEachOfItsQueuesWithTheSameError) {
  RedisSource refused({.timeout = 1s});
  const std::string nobody = "127.0.0.1:" + std::to_string(governor::testing::freePort());
  const std::vector<RedisRead> there{
      {{.address = nobody, .key = "jobs"}},
      {{.address = nobody, .key = "events", .type = RedisQueue::Type::Stream, .consumerGroup = "g"}, true}};
  const std::vector<RedisReading> down = refused.read(there);
  EXPECT_EQ(whatOf(down[0].backlog), "redis " + nobody + " key jobs: Unavailable: connection refused");
  EXPECT_EQ(whatOf(down[1].backlog), "redis " + nobody + " key events: Unavailable: connection refused");
  ASSERT_TRUE(down[1].counts);
  EXPECT_EQ(whatOf(*down[1].counts), whatOf(down[1].backlog));

  // A hung server costs one timeout for all of its queues, not one each.
  RedisSource source({.timeout = 1s});
  ASSERT_TRUE(source.backlog(list("jobs")).ok());
  std::vector<RedisRead> reads;
  for (const char* key : {"a", "b", "c", "d"}) reads.push_back({list(key)});
  server_->pause();
  const auto started = std::chrono::steady_clock::now();
  const std::vector<RedisReading> hung = source.read(reads);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  server_->resume();
  for (size_t i = 0; i < reads.size(); ++i) {
    EXPECT_EQ(whatOf(hung[i].backlog),
              "redis " + server_->address() + " key " + reads[i].queue.key + ": Timeout: timed out after 1s");
  }
  EXPECT_GE(elapsed, 1s - 100ms);
  EXPECT_LT(elapsed, 2s) << "one timeout for the connection's pipeline";
  EXPECT_TRUE(source.read(reads).front().backlog.ok()) << "and the next read connects again";
}

template <class Rep, class Period>
double millisecondsOf(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The median time `poll` takes, of `n` runs.
template <class Poll>
double medianMilliseconds(int n, Poll poll) {
  std::vector<double> times;
  for (int i = 0; i < n; ++i) {
    const auto started = std::chrono::steady_clock::now();
    poll();
    times.push_back(millisecondsOf(std::chrono::steady_clock::now() - started));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The point of reading queues together: 1,000 lists on one Redis are one round trip per poll on
// one connection, not 1,000, and streams whose lag Redis cannot tell add one more.
TEST_F(RedisSourceTest, AThousandQueuesOnOneConnectionAreOneRoundTripPerPoll) {
  constexpr int kLists = 1000, kStreams = 50;
  Client client(server_->port());
  ASSERT_TRUE(client.ok());
  std::vector<RedisRead> lists;
  for (int i = 0; i < kLists; ++i) lists.push_back({list("q" + std::to_string(i))});
  ASSERT_TRUE(client.command({"RPUSH", "q7", "a", "b", "c", "d", "e", "f", "g"}));
  std::vector<RedisRead> streams;
  for (int i = 0; i < kStreams; ++i) {
    const std::string key = "s" + std::to_string(i);
    std::vector<std::string> ids;
    for (int e = 0; e < 3; ++e) {
      ReplyPtr id = client.command({"XADD", key, "*", "job", std::to_string(e)});
      ASSERT_TRUE(id && id->type == REDIS_REPLY_STRING);
      ids.emplace_back(id->str, id->len);
    }
    ASSERT_TRUE(client.command({"XGROUP", "CREATE", key, "g", "0"}));
    ASSERT_TRUE(client.command({"XDEL", key, ids[2]}));  // the lag is nil: XRANGE counts the other 2
    streams.push_back({stream(key, "g"), true});
  }

  RedisSource source;
  ASSERT_TRUE(source.backlog(list("q0")).ok());  // connected
  std::vector<RedisReading> read;
  const long long listReads = serverReadsOf(client, [&] { read = source.read(lists); });
  ASSERT_EQ(read.size(), lists.size());
  for (int i = 0; i < kLists; ++i) {
    ASSERT_TRUE(read[i].backlog.ok()) << i << ": " << whatOf(read[i].backlog);
    EXPECT_EQ(read[i].backlog.value(), i == 7 ? 7 : 0) << i;
  }
  const long long streamReads = serverReadsOf(client, [&] { read = source.read(streams); });
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(read[i].backlog.ok()) << i << ": " << whatOf(read[i].backlog);
    EXPECT_EQ(read[i].backlog.value(), 2) << i;
  }
  EXPECT_EQ(source.openConnections(), 1u);
  EXPECT_EQ(client.connectionsLastRunning("xrange"), 1) << client.text({"CLIENT", "LIST"});
  // One round trip is one read event of the server, a few when the pipeline (about 30 bytes a
  // command) arrives in pieces; one command at a time would be 1,000 and 100.
  EXPECT_LE(listReads, 10);
  EXPECT_LE(streamReads, 10);

  const double one = medianMilliseconds(200, [&] { (void)source.read({lists[0]}); });
  const double all = medianMilliseconds(9, [&] { (void)source.read(lists); });
  // As before pipelining: one queue, one round trip, after the other.
  double each = 0;
  const long long eachReads = serverReadsOf(client, [&] {
    each = medianMilliseconds(1, [&] {
      for (const RedisRead& r : lists) (void)source.read({r});
    });
  });
  std::cout << "[ figure ] a poll of " << kLists << " lists on one connection: " << listReads << " server read events, "
            << all << " ms (median of 9) = " << all / one << " single-command round trips of " << one * 1000
            << " us (median of 200); one queue at a time: " << eachReads << " server read events, " << each << " ms; "
            << kStreams << " streams without a lag (XINFO GROUPS, XINFO STREAM, then XRANGE): " << streamReads
            << " server read events\n";
  // The times are a figure, not asserted: on loopback a round trip is microseconds, so the
  // poll's time is mostly the server's and this process's work, which a busy machine stretches
  // (AThousandQueuesOverASlowLinkArePolledInAboutOneRoundTrip asserts the time where the round
  // trip dominates). The server's read events above are what proves one round trip.
  EXPECT_GT(eachReads, listReads * 10) << "one queue at a time must be many more round trips";
}

// A TCP proxy on 127.0.0.1 in front of a real redis-server that holds what the server sends for
// `delay` before passing it on: a link whose round trip is `delay`, as to a Redis in another
// zone. Each accepted connection gets its own connection to the server.
class DelayProxy {
 public:
  DelayProxy(int serverPort, std::chrono::milliseconds delay) : serverPort_(serverPort), delay_(delay) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof at;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&at), size) != 0 || ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&at), &size) != 0) {
      return;
    }
    port_ = ntohs(at.sin_port);
    threads_.emplace_back([this] { accept(); });
  }
  ~DelayProxy() {
    ::shutdown(listener_, SHUT_RDWR);
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (int fd : sockets_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    ::close(listener_);
    for (int fd : sockets_) ::close(fd);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void accept() {
    for (;;) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      to.sin_port = htons(static_cast<uint16_t>(serverPort_));
      const int on = 1;
      for (int fd : {client, server}) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      std::lock_guard lock(mutex_);
      sockets_.insert(sockets_.end(), {client, server});
      if (stopping_ || ::connect(server, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return;
      threads_.emplace_back([=, this] { pump(client, server, std::chrono::milliseconds(0)); });
      threads_.emplace_back([=, this] { pump(server, client, delay_); });
    }
  }
  // Passes what `from` sends on to `to`, each piece `delay` after it arrived, as a link would.
  static void pump(int from, int to, std::chrono::milliseconds delay) {
    struct Piece {
      std::chrono::steady_clock::time_point arrived;
      std::string bytes;
    };
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<Piece> pieces;  // guarded by mutex
    bool done = false;         // guarded by mutex
    std::thread writer([&] {
      std::unique_lock lock(mutex);
      for (;;) {
        ready.wait(lock, [&] { return done || !pieces.empty(); });
        if (pieces.empty()) return;
        Piece piece = std::move(pieces.front());
        pieces.pop_front();
        lock.unlock();
        std::this_thread::sleep_until(piece.arrived + delay);
        const ssize_t sent = ::send(to, piece.bytes.data(), piece.bytes.size(), MSG_NOSIGNAL);
        lock.lock();
        if (sent != static_cast<ssize_t>(piece.bytes.size())) return;
      }
    });
    char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      std::lock_guard lock(mutex);
      pieces.push_back({std::chrono::steady_clock::now(), std::string(buffer, static_cast<size_t>(n))});
      ready.notify_one();
    }
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    ready.notify_one();
    writer.join();
    ::shutdown(to, SHUT_WR);
  }

  const int serverPort_;
  const std::chrono::milliseconds delay_;
  int listener_ = -1;
  int port_ = 0;
  std::mutex mutex_;
  bool stopping_ = false;             // guarded by mutex_
  std::vector<int> sockets_;          // guarded by mutex_
  std::vector<std::thread> threads_;  // the acceptor's own is first; the others it adds, under mutex_
};

// Over a link with a round trip of 20 ms, a poll of 1,000 queues takes about one round trip;
// one command at a time it would take 1,000 (20 s). A sanitized build's slower parsing would
// count as round trips, so its link is slower by as much.
TEST_F(RedisSourceTest, AThousandQueuesOverASlowLinkArePolledInAboutOneRoundTrip) {
  constexpr auto kDelay = 20ms * governor::testing::kSlowdown;
  DelayProxy proxy(server_->port(), kDelay);
  std::vector<RedisRead> lists, streams;
  for (int i = 0; i < 1000; ++i) lists.push_back({{.address = proxy.address(), .key = "q" + std::to_string(i)}});
  push("q7", 7);
  const std::vector<std::string> ids = add("s", 3);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "s", "g", "0"}));
  ASSERT_EQ(server_->integer({"XDEL", "s", ids[2]}), 1);  // XRANGE counts the other 2
  streams.push_back(
      {{.address = proxy.address(), .key = "s", .type = RedisQueue::Type::Stream, .consumerGroup = "g"}, true});

  RedisSource source;
  ASSERT_TRUE(source.backlog(lists[0].queue).ok());  // connected
  const double one = medianMilliseconds(5, [&] { (void)source.read({lists[0]}); });
  std::vector<RedisReading> read;
  const double all = medianMilliseconds(5, [&] { read = source.read(lists); });
  ASSERT_TRUE(read[7].backlog.ok()) << whatOf(read[7].backlog);
  EXPECT_EQ(read[7].backlog.value(), 7);
  const double twoStages = medianMilliseconds(5, [&] { read = source.read(streams); });
  ASSERT_TRUE(read[0].backlog.ok()) << whatOf(read[0].backlog);
  EXPECT_EQ(read[0].backlog.value(), 2);
  std::cout << "[ figure ] through a proxy delaying the server's replies by " << kDelay.count() << " ms: one queue "
            << one << " ms, 1000 lists " << all << " ms (" << all / one << " round trips), a stream needing XRANGE "
            << twoStages << " ms (" << twoStages / one << " round trips); medians of 5\n";
  EXPECT_GE(one, static_cast<double>(kDelay.count()));
  EXPECT_LT(all, 1.6 * one) << "about one round trip";
  EXPECT_LT(twoStages, 2.6 * one) << "about two round trips";
  EXPECT_EQ(source.openConnections(), 1u);
}

long long connectionsReceived(const RedisServer& server) {
  ReplyPtr info = server.command({"INFO", "stats"});
  if (!info || info->type != REDIS_REPLY_STRING) return -1;
  const std::string text(info->str, info->len);
  const std::string field = "total_connections_received:";
  const size_t at = text.find(field);
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + field.size()));
}

TEST_F(RedisSourceTest, OneConnectionIsReusedAcrossMeasurements) {
  RedisSource source;
  push("a", 1);
  add("s", 2);
  ASSERT_TRUE(server_->command({"XGROUP", "CREATE", "s", "g", "0"}));
  ASSERT_TRUE(source.backlog(list("a")).ok());
  const long long before = connectionsReceived(*server_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(source.backlog(list("a")).ok());
    ASSERT_TRUE(source.backlog(list("b")).ok());
    ASSERT_TRUE(source.backlog(stream("s", "g")).ok());
  }
  const long long after = connectionsReceived(*server_);
  EXPECT_EQ(after - before, 1);  // the INFO of `after` itself, nothing from the source
  EXPECT_EQ(source.openConnections(), 1u);

  source.closeIdle(1h);
  EXPECT_EQ(source.openConnections(), 1u);
  source.closeIdle(0s);
  EXPECT_EQ(source.openConnections(), 0u);
  ASSERT_TRUE(source.backlog(list("a")).ok());  // and comes back on demand
  EXPECT_EQ(source.openConnections(), 1u);
}

TEST_F(RedisSourceTest, ConcurrentMeasurementsShareTheConnection) {
  RedisSource source;
  push("jobs", 50);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = source.backlog(list("jobs"));
        if (!r.ok() || r.value() != 50) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(source.openConnections(), 1u);
}

TEST_F(RedisSourceTest, HungServerTimesOutThenRecovers) {
  const std::chrono::milliseconds timeout = RedisSourceOptions{}.timeout;  // the default, 2 s
  RedisSource source;
  push("jobs", 50);
  ASSERT_TRUE(source.backlog(list("jobs")).ok());

  server_->pause();  // SIGSTOP: the socket accepts, nobody answers
  const auto started = std::chrono::steady_clock::now();
  auto hung = source.backlog(list("jobs"));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  server_->resume();
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.error().what(), "redis " + server_->address() + " key jobs: Timeout: timed out after 2s");
  EXPECT_LT(elapsed, timeout + 1s);
  EXPECT_GE(elapsed, timeout - 100ms);
  std::cout << "[ timing ] hung redis detected after " << Seconds(elapsed).count() << " s (timeout "
            << Seconds(timeout).count() << " s)\n";

  auto back = source.backlog(list("jobs"));
  ASSERT_TRUE(back.ok()) << whatOf(back);
  EXPECT_EQ(back.value(), 50);
}

TEST_F(RedisSourceTest, StoppedServerErrorsThenRestartedServerIsMeasuredAgain) {
  const auto timeout = 1s;
  RedisSource source({.timeout = timeout});
  push("jobs", 50);
  ASSERT_EQ(source.backlog(list("jobs")).value(), 50);

  server_->kill();
  const auto started = std::chrono::steady_clock::now();
  auto down = source.backlog(list("jobs"));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().what(), "redis " + server_->address() + " key jobs: Unavailable: connection refused");
  EXPECT_LT(elapsed, timeout + 1s);
  std::cout << "[ timing ] stopped redis detected after " << Seconds(elapsed).count() << " s\n";
  EXPECT_EQ(source.openConnections(), 0u);
  EXPECT_FALSE(source.backlog(list("jobs")).ok());

  ASSERT_TRUE(server_->start());  // same port, empty data set
  push("jobs", 50);
  auto back = source.backlog(list("jobs"));
  ASSERT_TRUE(back.ok()) << whatOf(back);
  EXPECT_EQ(back.value(), 50);

  // A restart between two measurements is invisible: the dropped connection is retried once.
  server_->kill();
  ASSERT_TRUE(server_->start());
  push("jobs", 50);
  auto afterRestart = source.backlog(list("jobs"));
  ASSERT_TRUE(afterRestart.ok()) << whatOf(afterRestart);
  EXPECT_EQ(afterRestart.value(), 50);
}

TEST_F(RedisSourceTest, NobodyListening) {
  RedisSource source({.timeout = 1s});
  const int port = governor::testing::freePort();
  const RedisQueue queue{.address = "127.0.0.1:" + std::to_string(port), .key = "jobs"};
  auto r = source.backlog(queue);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().what(), "redis 127.0.0.1:" + std::to_string(port) + " key jobs: Unavailable: connection refused");
  EXPECT_TRUE(r.error().isTransport());
}

TEST_F(RedisSourceTest, BadAddressIsAnErrorNamingTheQueue) {
  RedisSource source;
  auto bad = source.backlog({.address = "redis:port", .key = "jobs"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().what(), "redis redis:port key jobs: Invalid: address \"redis:port\" is not host:port");
}

class RedisPasswordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(findRedisServer().empty()) << "redis-server not found: run scripts/install-deps (or set REDIS_SERVER)";
    server_ = std::make_unique<RedisServer>(governor::testing::freePort(), "s3cret");
    ASSERT_TRUE(server_->start());
    ASSERT_EQ(server_->integer({"RPUSH", "jobs", "a", "b", "c"}), 3);
  }
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisPasswordTest, RightPasswordWorks) {
  RedisSource source;
  auto r = source.backlog({.address = server_->address(), .key = "jobs", .password = "s3cret"});
  ASSERT_TRUE(r.ok()) << whatOf(r);
  EXPECT_EQ(r.value(), 3);
}

TEST_F(RedisPasswordTest, WrongPasswordIsAnAuthError) {
  RedisSource source;
  auto r = source.backlog({.address = server_->address(), .key = "jobs", .password = "wrong"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status.reason, "Unauthorized");
  EXPECT_NE(r.error().what().find("AUTH: WRONGPASS"), std::string::npos) << r.error().what();
  EXPECT_EQ(source.openConnections(), 0u);
}

TEST_F(RedisPasswordTest, MissingPasswordIsAnAuthError) {
  RedisSource source;
  auto r = source.backlog({.address = server_->address(), .key = "jobs"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status.reason, "Unauthorized");
  EXPECT_NE(r.error().what().find("NOAUTH"), std::string::npos) << r.error().what();
}

// ---- the cache's INFO stats -----------------------------------------------------------------

// N GETs of which M find their key: the two readings around them differ by exactly M hits
// and N - M misses, and the ratio CacheStats serves is exactly M/N.
TEST_F(RedisSourceTest, CacheStatsCountEveryGetAndTheRatioIsExact) {
  RedisSource source;
  prometheus::Registry registry;
  CacheStats caches(registry);
  const CacheStats::Key key{"shop", "checkout"};
  const int n = 40, m = 29;
  for (int i = 0; i < m; ++i) ASSERT_TRUE(server_->command({"SET", "k" + std::to_string(i), "v"}));

  auto before = source.cacheStats(server_->address());
  ASSERT_TRUE(before) << before.error().what();
  EXPECT_EQ(caches.observe(key, *before), std::nullopt) << "one reading is no window";
  for (int i = 0; i < n; ++i) {
    ReplyPtr r = server_->command({"GET", "k" + std::to_string(i)});  // k0..k28 exist, k29..k39 do not
    ASSERT_TRUE(r);
    ASSERT_EQ(r->type, i < m ? REDIS_REPLY_STRING : REDIS_REPLY_NIL) << i;
  }
  auto after = source.cacheStats(server_->address());
  ASSERT_TRUE(after) << after.error().what();
  EXPECT_EQ(after->hits - before->hits, static_cast<uint64_t>(m));
  EXPECT_EQ(after->misses - before->misses, static_cast<uint64_t>(n - m));
  const std::optional<double> ratio = caches.observe(key, *after);
  ASSERT_TRUE(ratio);
  EXPECT_EQ(*ratio, static_cast<double>(m) / n);

  // Reading the stats is no lookup: an idle window keeps the ratio, and counts nothing.
  auto idle = source.cacheStats(server_->address());
  ASSERT_TRUE(idle);
  EXPECT_EQ(*idle, *after);
  EXPECT_EQ(caches.observe(key, *idle), ratio);
  EXPECT_EQ(source.openConnections(), 1u) << "the readings share one kept connection";
}

// The adapter polls an empty queue on another redis-server: LLEN of a missing key is a
// keyspace miss there, and nothing at all in the cache, whose ratio stays what its own
// lookups make it.
TEST_F(RedisSourceTest, PollingAQueueOnAnotherServerLeavesTheCacheRatioAlone) {
  RedisServer queueServer(governor::testing::freePort());
  ASSERT_TRUE(queueServer.start());
  RedisSource source;
  prometheus::Registry registry;
  CacheStats caches(registry);
  const CacheStats::Key key{"shop", "checkout"};
  ASSERT_TRUE(server_->command({"SET", "hot", "v"}));

  auto first = source.cacheStats(server_->address());
  ASSERT_TRUE(first) << first.error().what();
  caches.observe(key, *first);
  for (const char* k : {"hot", "hot", "hot", "cold"}) ASSERT_TRUE(server_->command({"GET", k}));
  auto second = source.cacheStats(server_->address());
  ASSERT_TRUE(second);
  ASSERT_EQ(caches.observe(key, *second), 0.75);

  auto queueBefore = source.cacheStats(queueServer.address());
  ASSERT_TRUE(queueBefore) << queueBefore.error().what();
  const RedisQueue queue{.address = queueServer.address(), .key = "jobs"};
  for (int i = 0; i < 10; ++i) {
    auto backlog = source.backlog(queue);
    ASSERT_TRUE(backlog) << backlog.error().what();
    EXPECT_EQ(*backlog, 0);
  }
  auto queueAfter = source.cacheStats(queueServer.address());
  ASSERT_TRUE(queueAfter);
  EXPECT_EQ(queueAfter->misses - queueBefore->misses, 10u) << "each poll of the empty list is a miss where it lives";

  auto third = source.cacheStats(server_->address());
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, *second) << "the cache saw none of it";
  EXPECT_EQ(caches.observe(key, *third), 0.75);
}

TEST_F(RedisSourceTest, CacheStatsOfAStoppedCacheIsAnErrorNamingIt) {
  RedisSource source({.timeout = 1s});
  ASSERT_TRUE(source.cacheStats(server_->address()));
  server_->kill();
  auto r = source.cacheStats(server_->address());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status.reason, "Unavailable") << r.error().what();
  EXPECT_EQ(r.error().context, "redis " + server_->address() + " INFO stats");
}

}  // namespace
}  // namespace governor::adapter
