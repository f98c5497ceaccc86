#include "error.h"

namespace postern {

std::string_view errorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kTemp: return "temp";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kExists: return "exists";
    case ErrorCode::kExpunged: return "expunged";
    case ErrorCode::kInUse: return "in-use";
    case ErrorCode::kOverQuota: return "over-quota";
    case ErrorCode::kLimit: return "limit";
    case ErrorCode::kTooBig: return "too-big";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kBadArgs: return "bad-args";
    case ErrorCode::kAuthFailed: return "auth-failed";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kDenied: return "denied";
  }
  return "unknown";
}

}  // namespace postern
