// Redis backlog over hiredis' blocking API: one kept connection per server, db and password.
#include "metrics-adapter/sources/redis_source.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace governor::adapter {
namespace {

using kube::Error;
using kube::Result;
using kube::Status;

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

std::string describeTimeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return "timed out after " + std::to_string(timeout.count() / 1000) + "s";
  return "timed out after " + std::to_string(timeout.count()) + "ms";
}

std::string lowerFirst(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// What went wrong talking to the server. `broken` means the connection is unusable (I/O
// failure, lost authentication) and must be closed; `timedOut` means retrying would only wait
// again.
struct Failure {
  Error error;
  bool broken = false;
  bool timedOut = false;
};

// hiredis reports a timed out connect as ETIMEDOUT and a timed out read as EAGAIN; errno is read
// right after the failing call, the message is the fallback.
bool isTimeout(const redisContext* c, int savedErrno) {
  if (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || savedErrno == ETIMEDOUT || savedErrno == EINPROGRESS) {
    return true;
  }
  const std::string_view message = c->errstr;
  return message.find("timed out") != std::string_view::npos ||
         message.find("Resource temporarily unavailable") != std::string_view::npos;
}

Failure ioFailure(const redisContext* c, int savedErrno, const RedisSourceOptions& options) {
  if (c->err == REDIS_ERR_EOF) {
    return {Error{Status{0, "Unavailable", "the server closed the connection"}, ""}, true, false};
  }
  if (c->err == REDIS_ERR_IO && isTimeout(c, savedErrno)) {
    return {Error{Status{0, "Timeout", describeTimeout(options.timeout)}, ""}, true, true};
  }
  return {Error{Status{0, "Unavailable", lowerFirst(c->errstr)}, ""}, true, false};
}

// A server's error reply ("-WRONGTYPE ...") for command `name`.
Failure serverFailure(const std::string& name, std::string_view reply) {
  const std::string_view code = reply.substr(0, reply.find(' '));
  std::string reason = "Invalid";
  bool broken = false;
  if (code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM") {
    reason = "Unauthorized";
    broken = true;  // connect again, and AUTH again, next time
  } else if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "TRYAGAIN") {
    reason = "Unavailable";
  }
  return {Error{Status{0, reason, name + ": " + std::string(reply)}, ""}, broken, false};
}

Failure badReply(const std::string& name, const std::string& why) {
  return {Error{Status{0, "InvalidResponse", name + ": " + why}, ""}, false, false};
}

// One command; its reply, or why there is none (including the server's error replies).
struct Reply {
  ReplyPtr reply;
  std::optional<Failure> failure;
};

Reply command(redisContext* c, const std::vector<std::string>& args, const RedisSourceOptions& options) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const auto& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  errno = 0;
  ReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), argvlen.data())));
  const int savedErrno = errno;
  if (!reply) return {nullptr, ioFailure(c, savedErrno, options)};
  if (reply->type == REDIS_REPLY_ERROR) {
    return {nullptr, serverFailure(args[0], std::string_view(reply->str, reply->len))};
  }
  return {std::move(reply), std::nullopt};
}

struct HostPort {
  std::string host;
  int port = 6379;
};

std::optional<HostPort> parseAddress(const std::string& address) {
  HostPort out;
  std::string_view rest = address;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (rest.empty()) return out;
    if (!rest.starts_with(':')) return std::nullopt;
    rest.remove_prefix(1);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      out.host = address;
      return out.host.empty() ? std::nullopt : std::optional(out);
    }
    out.host = std::string(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out.port);
  if (out.host.empty() || ec != std::errc() || end != rest.data() + rest.size() || out.port < 1 || out.port > 65535) {
    return std::nullopt;
  }
  return out;
}

timeval toTimeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

// A connection that is authenticated and on the right database.
Result<ContextPtr> connect(const RedisQueue& queue, const HostPort& where, const RedisSourceOptions& options) {
  const timeval tv = toTimeval(options.timeout);
  errno = 0;
  ContextPtr c(redisConnectWithTimeout(where.host.c_str(), where.port, tv));
  const int savedErrno = errno;
  if (!c) return Error{Status{0, "Unavailable", "cannot allocate a hiredis context"}, ""};
  if (c->err) {
    if (isTimeout(c.get(), savedErrno)) {
      return Error{Status{0, "Timeout", "connect " + describeTimeout(options.timeout)}, ""};
    }
    return Error{Status{0, "Unavailable", lowerFirst(c->errstr)}, ""};
  }
  if (redisSetTimeout(c.get(), tv) != REDIS_OK) {
    return Error{Status{0, "Unavailable", "setting the timeout: " + lowerFirst(c->errstr)}, ""};
  }
  redisEnableKeepAlive(c.get());  // best effort: notices a vanished peer between polls
  if (!queue.password.empty()) {
    Reply auth = command(c.get(), {"AUTH", queue.password}, options);
    if (auth.failure) return auth.failure->error;
  }
  if (queue.db != 0) {
    Reply select = command(c.get(), {"SELECT", std::to_string(queue.db)}, options);
    if (select.failure) return select.failure->error;
  }
  return c;
}

std::optional<int64_t> integerOf(const redisReply* r) {
  if (r->type != REDIS_REPLY_INTEGER) return std::nullopt;
  return r->integer;
}

std::optional<std::string> stringOf(const redisReply* r) {
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) return std::nullopt;
  return std::string(r->str, r->len);
}

// The smallest stream ID after `id` ("ms-seq"), for an exclusive XRANGE start that also works
// on Redis before 6.2 (which has no "(" prefix).
std::optional<std::string> nextStreamId(const std::string& id) {
  const size_t dash = id.find('-');
  if (dash == std::string::npos) return std::nullopt;
  uint64_t ms = 0;
  uint64_t seq = 0;
  const char* msEnd = id.data() + dash;
  const char* seqEnd = id.data() + id.size();
  auto [p1, e1] = std::from_chars(id.data(), msEnd, ms);
  auto [p2, e2] = std::from_chars(msEnd + 1, seqEnd, seq);
  if (e1 != std::errc() || p1 != msEnd || e2 != std::errc() || p2 != seqEnd) return std::nullopt;
  if (seq == UINT64_MAX) return std::to_string(ms + 1) + "-0";
  return std::to_string(ms) + "-" + std::to_string(seq + 1);
}

using Measured = std::variant<int64_t, Failure>;

Measured listLength(redisContext* c, const RedisQueue& queue, const RedisSourceOptions& options) {
  Reply r = command(c, {"LLEN", queue.key}, options);
  if (r.failure) return *r.failure;
  if (auto n = integerOf(r.reply.get())) return *n;
  return badReply("LLEN", "not an integer");
}

Measured streamLength(redisContext* c, const RedisQueue& queue, const RedisSourceOptions& options) {
  Reply r = command(c, {"XLEN", queue.key}, options);
  if (r.failure) return *r.failure;
  if (auto n = integerOf(r.reply.get())) return *n;
  return badReply("XLEN", "not an integer");
}

// pending + lag from XINFO GROUPS (Redis 7); when Redis cannot tell the lag (nil after entries
// were deleted, absent before Redis 7), the entries after last-delivered-id are counted instead.
Measured groupBacklog(redisContext* c, const RedisQueue& queue, const RedisSourceOptions& options) {
  const std::string& group = queue.consumerGroup;
  const Failure missing{
      Error{Status{0, "NotFound", "consumer group " + group + " of stream " + queue.key + " does not exist"}, ""},
      false, false};
  Reply info = command(c, {"XINFO", "GROUPS", queue.key}, options);
  if (info.failure) {
    if (info.failure->error.status.message.find("no such key") != std::string::npos) return missing;
    return *info.failure;
  }
  const redisReply* groups = info.reply.get();
  if (groups->type != REDIS_REPLY_ARRAY) return badReply("XINFO GROUPS", "not an array");
  for (size_t g = 0; g < groups->elements; ++g) {
    const redisReply* fields = groups->element[g];
    if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) {
      return badReply("XINFO GROUPS", "a group is not a field list");
    }
    std::optional<std::string> name;
    std::optional<int64_t> pending;
    std::optional<std::string> lastDelivered;
    std::optional<int64_t> lag;  // nullopt: nil or absent
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
      const std::optional<std::string> field = stringOf(fields->element[i]);
      const redisReply* value = fields->element[i + 1];
      if (!field) continue;
      if (*field == "name") name = stringOf(value);
      else if (*field == "pending") pending = integerOf(value);
      else if (*field == "last-delivered-id") lastDelivered = stringOf(value);
      else if (*field == "lag") lag = integerOf(value);
    }
    if (name != group) continue;
    if (!pending) return badReply("XINFO GROUPS", "group " + group + " has no pending count");
    if (lag) return *pending + *lag;
    if (!lastDelivered) return badReply("XINFO GROUPS", "group " + group + " has no last-delivered-id");
    const std::optional<std::string> start = nextStreamId(*lastDelivered);
    if (!start) return badReply("XINFO GROUPS", "last-delivered-id \"" + *lastDelivered + "\" is not a stream ID");
    Reply range = command(c, {"XRANGE", queue.key, *start, "+", "COUNT", std::to_string(options.streamScanLimit)},
                          options);
    if (range.failure) return *range.failure;
    if (range.reply->type != REDIS_REPLY_ARRAY) return badReply("XRANGE", "not an array");
    return *pending + static_cast<int64_t>(range.reply->elements);
  }
  return missing;
}

Measured measure(redisContext* c, const RedisQueue& queue, const RedisSourceOptions& options) {
  if (queue.type == RedisQueue::Type::List) return listLength(c, queue, options);
  if (queue.consumerGroup.empty()) return streamLength(c, queue, options);
  return groupBacklog(c, queue, options);
}

Error named(Error error, const RedisQueue& queue) {
  error.context = "redis " + queue.address + " key " + queue.key;
  return error;
}

}  // namespace

struct RedisSource::Connection {
  std::mutex mutex;
  ContextPtr context;  // guarded by mutex; null while closed
  std::atomic<bool> open{false};
  std::atomic<std::chrono::steady_clock::rep> lastUsed{std::chrono::steady_clock::now().time_since_epoch().count()};
};

RedisSource::RedisSource(RedisSourceOptions options) : options_(options) {}

RedisSource::~RedisSource() = default;

std::shared_ptr<RedisSource::Connection> RedisSource::connectionFor(const RedisQueue& queue) {
  // '\n' cannot appear in an address, so the key is unambiguous.
  const std::string key = queue.address + "\n" + std::to_string(queue.db) + "\n" + queue.password;
  std::lock_guard lock(mutex_);
  auto& slot = connections_[key];
  if (!slot) slot = std::make_shared<Connection>();
  return slot;
}

kube::Result<int64_t> RedisSource::backlog(const RedisQueue& queue) {
  if (queue.tls) {
    return named(Error{Status{0, "Invalid", "TLS needs hiredis >= 1.0 (this adapter is built with 0.14)"}, ""},
                 queue);
  }
  if (queue.key.empty()) return named(Error{Status{0, "Invalid", "no key given"}, ""}, queue);
  const std::optional<HostPort> where = parseAddress(queue.address);
  if (!where) {
    return named(Error{Status{0, "Invalid", "address \"" + queue.address + "\" is not host:port"}, ""}, queue);
  }

  const std::shared_ptr<Connection> connection = connectionFor(queue);
  std::lock_guard lock(connection->mutex);
  connection->lastUsed = std::chrono::steady_clock::now().time_since_epoch().count();
  for (int attempt = 0;; ++attempt) {
    const bool reused = connection->context != nullptr;
    if (!reused) {
      Result<ContextPtr> fresh = connect(queue, *where, options_);
      if (!fresh) return named(fresh.error(), queue);
      connection->context = std::move(fresh).value();
      connection->open = true;
    }
    Measured measured = measure(connection->context.get(), queue, options_);
    if (auto* n = std::get_if<int64_t>(&measured)) return *n;
    Failure& failure = std::get<Failure>(measured);
    if (failure.broken) {
      connection->context.reset();
      connection->open = false;
      // A kept connection the server dropped (restart, idle timeout) says nothing about the
      // server now: try once on a new one. A timeout would only wait again.
      if (reused && !failure.timedOut && attempt == 0) continue;
    }
    return named(std::move(failure.error), queue);
  }
}

void RedisSource::closeIdle(std::chrono::steady_clock::duration idle) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::lock_guard lock(mutex_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = *it->second;
    std::unique_lock busy(c.mutex, std::try_to_lock);  // in use: not idle
    if (busy.owns_lock() && now - c.lastUsed.load() >= idle.count()) {
      c.context.reset();
      c.open = false;
      busy.unlock();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t RedisSource::openConnections() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [key, c] : connections_) n += c->open ? 1 : 0;
  return n;
}

}  // namespace governor::adapter
