// Redis backlog over connections of our own: a TCP socket, TLS (OpenSSL) over it when the queue
// asks, and hiredis only for the protocol (formatting commands, parsing replies). The queues of
// one connection are read in one pipeline (two when streams need XRANGE).
#include "metrics-adapter/sources/redis_source.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "kube/c_ptr.h"

namespace governor::adapter {
namespace {

using kube::Error;
using kube::Result;
using kube::Status;
using Clock = std::chrono::steady_clock;

using kube::CPtr;
using ReplyPtr = CPtr<redisReply, freeReplyObject>;
using ReaderPtr = CPtr<redisReader, redisReaderFree>;
using SslPtr = CPtr<SSL, SSL_free>;
using SslContextPtr = CPtr<SSL_CTX, SSL_CTX_free>;

// Arrays in a reply are read up to this many elements. hiredis 0.14 allocates an array's
// element table as soon as its header arrives, so a server's `*2000000000\r\n` alone would ask
// for 16 GB. More than any reply Governor reads holds (XRANGE asks for streamScanLimit entries).
constexpr int kMaxReplyElements = 1 << 20;

// hiredis' own functions that build reply objects.
const redisReplyObjectFunctions& hiredisFunctions() {
  static const redisReplyObjectFunctions functions = [] {
    const ReaderPtr reader(redisReaderCreate());
    return *reader->fn;
  }();
  return functions;
}

void* createBoundedArray(const redisReadTask* task, int elements) {
  // nullptr: the reader fails with REDIS_ERR_OOM, which readerError() reports as a reply too large.
  if (elements < 0 || elements > kMaxReplyElements) return nullptr;
  return hiredisFunctions().createArray(task, elements);
}

ReaderPtr newReader() {
  static redisReplyObjectFunctions bounded = [] {
    redisReplyObjectFunctions functions = hiredisFunctions();
    functions.createArray = createBoundedArray;
    return functions;
  }();
  return ReaderPtr(redisReaderCreateWithFunctions(&bounded));
}

// Why the reader failed, for an error message.
std::string readerError(const redisReader& reader) {
  if (reader.err == REDIS_ERR_OOM) {
    return "reply too large (an array of more than " + std::to_string(kMaxReplyElements) + " elements)";
  }
  return reader.errstr;
}

// A socket, closed when destroyed.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::string describeTimeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return "timed out after " + std::to_string(timeout.count() / 1000) + "s";
  return "timed out after " + std::to_string(timeout.count()) + "ms";
}

std::string lowerFirst(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string errnoText(int error) { return lowerFirst(std::system_category().message(error)); }

// Why OpenSSL failed: the certificate check's verdict when it failed, else the system error or
// the first error OpenSSL queued.
std::string tlsReason(const SSL* ssl) {
  if (ssl != nullptr) {
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) {
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verdict);
    }
  }
  const unsigned long error = ERR_peek_error();
  if (ERR_SYSTEM_ERROR(error)) return errnoText(ERR_GET_REASON(error));
  const char* reason = ERR_reason_error_string(error);
  std::string text = reason != nullptr ? reason : "unknown error";
  if (ERR_GET_LIB(error) == ERR_LIB_SSL && ERR_GET_REASON(error) == SSL_R_WRONG_VERSION_NUMBER) {
    text += " (the server does not speak TLS on this port?)";
  }
  return text;
}

// A client context that accepts TLS 1.2 or later, verifies the server against files.caFile (or
// the system's CAs) and presents files' client certificate.
Result<SslContextPtr> tlsContext(const RedisTlsFiles& files) {
  auto invalid = [](const std::string& message) { return Error{Status{0, "Invalid", "TLS: " + message}, ""}; };
  auto cannot = [&](const std::string& what) { return invalid("cannot load " + what + ": " + tlsReason(nullptr)); };
  if (files.certFile.empty() != files.keyFile.empty()) {
    return invalid("a client certificate needs both its certificate file and its key file");
  }
  ERR_clear_error();
  SslContextPtr context(SSL_CTX_new(TLS_client_method()));
  if (!context || SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION) != 1) {
    return invalid("cannot create a client context: " + tlsReason(nullptr));
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  if (files.caFile.empty()) {
    if (SSL_CTX_set_default_verify_paths(context.get()) != 1) return cannot("the system's CA certificates");
  } else if (SSL_CTX_load_verify_locations(context.get(), files.caFile.c_str(), nullptr) != 1) {
    return cannot("CA file " + files.caFile);
  }
  if (files.certFile.empty()) return context;
  if (SSL_CTX_use_certificate_chain_file(context.get(), files.certFile.c_str()) != 1) {
    return cannot("client certificate " + files.certFile);
  }
  // Also fails when the key does not match the certificate.
  if (SSL_CTX_use_PrivateKey_file(context.get(), files.keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    return cannot("client key " + files.keyFile);
  }
  return context;
}

bool isIpAddress(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 || inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

// What went wrong talking to the server. `broken` means the connection is unusable (I/O
// failure, lost authentication) and must be closed; `timedOut` means retrying would only wait
// again.
struct Failure {
  Error error;
  bool broken = false;
  bool timedOut = false;
};

Failure unavailable(std::string message) {
  return {Error{Status{0, "Unavailable", std::move(message)}, ""}, true, false};
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
  // The server's words, which need not be UTF-8; the message goes into JSON (API answers).
  return {Error{Status{0, reason, name + ": " + kube::utf8Safe(reply)}, ""}, broken, false};
}

// `why` may quote the server (hiredis' protocol errors quote the byte at fault).
Failure badReply(const std::string& name, const std::string& why) {
  return {Error{Status{0, "InvalidResponse", name + ": " + kube::utf8Safe(why)}, ""}, false, false};
}

using Args = std::vector<std::string>;

// One command; its reply, or why there is none (including the server's error replies).
struct Reply {
  ReplyPtr reply;
  std::optional<Failure> failure;
};

// Waits until `fd` is ready for `events` (or has an error to report); false when the deadline
// passed first.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready > 0 || (ready < 0 && errno != EINTR)) return true;  // the next socket call says what happened
  }
}

// Best effort: notices a server that vanished between polls (after 15 s idle, 3 probes 5 s apart).
// A pipeline goes out in one write and is answered before the next is sent: no Nagle.
void tuneSocket(int fd) {
  const int on = 1, idle = 15, interval = 5, probes = 3;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

// A connected non-blocking TCP socket to the first of the host's addresses that answers.
Result<Socket> connectTcp(const RedisHostPort& where, Clock::time_point deadline, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int resolved = getaddrinfo(where.host.c_str(), std::to_string(where.port).c_str(), &hints, &found);
  if (resolved != 0) return Error{Status{0, "Unavailable", lowerFirst(gai_strerror(resolved))}, ""};
  const CPtr<addrinfo, freeaddrinfo> addresses(found);
  int lastError = 0;
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    Socket socket(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (socket.fd() < 0) {
      lastError = errno;
      continue;
    }
    if (::connect(socket.fd(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS && errno != EINTR) {
        lastError = errno;
        continue;
      }
      if (!waitFor(socket.fd(), POLLOUT, deadline)) {
        return Error{Status{0, "Timeout", "connect " + describeTimeout(timeout)}, ""};
      }
      socklen_t size = sizeof lastError;
      if (getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &lastError, &size) != 0) lastError = errno;
      if (lastError != 0) continue;
    }
    tuneSocket(socket.fd());
    return socket;
  }
  return Error{Status{0, "Unavailable", errnoText(lastError)}, ""};
}

// One connection to a Redis server: a non-blocking TCP socket, TLS over it when asked, and
// hiredis' reader for the replies. OpenSSL works on memory buffers, so that plain and TLS bytes
// go through the same socket calls, which wait with poll() for the deadline of their step.
class Link {
 public:
  // Connects, and shakes hands when `tls`, within options.timeout.
  static Result<std::unique_ptr<Link>> open(const RedisHostPort& where, bool tls, const RedisSourceOptions& options);

  // Sends the commands at once, then reads their replies in order: one round trip however many
  // there are. Each reply is awaited for the timeout from the one before. A reply that is the
  // server's error is its command's failure; a broken connection, a timeout or bytes that are no
  // reply are the pipeline's.
  std::variant<std::vector<Reply>, Failure> pipeline(const std::vector<Args>& commands);
  // One command: a pipeline of one.
  Reply command(const Args& args);
  // Whether a reply said that this connection must be made again (its authentication was lost).
  bool mustReconnect() const { return mustReconnect_; }

 private:
  Link(Socket socket, std::chrono::milliseconds timeout)
      : socket_(std::move(socket)), timeout_(timeout), reader_(newReader()) {}

  std::optional<Failure> handshake(SSL_CTX* context, const std::string& host, Clock::time_point deadline);
  // Plaintext to the server, through TLS when it is on.
  std::optional<Failure> send(std::string_view bytes, Clock::time_point deadline);
  // Plaintext from the server, at least one byte, fed to the reader.
  std::optional<Failure> receive(Clock::time_point deadline);
  // Runs an OpenSSL call (a handshake, a read, a write) to its end: sends the records it wrote,
  // and gives it the server's records while it wants more. OpenSSL's own errors start with
  // `errorPrefix`.
  template <typename Call>
  std::optional<Failure> runTls(Call call, std::string_view errorPrefix, Clock::time_point deadline);
  // Bytes on the socket, as they are.
  std::optional<Failure> sendRaw(std::string_view bytes, Clock::time_point deadline);
  std::optional<Failure> receiveRaw(std::string& into, Clock::time_point deadline);
  Failure timedOut() const { return {Error{Status{0, "Timeout", describeTimeout(timeout_)}, ""}, true, true}; }

  Socket socket_;
  std::chrono::milliseconds timeout_;
  ReaderPtr reader_;
  SslPtr ssl_;             // null: plain TCP
  BIO* tlsIn_ = nullptr;   // owned by ssl_: the server's records, for OpenSSL to read
  BIO* tlsOut_ = nullptr;  // owned by ssl_: the records OpenSSL wrote, to send
  bool answered_ = false;  // a reply came
  bool mustReconnect_ = false;
};

Result<std::unique_ptr<Link>> Link::open(const RedisHostPort& where, bool tls, const RedisSourceOptions& options) {
  SslContextPtr context;
  if (tls) {
    Result<SslContextPtr> made = tlsContext(options.tls);
    if (!made) return made.error();
    context = std::move(made).value();
  }
  const Clock::time_point deadline = Clock::now() + options.timeout;
  Result<Socket> socket = connectTcp(where, deadline, options.timeout);
  if (!socket) return socket.error();
  std::unique_ptr<Link> link(new Link(std::move(socket).value(), options.timeout));
  if (!link->reader_) return Error{Status{0, "Unavailable", "cannot allocate a reply reader"}, ""};
  if (context) {
    if (std::optional<Failure> failed = link->handshake(context.get(), where.host, deadline)) return failed->error;
  }
  return link;
}

std::optional<Failure> Link::handshake(SSL_CTX* context, const std::string& host, Clock::time_point deadline) {
  ERR_clear_error();
  ssl_.reset(SSL_new(context));
  CPtr<BIO, BIO_free> in(BIO_new(BIO_s_mem()));
  CPtr<BIO, BIO_free> out(BIO_new(BIO_s_mem()));
  if (!ssl_ || !in || !out) return unavailable("cannot allocate a TLS session: " + tlsReason(nullptr));
  // The session owns them from here.
  tlsIn_ = in.release();
  tlsOut_ = out.release();
  SSL_set_bio(ssl_.get(), tlsIn_, tlsOut_);
  // The certificate must name the host of the address: its IP address, or its DNS name (also
  // sent as SNI).
  const bool named = isIpAddress(host) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), host.c_str()) == 1
                                       : SSL_set1_host(ssl_.get(), host.c_str()) == 1 &&
                                             SSL_set_tlsext_host_name(ssl_.get(), host.c_str()) == 1;
  if (!named) return unavailable("cannot verify host " + host + ": " + tlsReason(nullptr));
  std::optional<Failure> failed = runTls([this] { return SSL_connect(ssl_.get()); }, "", deadline);
  if (!failed) return std::nullopt;
  failed->error.status.message = "TLS handshake: " + failed->error.status.message;
  // A plain port waits for the end of a command line that the ClientHello never brings.
  if (failed->timedOut && BIO_number_written(tlsIn_) == 0) {
    failed->error.status.message += " without a byte from the server (a plain port, or a hung server)";
  }
  return failed;
}

template <typename Call>
std::optional<Failure> Link::runTls(Call call, std::string_view errorPrefix, Clock::time_point deadline) {
  for (;;) {
    ERR_clear_error();
    const int result = call();
    const int error = result == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_ZERO_RETURN) return unavailable("the server closed the connection");
    if (error != SSL_ERROR_NONE && error != SSL_ERROR_WANT_READ) {
      return Failure{Error{Status{0, "Invalid", std::string(errorPrefix) + tlsReason(ssl_.get())}, ""}, true, false};
    }
    char* records = nullptr;
    const long pending = BIO_get_mem_data(tlsOut_, &records);
    if (pending > 0) {
      if (std::optional<Failure> failed = sendRaw({records, static_cast<size_t>(pending)}, deadline)) return failed;
      (void)BIO_reset(tlsOut_);
    }
    if (error == SSL_ERROR_NONE) return std::nullopt;
    std::string received;
    if (std::optional<Failure> failed = receiveRaw(received, deadline)) return failed;
    BIO_write(tlsIn_, received.data(), static_cast<int>(received.size()));
  }
}

std::optional<Failure> Link::send(std::string_view bytes, Clock::time_point deadline) {
  if (!ssl_) return sendRaw(bytes, deadline);
  size_t written = 0;
  return runTls([&] { return SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written); }, "TLS: ", deadline);
}

std::optional<Failure> Link::receive(Clock::time_point deadline) {
  std::string plain;
  if (ssl_) {
    plain.resize(size_t{16} * 1024);
    size_t read = 0;
    if (std::optional<Failure> failed =
            runTls([&] { return SSL_read_ex(ssl_.get(), plain.data(), plain.size(), &read); }, "TLS: ", deadline)) {
      return failed;
    }
    plain.resize(read);
  } else if (std::optional<Failure> failed = receiveRaw(plain, deadline)) {
    return failed;
  }
  redisReaderFeed(reader_.get(), plain.data(), plain.size());
  return std::nullopt;
}

std::optional<Failure> Link::sendRaw(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(socket_.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent >= 0) {
      bytes.remove_prefix(static_cast<size_t>(sent));
    } else if (errno != EINTR) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) return unavailable(errnoText(errno));
      if (!waitFor(socket_.fd(), POLLOUT, deadline)) return timedOut();
    }
  }
  return std::nullopt;
}

std::optional<Failure> Link::receiveRaw(std::string& into, Clock::time_point deadline) {
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t received = ::recv(socket_.fd(), buffer, sizeof buffer, 0);
    if (received > 0) {
      into.append(buffer, static_cast<size_t>(received));
      return std::nullopt;
    }
    if (received == 0) return unavailable("the server closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return unavailable(errnoText(errno));
    if (!waitFor(socket_.fd(), POLLIN, deadline)) return timedOut();
  }
}

// Appends `args` in the protocol's form to `out`; false when it cannot be allocated.
bool appendCommand(std::string& out, const Args& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const auto& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(), argvlen.data());
  const CPtr<char, redisFreeCommand> owned(formatted);
  if (length < 0) return false;
  out.append(formatted, static_cast<size_t>(length));
  return true;
}

std::variant<std::vector<Reply>, Failure> Link::pipeline(const std::vector<Args>& commands) {
  // A server that drops a new connection without a word refuses what it got: most likely plain
  // bytes on its TLS port, or a TLS client without a certificate it trusts.
  auto failed = [this](Failure failure) {
    if (!answered_ && failure.error.status.reason == "Unavailable") {
      failure.error.status.message += ssl_ ? " before its first reply (does it want a client certificate?)"
                                           : " before its first reply (a TLS port needs tls: true)";
    }
    return failure;
  };
  std::string bytes;
  for (const Args& args : commands) {
    if (!appendCommand(bytes, args)) return unavailable("cannot allocate the command " + args[0]);
  }
  Clock::time_point deadline = Clock::now() + timeout_;
  if (std::optional<Failure> sent = send(bytes, deadline)) return failed(*sent);
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  while (replies.size() < commands.size()) {
    const std::string& name = commands[replies.size()][0];
    void* parsed = nullptr;
    if (redisReaderGetReply(reader_.get(), &parsed) != REDIS_OK) {
      return Failure{Error{Status{0, "InvalidResponse", name + ": " + kube::utf8Safe(readerError(*reader_))}, ""}, true,
                     false};
    }
    if (parsed == nullptr) {
      if (std::optional<Failure> received = receive(deadline)) return failed(*received);
      continue;
    }
    ReplyPtr reply(static_cast<redisReply*>(parsed));
    answered_ = true;
    deadline = Clock::now() + timeout_;
    if (reply->type == REDIS_REPLY_ERROR) {
      Failure failure = serverFailure(name, std::string_view(reply->str, reply->len));
      mustReconnect_ = mustReconnect_ || failure.broken;
      replies.push_back({nullptr, std::move(failure)});
    } else {
      replies.push_back({std::move(reply), std::nullopt});
    }
  }
  return replies;
}

Reply Link::command(const Args& args) {
  std::variant<std::vector<Reply>, Failure> replies = pipeline({args});
  if (auto* failure = std::get_if<Failure>(&replies)) return {nullptr, std::move(*failure)};
  return std::move(std::get<std::vector<Reply>>(replies).front());
}

// A connection that is authenticated and on the right database.
Result<std::unique_ptr<Link>> connect(const RedisQueue& queue, const RedisHostPort& where,
                                      const RedisSourceOptions& options) {
  Result<std::unique_ptr<Link>> link = Link::open(where, queue.tls, options);
  if (!link) return link;
  if (!queue.password.empty()) {
    Reply auth = (*link)->command({"AUTH", queue.password});
    if (auth.failure) return auth.failure->error;
  }
  if (queue.db != 0) {
    Reply select = (*link)->command({"SELECT", std::to_string(queue.db)});
    if (select.failure) return select.failure->error;
  }
  return link;
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
  if (seq == UINT64_MAX) {
    if (ms == UINT64_MAX) return std::nullopt;  // the last ID there is: nothing comes after it
    return std::to_string(ms + 1) + "-0";
  }
  return std::to_string(ms) + "-" + std::to_string(seq + 1);
}

// The readings of replies, shared by the measurements and the pure functions of the header.
template <class T>
using Read = std::variant<T, Failure>;

// A count (LLEN, XLEN, a group's pending or lag) must be an integer >= 0.
Read<int64_t> countOf(const redisReply* r, const std::string& command, const std::string& what) {
  const std::optional<int64_t> n = integerOf(r);
  if (!n) return badReply(command, what + " is not an integer");
  if (*n < 0) return badReply(command, what + " is negative (" + std::to_string(*n) + ")");
  return *n;
}

// a + b, or an error when the sum is past int64 (a server's counts are not to be trusted).
Read<int64_t> sumOf(int64_t a, int64_t b, const std::string& command) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return badReply(command, "backlog past 2^63-1");
  return sum;
}

Failure groupMissing(const std::string& group, const std::string& stream) {
  return {Error{Status{0, "NotFound", "consumer group " + group + " of stream " + stream + " does not exist"}, ""},
          false, false};
}

Read<RedisGroup> groupOf(const redisReply* groups, const std::string& group, const std::string& stream) {
  if (groups->type != REDIS_REPLY_ARRAY) return badReply("XINFO GROUPS", "not an array");
  for (size_t g = 0; g < groups->elements; ++g) {
    const redisReply* fields = groups->element[g];
    if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) {
      return badReply("XINFO GROUPS", "a group is not a field list");
    }
    std::optional<std::string> name;
    const redisReply* pending = nullptr;
    std::optional<std::string> lastDelivered;
    const redisReply* lag = nullptr;  // nullptr: absent
    const redisReply* entriesRead = nullptr;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
      const std::optional<std::string> field = stringOf(fields->element[i]);
      const redisReply* value = fields->element[i + 1];
      if (!field) continue;
      if (*field == "name")
        name = stringOf(value);
      else if (*field == "pending")
        pending = value;
      else if (*field == "last-delivered-id")
        lastDelivered = stringOf(value);
      else if (*field == "lag")
        lag = value;
      else if (*field == "entries-read")
        entriesRead = value;
    }
    if (name != group) continue;
    if (!pending) return badReply("XINFO GROUPS", "group " + group + " has no pending count");
    RedisGroup out;
    Read<int64_t> pendingCount = countOf(pending, "XINFO GROUPS", "the pending count of group " + group);
    if (auto* failure = std::get_if<Failure>(&pendingCount)) return *failure;
    out.pending = std::get<int64_t>(pendingCount);
    // nil while Redis has not counted the reads (a group made at an ID before any read).
    if (entriesRead && entriesRead->type == REDIS_REPLY_INTEGER) {
      Read<int64_t> read = countOf(entriesRead, "XINFO GROUPS", "the entries-read of group " + group);
      if (auto* failure = std::get_if<Failure>(&read)) return *failure;
      out.entriesRead = std::get<int64_t>(read);
    }
    // nil when Redis cannot tell the lag (entries were deleted), absent before Redis 7: the
    // entries after last-delivered-id are counted instead.
    if (lag && lag->type == REDIS_REPLY_INTEGER) {
      Read<int64_t> lagCount = countOf(lag, "XINFO GROUPS", "the lag of group " + group);
      if (auto* failure = std::get_if<Failure>(&lagCount)) return *failure;
      out.lag = std::get<int64_t>(lagCount);
    } else {
      if (!lastDelivered) return badReply("XINFO GROUPS", "group " + group + " has no last-delivered-id");
      out.entriesAfter = nextStreamId(*lastDelivered);
      if (!out.entriesAfter) {
        return badReply("XINFO GROUPS", "last-delivered-id \"" + *lastDelivered + "\" is not a stream ID");
      }
    }
    return out;
  }
  return groupMissing(group, stream);
}

Read<int64_t> entriesOf(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY) return badReply("XRANGE", "not an array");
  return static_cast<int64_t>(r->elements);
}

Read<KeyspaceStats> keyspaceStatsOf(const redisReply* r) {
  const std::optional<std::string> text = stringOf(r);
  if (!text) return badReply("INFO stats", "not a string");
  Result<KeyspaceStats> stats = parseKeyspaceStats(*text);
  if (!stats) return Failure{stats.error(), false, false};
  return *stats;
}

// One reply from bytes, as Link::command reads it.
Read<ReplyPtr> replyOf(std::string_view resp, const std::string& command) {
  const ReaderPtr reader = newReader();
  if (redisReaderFeed(reader.get(), resp.data(), resp.size()) != REDIS_OK) {
    return badReply(command, readerError(*reader));
  }
  void* parsed = nullptr;
  if (redisReaderGetReply(reader.get(), &parsed) != REDIS_OK) return badReply(command, readerError(*reader));
  ReplyPtr reply(static_cast<redisReply*>(parsed));
  if (!reply) return badReply(command, "incomplete reply");
  if (reply->type == REDIS_REPLY_ERROR) return serverFailure(command, std::string_view(reply->str, reply->len));
  return reply;
}

// A Read of `T` as the header's Result, its error with `context`.
template <class T>
Result<T> resultOf(Read<T> read, const std::string& context = "") {
  if (auto* failure = std::get_if<Failure>(&read)) return Error{std::move(failure->error.status), context};
  return std::move(std::get<T>(read));
}

// What a reading found of one queue, its errors not yet naming it.
struct QueueOutcome {
  Read<int64_t> backlog;
  std::optional<Read<StreamCounts>> counts;
};

// The first stage of a queue's reading, whose replies need nothing from the server before.
std::vector<Args> firstCommands(const RedisRead& r) {
  const RedisQueue& q = r.queue;
  if (q.type == RedisQueue::Type::List) return {{"LLEN", q.key}};
  if (q.consumerGroup.empty()) return {{"XLEN", q.key}};
  if (!r.counts) return {{"XINFO", "GROUPS", q.key}};
  return {{"XINFO", "GROUPS", q.key}, {"XINFO", "STREAM", q.key}};
}

Read<int64_t> countIn(const Reply& r, const std::string& command) {
  if (r.failure) return *r.failure;
  return countOf(r.reply.get(), command, "the length");
}

// The queue's consumer group from XINFO GROUPS; NotFound when the stream or the group does not exist.
Read<RedisGroup> groupIn(const Reply& r, const RedisQueue& queue) {
  if (r.failure) {
    if (r.failure->error.status.message.find("no such key") != std::string::npos) {
      return groupMissing(queue.consumerGroup, queue.key);
    }
    return *r.failure;
  }
  return groupOf(r.reply.get(), queue.consumerGroup, queue.key);
}

// entries-added of XINFO STREAM, and the group's entries-read (or entries-added minus lag, where
// Redis has not counted the reads yet: a group made at an ID before any read) minus pending
// (Redis 7).
Read<StreamCounts> countsIn(const Reply& info, const RedisGroup& g, const std::string& group) {
  if (!g.entriesRead && !g.lag) {
    return badReply("XINFO GROUPS", "group " + group +
                                        " has neither entries-read nor lag (it needs Redis 7, and both are unknown "
                                        "after entries were deleted ahead of the group)");
  }
  if (info.failure) return *info.failure;
  const redisReply* fields = info.reply.get();
  if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
    return badReply("XINFO STREAM", "not a field list");
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (stringOf(fields->element[i]) != "entries-added") continue;
    Read<int64_t> added = countOf(fields->element[i + 1], "XINFO STREAM", "entries-added");
    if (auto* failure = std::get_if<Failure>(&added)) return *failure;
    const int64_t all = std::get<int64_t>(added);
    // lag <= entries-added and pending <= entries-read for a real server; not trusted.
    const int64_t read = g.entriesRead ? *g.entriesRead : all - std::min(all, *g.lag);
    return StreamCounts{all, read - std::min(read, g.pending)};
  }
  return badReply("XINFO STREAM", "no entries-added (it needs Redis 7)");
}

// Reads queues on one connection: the first stage of every queue in one pipeline, then, in a
// second one, XRANGE of the streams whose lag Redis cannot tell (nil after entries were deleted,
// absent before Redis 7): it counts the entries after the group's last-delivered-id. A failure
// of the connection is the whole reading's; a command's error is its queue's.
std::variant<std::vector<QueueOutcome>, Failure> readQueues(Link& link, const std::vector<const RedisRead*>& reads,
                                                            const RedisSourceOptions& options) {
  std::vector<Args> first;
  std::vector<size_t> firstOf;  // each queue's first command in `first`
  for (const RedisRead* r : reads) {
    firstOf.push_back(first.size());
    for (Args& command : firstCommands(*r)) first.push_back(std::move(command));
  }
  std::variant<std::vector<Reply>, Failure> firstReplies = link.pipeline(first);
  if (auto* failure = std::get_if<Failure>(&firstReplies)) return std::move(*failure);
  const std::vector<Reply>& replies = std::get<std::vector<Reply>>(firstReplies);

  std::vector<QueueOutcome> out(reads.size());
  std::vector<Args> second;
  std::vector<std::pair<size_t, int64_t>> scanned;  // per XRANGE of `second`: the queue and its pending count
  for (size_t i = 0; i < reads.size(); ++i) {
    const RedisQueue& queue = reads[i]->queue;
    const Reply& reply = replies[firstOf[i]];
    QueueOutcome& o = out[i];
    const bool group = queue.type == RedisQueue::Type::Stream && !queue.consumerGroup.empty();
    if (reads[i]->counts && !group) {
      o.counts = Failure{Error{Status{0, "Invalid", "counts are read of a stream's consumer group only"}, ""}};
    }
    if (!group) {
      o.backlog = countIn(reply, queue.type == RedisQueue::Type::List ? "LLEN" : "XLEN");
      continue;
    }
    Read<RedisGroup> found = groupIn(reply, queue);
    if (auto* failure = std::get_if<Failure>(&found)) {
      o.backlog = *failure;
      if (reads[i]->counts) o.counts = *failure;
      continue;
    }
    const RedisGroup& g = std::get<RedisGroup>(found);
    if (reads[i]->counts) o.counts = countsIn(replies[firstOf[i] + 1], g, queue.consumerGroup);
    if (g.lag) {
      o.backlog = sumOf(g.pending, *g.lag, "XINFO GROUPS");
    } else {
      second.push_back({"XRANGE", queue.key, *g.entriesAfter, "+", "COUNT", std::to_string(options.streamScanLimit)});
      scanned.emplace_back(i, g.pending);
    }
  }
  if (second.empty()) return out;
  std::variant<std::vector<Reply>, Failure> ranges = link.pipeline(second);
  if (auto* failure = std::get_if<Failure>(&ranges)) return std::move(*failure);
  for (size_t k = 0; k < second.size(); ++k) {
    const Reply& range = std::get<std::vector<Reply>>(ranges)[k];
    const auto [i, pending] = scanned[k];
    Read<int64_t> entries = range.failure ? Read<int64_t>(*range.failure) : entriesOf(range.reply.get());
    if (auto* failure = std::get_if<Failure>(&entries)) {
      out[i].backlog = *failure;
    } else {
      out[i].backlog = sumOf(pending, std::get<int64_t>(entries), "XRANGE");
    }
  }
  return out;
}

// INFO stats: keyspace_hits and keyspace_misses.
std::variant<KeyspaceStats, Failure> keyspaceStats(Link& link) {
  Reply r = link.command({"INFO", "stats"});
  if (r.failure) return *r.failure;
  return keyspaceStatsOf(r.reply.get());
}

}  // namespace

Result<int64_t> readRedisCount(std::string_view resp, const std::string& command) {
  Read<ReplyPtr> reply = replyOf(resp, command);
  if (auto* failure = std::get_if<Failure>(&reply)) return failure->error;
  return resultOf(countOf(std::get<ReplyPtr>(reply).get(), command, "the length"));
}

Result<RedisGroup> readRedisGroup(std::string_view resp, const std::string& stream, const std::string& group) {
  Read<ReplyPtr> reply = replyOf(resp, "XINFO GROUPS");
  if (auto* failure = std::get_if<Failure>(&reply)) return failure->error;
  return resultOf(groupOf(std::get<ReplyPtr>(reply).get(), group, stream));
}

Result<int64_t> readRedisEntries(std::string_view resp) {
  Read<ReplyPtr> reply = replyOf(resp, "XRANGE");
  if (auto* failure = std::get_if<Failure>(&reply)) return failure->error;
  return resultOf(entriesOf(std::get<ReplyPtr>(reply).get()));
}

Result<KeyspaceStats> readRedisKeyspaceStats(std::string_view resp) {
  Read<ReplyPtr> reply = replyOf(resp, "INFO stats");
  if (auto* failure = std::get_if<Failure>(&reply)) return failure->error;
  return resultOf(keyspaceStatsOf(std::get<ReplyPtr>(reply).get()));
}

Result<int64_t> groupBacklogOf(const RedisGroup& group, std::optional<int64_t> entriesAfter) {
  if (group.lag) return resultOf(sumOf(group.pending, *group.lag, "XINFO GROUPS"));
  if (!entriesAfter)
    return Error{Status{0, "InvalidResponse", "no lag and no count of the entries after last-delivered-id"}, ""};
  return resultOf(sumOf(group.pending, *entriesAfter, "XRANGE"));
}

struct RedisSource::Connection {
  std::mutex mutex;
  std::unique_ptr<Link> link;  // guarded by mutex; null while closed
  std::atomic<bool> open{false};
  std::atomic<std::chrono::steady_clock::rep> lastUsed{std::chrono::steady_clock::now().time_since_epoch().count()};
};

kube::Outcome checkRedisTlsFiles(const RedisTlsFiles& files) {
  Result<SslContextPtr> context = tlsContext(files);
  if (!context) return context.error();
  return kube::Ok{};
}

RedisSource::RedisSource(RedisSourceOptions options) : options_(std::move(options)) {}

RedisSource::~RedisSource() = default;

namespace {

// What tells connections apart. '\n' cannot appear in an address, so the key is unambiguous.
std::string connectionKey(const RedisQueue& queue) {
  return queue.address + "\n" + std::to_string(queue.db) + "\n" + (queue.tls ? "tls" : "tcp") + "\n" + queue.password;
}

std::string contextOf(const RedisQueue& queue) { return "redis " + queue.address + " key " + queue.key; }

}  // namespace

std::shared_ptr<RedisSource::Connection> RedisSource::connectionFor(const RedisQueue& queue) {
  std::lock_guard lock(mutex_);
  auto& slot = connections_[connectionKey(queue)];
  if (!slot) slot = std::make_shared<Connection>();
  return slot;
}

template <class T, class Measure>
kube::Result<T> RedisSource::onConnection(const RedisQueue& server, const std::string& context, Measure measure) {
  auto named = [&context](Error error) {
    error.context = context;
    return error;
  };
  const std::optional<RedisHostPort> where = parseRedisAddress(server.address);
  if (!where) return named(Error{Status{0, "Invalid", "address \"" + server.address + "\" is not host:port"}, ""});

  const std::shared_ptr<Connection> connection = connectionFor(server);
  std::lock_guard lock(connection->mutex);
  connection->lastUsed = std::chrono::steady_clock::now().time_since_epoch().count();
  for (int attempt = 0;; ++attempt) {
    const bool reused = connection->link != nullptr;
    if (!reused) {
      Result<std::unique_ptr<Link>> fresh = connect(server, *where, options_);
      if (!fresh) return named(fresh.error());
      connection->link = std::move(fresh).value();
      connection->open = true;
    }
    std::variant<T, Failure> measured = measure(*connection->link);
    if (auto* value = std::get_if<T>(&measured)) {
      if (connection->link->mustReconnect()) {  // and AUTH again, next time
        connection->link.reset();
        connection->open = false;
      }
      return std::move(*value);
    }
    Failure& failure = std::get<Failure>(measured);
    if (failure.broken) {
      connection->link.reset();
      connection->open = false;
      // A kept connection the server dropped (restart, idle timeout) says nothing about the
      // server now: try once on a new one. A timeout would only wait again.
      if (reused && !failure.timedOut && attempt == 0) continue;
    }
    return named(std::move(failure.error));
  }
}

std::vector<RedisReading> RedisSource::read(const std::vector<RedisRead>& reads) {
  std::vector<RedisReading> out(reads.size(), RedisReading{Clock::now(), Error{}, std::nullopt});
  auto failed = [&](size_t i, const Error& error) {
    out[i].backlog = Error{error.status, contextOf(reads[i].queue)};
    if (reads[i].counts) out[i].counts = out[i].backlog.error();
  };
  std::map<std::string, std::vector<size_t>> byConnection;  // the queues of each connection
  for (size_t i = 0; i < reads.size(); ++i) {
    if (reads[i].queue.key.empty()) {
      failed(i, Error{Status{0, "Invalid", "no key given"}, ""});
    } else {
      byConnection[connectionKey(reads[i].queue)].push_back(i);
    }
  }
  for (const auto& [key, members] : byConnection) {
    std::vector<const RedisRead*> batch;
    for (size_t i : members) batch.push_back(&reads[i]);
    const Clock::time_point at = Clock::now();
    Result<std::vector<QueueOutcome>> outcomes = onConnection<std::vector<QueueOutcome>>(
        batch.front()->queue, "", [&](Link& link) { return readQueues(link, batch, options_); });
    for (size_t k = 0; k < members.size(); ++k) {
      const size_t i = members[k];
      out[i].at = at;
      if (!outcomes) {
        failed(i, outcomes.error());
        continue;
      }
      QueueOutcome& o = (*outcomes)[k];
      out[i].backlog = resultOf(std::move(o.backlog), contextOf(reads[i].queue));
      if (o.counts) out[i].counts = resultOf(std::move(*o.counts), contextOf(reads[i].queue));
    }
  }
  return out;
}

kube::Result<int64_t> RedisSource::backlog(const RedisQueue& queue) { return read({{queue}}).front().backlog; }

kube::Result<KeyspaceStats> RedisSource::cacheStats(const std::string& address) {
  const RedisQueue server{.address = address};
  return onConnection<KeyspaceStats>(server, "redis " + address + " INFO stats",
                                     [](Link& link) { return keyspaceStats(link); });
}

void RedisSource::closeIdle(std::chrono::steady_clock::duration idle) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::lock_guard lock(mutex_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = *it->second;
    std::unique_lock busy(c.mutex, std::try_to_lock);  // in use: not idle
    if (busy.owns_lock() && now - c.lastUsed.load() >= idle.count()) {
      c.link.reset();
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
