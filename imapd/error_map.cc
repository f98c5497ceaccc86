#include "error_map.h"

namespace postern::imapd {

std::string imapNoText(const Error& e, const std::string& what) {
  switch (e.code) {
    case ErrorCode::kOk: return what;
    case ErrorCode::kTemp: return "[UNAVAILABLE] " + what + ": temporary failure, try again";
    case ErrorCode::kUnavailable: return "[UNAVAILABLE] " + what + ": mail store temporarily unavailable, try again";
    case ErrorCode::kNotFound: return "[NONEXISTENT] " + what + ": no such mailbox";
    case ErrorCode::kExists: return "[ALREADYEXISTS] " + what + ": mailbox already exists";
    case ErrorCode::kExpunged: return "[EXPUNGEISSUED] " + what + ": message was expunged";
    case ErrorCode::kInUse: return "[INUSE] " + what + ": in use, try again";
    case ErrorCode::kOverQuota: return "[OVERQUOTA] " + what + ": quota exceeded";
    case ErrorCode::kLimit: return "[LIMIT] " + what + ": limit reached";
    case ErrorCode::kTooBig: return "[TOOBIG] " + what + ": too big";
    case ErrorCode::kCorrupt: return "[CORRUPTION] " + what + ": message data is damaged";
    case ErrorCode::kBadArgs: return "[CANNOT] " + what + ": " + (e.message.empty() ? "not possible" : e.message);
    case ErrorCode::kAuthFailed: return "[AUTHENTICATIONFAILED] Authentication failed.";
    case ErrorCode::kDenied: return "[AUTHORIZATIONFAILED] " + what + ": IMAP access is disabled for this account";
    case ErrorCode::kInternal: return "[SERVERBUG] " + what + ": internal error";
  }
  return "[SERVERBUG] " + what + ": internal error";
}

}  // namespace postern::imapd
