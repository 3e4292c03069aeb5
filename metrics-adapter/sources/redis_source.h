// The backlog of a Redis queue (a list, or a stream read by a consumer group), measured over
// connections (plain TCP or TLS) that stay open and are shared by every queue on the same
// server, db, TLS setting and password.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/host_port.h"
#include "kube/result.h"
#include "metrics-adapter/sources/redis_info.h"

namespace governor::adapter {

struct RedisQueue {
  enum class Type { List, Stream };

  std::string address;  // "host:port" or "[v6addr]:port"; the port defaults to 6379
  int db = 0;
  std::string key;
  Type type = Type::List;
  std::string consumerGroup;  // streams only; empty counts the whole stream (XLEN)
  std::string password;       // already read from its Secret; empty sends no AUTH
  bool tls = false;           // the server's certificate verified (RedisTlsFiles); never plain text
};

// PEM files for connections with tls: true. Read at every new connection, so that a renewed CA
// bundle or client certificate takes effect without a restart.
struct RedisTlsFiles {
  std::string caFile;    // the CAs the server's certificate must chain to; empty: the system's
  std::string certFile;  // a client certificate, for servers that ask for one; empty: none
  std::string keyFile;   // the key of certFile; both or neither
};

// A stream's progress through its consumer group, as counts since the stream was made: the
// difference of two readings over their interval gives the rates in and out.
struct StreamCounts {
  int64_t added = 0;         // XINFO STREAM entries-added
  int64_t acknowledged = 0;  // the group's entries-read minus its pending entries
};

struct RedisSourceOptions {
  // Bounds connecting (with the TLS handshake) and each command.
  std::chrono::milliseconds timeout{2000};
  // How many undelivered stream entries the XRANGE fallback counts at most (see
  // docs/metrics-adapter.md): beyond it the backlog is reported as pending + this cap.
  int64_t streamScanLimit = 10000;
  RedisTlsFiles tls;
};

// The host and port RedisSource connects to for an address. The allowlist
// (metrics-adapter/redis_access.h) reads addresses with the same parser, so that what it
// allows is exactly what is connected to.
using RedisHostPort = kube::HostPort;
// "host:port", "[v6addr]:port" or "host" (port 6379); nullopt when it is none of these.
inline std::optional<RedisHostPort> parseRedisAddress(const std::string& address) {
  return kube::parseHostPort(address, 6379);
}

// Whether connections with tls: true can be made with these files (each readable PEM, the key
// matching its certificate): main() checks its flags with it at start.
kube::Outcome checkRedisTlsFiles(const RedisTlsFiles& files);

// A consumer group as XINFO GROUPS describes it.
struct RedisGroup {
  int64_t pending = 0;                      // entries delivered, not yet acknowledged
  std::optional<int64_t> lag;               // entries not yet delivered; nullopt when Redis cannot tell
  std::optional<std::string> entriesAfter;  // without a lag: the XRANGE start that counts them
  std::optional<int64_t> entriesRead;       // entries delivered so far; nullopt when Redis cannot tell
};

// The measurements' readings of replies, pure (no connection) for tests and the fuzzer: `resp`
// is what a server sent for one command (RESP2), read by the same bounded hiredis reader as on
// a connection. An error (reason InvalidResponse, or the reason of the server's error reply)
// for bytes that are malformed, incomplete or not the reply the command gives.
// LLEN or XLEN: a length >= 0.
kube::Result<int64_t> readRedisCount(std::string_view resp, const std::string& command);
// XINFO GROUPS of `stream`: the group named `group` (NotFound when it is not listed).
kube::Result<RedisGroup> readRedisGroup(std::string_view resp, const std::string& stream, const std::string& group);
// XRANGE: the number of entries.
kube::Result<int64_t> readRedisEntries(std::string_view resp);
// INFO stats: the keyspace counters.
kube::Result<KeyspaceStats> readRedisKeyspaceStats(std::string_view resp);
// A group's backlog: pending + lag, or pending + the entries XRANGE counted when there is no
// lag; an error past int64.
kube::Result<int64_t> groupBacklogOf(const RedisGroup& group, std::optional<int64_t> entriesAfter);

// What a poll reads of one queue.
struct RedisRead {
  RedisQueue queue;
  bool counts = false;  // its StreamCounts too (a stream with a consumer group: drainWithin)
};

// What it read: each part an error of its own, naming the queue.
struct RedisReading {
  std::chrono::steady_clock::time_point at;  // when its connection's reading started
  kube::Result<int64_t> backlog;
  std::optional<kube::Result<StreamCounts>> counts;  // set when asked for
};

// Thread-safe. One connection per (address, db, tls, password), each behind its own mutex:
// reads of one connection one after the other, of different connections in parallel. A
// connection that fails is closed and made again by the next read; a kept connection that the
// server closed meanwhile (a restart) is retried once at once on a fresh one.
class RedisSource {
 public:
  explicit RedisSource(RedisSourceOptions options = {});
  ~RedisSource();
  RedisSource(const RedisSource&) = delete;
  RedisSource& operator=(const RedisSource&) = delete;

  // Reads every queue. Per connection, every queue's commands go in one pipeline (written at
  // once, then every reply read), plus a second pipeline for the streams whose lag Redis cannot
  // tell (XRANGE, which needs the group's last-delivered ID): one or two round trips per
  // connection however many queues share it. Connections one after another.
  //   backlog: a list's LLEN (0 when the key does not exist); a stream with a group: entries not
  //   yet delivered to the group plus entries delivered but not acknowledged, an error when the
  //   stream or the group does not exist; a stream without a group: XLEN.
  //   counts: a stream's StreamCounts (Redis 7: entries-added, entries-read), or why not.
  // Errors are per queue and name it ("redis 10.0.0.1:6379 key jobs: Unavailable: connection
  // refused"): one key's error (WRONGTYPE) is that queue's only; a connection that cannot be
  // made, breaks or times out fails each of its queues with the same error.
  std::vector<RedisReading> read(const std::vector<RedisRead>& reads);
  // The backlog of one queue: read() of it alone.
  kube::Result<int64_t> backlog(const RedisQueue& queue);

  // The keyspace counters of the Redis at `address` (a ServiceLevel's cache: db 0, no password,
  // plain TCP), from INFO stats, over the same kind of kept connection as read(). Errors
  // name the cache: "redis checkout-redis.shop.svc:6379 INFO stats: Unavailable: ...".
  kube::Result<KeyspaceStats> cacheStats(const std::string& address);

  // Closes connections that no measurement used for `idle` (servers of deleted ServiceLevels).
  void closeIdle(std::chrono::steady_clock::duration idle);
  // Open connections, for tests and the adapter's own metrics.
  size_t openConnections() const;

 private:
  struct Connection;

  std::shared_ptr<Connection> connectionFor(const RedisQueue& queue);
  // Runs `measure` (Link& -> std::variant<T, Failure>) on the connection for `server`'s address,
  // db, TLS and password, connecting first when it is closed, and once more on a fresh
  // connection when a kept one turns out broken. Errors get `context`.
  template <class T, class Measure>
  kube::Result<T> onConnection(const RedisQueue& server, const std::string& context, Measure measure);

  const RedisSourceOptions options_;
  mutable std::mutex mutex_;
  // Keyed by address, db, tls and password. Guarded by mutex_; shared_ptr so that closeIdle can
  // drop an entry while a measurement still holds it.
  std::map<std::string, std::shared_ptr<Connection>> connections_;
};

}  // namespace governor::adapter
