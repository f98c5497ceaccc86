#include "lmtpd/error_map.h"

namespace postern::lmtpd {

std::string deliveryReply(const Error& e, const std::string& rcpt) {
  std::string who = "<" + rcpt + "> ";
  switch (e.code) {
    case ErrorCode::kOk:
      return "250 2.0.0 " + who + "Delivered";
    case ErrorCode::kNotFound:
      return "550 5.1.1 " + who + "User unknown";
    case ErrorCode::kOverQuota:
      return "552 5.2.2 " + who + "Mailbox full";
    case ErrorCode::kTooBig:
      return "552 5.3.4 " + who + "Message too big for system";
    case ErrorCode::kLimit:
      return "452 4.3.1 " + who + "Insufficient system resources";
    case ErrorCode::kCorrupt:
    case ErrorCode::kBadArgs:
      return "554 5.6.0 " + who + "Message content rejected";
    case ErrorCode::kTemp:
    case ErrorCode::kUnavailable:
    case ErrorCode::kExists:
    case ErrorCode::kExpunged:
    case ErrorCode::kInUse:
    case ErrorCode::kAuthFailed:
    case ErrorCode::kDenied:
    case ErrorCode::kInternal:
      break;
  }
  return "451 4.3.0 " + who + "Temporary failure, try again later";
}

std::string commandErrorReply(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound:
      return "550 5.1.1 User unknown";
    default:
      return "451 4.3.0 Temporary failure, try again later";
  }
}

}  // namespace postern::lmtpd
