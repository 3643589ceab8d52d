// The one error type of windlass: Status, and Result<T> for a value or a Status.
//
// Every fallible call at a module boundary returns one of these. Nothing throws
// across a module boundary; exceptions from third-party libraries are caught in
// their wrapper and turned into a Status there.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace windlass {

// Canonical codes (after abseil's). The code tells the scheduler how to retry:
// kUnavailable → back off; kConflict/kAborted → rerun soon; kNotFound → retry at
// the interval; kInvalidArgument/kFailedPrecondition → stalled until the input
// changes.
enum class Code {
  kOk,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kPermissionDenied,
  kUnauthenticated,
  kUnavailable,
  kConflict,
  kAborted,
  kDeadlineExceeded,
  kResourceExhausted,
  kUnimplemented,
  kInternal,
};

// Returns the code's name, e.g. "InvalidArgument". Never null.
const char* codeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status invalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status notFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status alreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status failedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status permissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status unauthenticated(std::string msg) {
    return {Code::kUnauthenticated, std::move(msg)};
  }
  static Status unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status aborted(std::string msg) { return {Code::kAborted, std::move(msg)}; }
  static Status deadlineExceeded(std::string msg) {
    return {Code::kDeadlineExceeded, std::move(msg)};
  }
  static Status resourceExhausted(std::string msg) {
    return {Code::kResourceExhausted, std::move(msg)};
  }
  static Status unimplemented(std::string msg) { return {Code::kUnimplemented, std::move(msg)}; }
  static Status internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns the same status with "prefix: " in front of the message, so callers
  // can name the subject as the error travels up ("overlays/prod: " + cause).
  Status withContext(std::string_view prefix) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// A value of T, or a non-ok Status. Shaped like std::expected (g++ 12 has none).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }

  // Precondition: !has_value().
  const Status& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace windlass

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define WINDLASS_RETURN_IF_ERROR(expr)           \
  do {                                           \
    ::windlass::Status windlass_st_ = (expr);    \
    if (!windlass_st_.ok()) return windlass_st_; \
  } while (0)
