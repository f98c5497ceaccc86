#pragma once
// The one error vocabulary of Postern. Mirrored in proto/store.proto
// (postern.store.v1.ErrorCode); each protocol maps it to its own response
// codes in exactly one place (imapd/error_map.cc, pop3d/error_map.cc,
// lmtpd/error_map.cc).
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace postern {

enum class ErrorCode {
  kOk = 0,
  kTemp = 1,
  kUnavailable = 2,
  kNotFound = 3,
  kExists = 4,
  kExpunged = 5,
  kInUse = 6,
  kOverQuota = 7,
  kLimit = 8,
  kTooBig = 9,
  kCorrupt = 10,
  kBadArgs = 11,
  kAuthFailed = 12,
  kInternal = 13,
  kDenied = 14,  // refused by policy (e.g. protocol disabled for the user)
};

// Stable lower-case name, for logs and JSON ("not-found").
std::string_view errorName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kOk;
  std::string message;  // for logs and admins; never sent to mail clients

  bool ok() const { return code == ErrorCode::kOk; }
  static Error none() { return {}; }
};

// A value or an Error. No exception crosses a module boundary: functions
// that can fail return Result<T> (or Error when there is no value).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(implicit)
  Result(Error err) : v_(std::move(err)) {}  // NOLINT(implicit)
  Result(ErrorCode code, std::string msg) : v_(Error{code, std::move(msg)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const {
    static const Error kNone;
    return ok() ? kNone : std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

}  // namespace postern
