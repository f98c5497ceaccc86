#pragma once
// How the service reports an engine error: in the response's `error` (never
// as gRPC status), and in the log (errors of the store itself as errors,
// refusals as info).
#include <string>

#include "error.h"
#include "log.h"
#include "store.pb.h"

namespace postern::stored {

inline void setError(postern::store::v1::Error* out, const Error& e) {
  out->set_code(static_cast<postern::store::v1::ErrorCode>(static_cast<int>(e.code)));
  out->set_message(e.message);
}

// Logs a failed operation; returns `e` for chaining.
inline const Error& logged(const char* op, const std::string& user, const Error& e) {
  if (!e.ok()) {
    auto level = e.code == ErrorCode::kInternal || e.code == ErrorCode::kCorrupt ||
                         e.code == ErrorCode::kUnavailable
                     ? log::Level::kError
                     : log::Level::kInfo;
    log::write(level, "store operation failed",
               {{"op", op}, {"user", user}, {"error", std::string(errorName(e.code))}, {"detail", e.message}});
  }
  return e;
}

}  // namespace postern::stored
