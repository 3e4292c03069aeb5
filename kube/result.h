// The one error model of Governor: expected failures are values (an Error carrying the
// API's Status when there is one); exceptions never cross a module boundary.
#pragma once

#include <cassert>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace governor::kube {

// Mirrors metav1.Status: what the API server said about a failed request.
struct Status {
  int code = 0;         // HTTP status; 0 when the request never got an answer
  std::string reason;   // e.g. "NotFound", "Conflict", "Expired", "Timeout"
  std::string message;  // human-readable, from the server or from us
};

struct Error {
  Status status;
  // What was being done: "GET configmaps default/foo".
  std::string context;

  std::string what() const;
  bool isNotFound() const { return status.code == 404; }
  bool isConflict() const { return status.code == 409; }
  bool isGone() const { return status.code == 410; }
  bool isTransport() const { return status.code == 0; }
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// For operations that return nothing on success.
struct Ok {};
using Outcome = Result<Ok>;

// `text` with each byte that is not part of valid UTF-8 replaced by U+FFFD, for messages that
// quote what a server sent: they end up in JSON (conditions, events, API answers), whose
// dump() throws on invalid UTF-8.
std::string utf8Safe(std::string_view text);

// The boundary of a program: runs `body` (a main) and returns its exit status; an exception
// that reaches it is a bug, said on standard error as "PROGRAM: internal error: WHAT", and
// the exit status is 70 (EX_SOFTWARE), never std::terminate's abort.
int exitStatusOf(const std::string& program, const std::function<int()>& body);

}  // namespace governor::kube
