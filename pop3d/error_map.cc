#include "pop3d/error_map.h"

#include <cctype>
#include <string_view>

namespace postern::pop3d {

std::string errorReply(const Error& e) {
  switch (e.code) {
    case ErrorCode::kAuthFailed:
      return "-ERR [AUTH] Authentication failed\r\n";
    case ErrorCode::kDenied:
      return "-ERR [AUTH] POP3 access is disabled for this account\r\n";
    case ErrorCode::kInUse:
      return "-ERR [IN-USE] Mailbox is in use\r\n";
    case ErrorCode::kNotFound:
      return "-ERR [SYS/PERM] Mailbox does not exist\r\n";
    case ErrorCode::kCorrupt:
      return "-ERR [SYS/PERM] Mailbox cannot be read\r\n";
    case ErrorCode::kBadArgs:
      return "-ERR Invalid arguments\r\n";
    case ErrorCode::kOk:
    case ErrorCode::kTemp:
    case ErrorCode::kUnavailable:
    case ErrorCode::kExists:
    case ErrorCode::kExpunged:
    case ErrorCode::kOverQuota:
    case ErrorCode::kLimit:
    case ErrorCode::kTooBig:
    case ErrorCode::kInternal:
      break;
  }
  return "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n";
}

std::string messageErrorReply(const Error& e) {
  switch (e.code) {
    case ErrorCode::kCorrupt:
      return "-ERR [SYS/PERM] message cannot be read\r\n";
    case ErrorCode::kNotFound:
    case ErrorCode::kExpunged:
      // Expunged by another session (IMAP) after this one's snapshot:
      // retrying cannot help (RFC 3206 section 4).
      return "-ERR [SYS/PERM] Message was deleted by another session\r\n";
    default:
      return errorReply(e);
  }
}

std::string loginRefusedReply(const std::string& reason) {
  std::string_view r = reason;
  auto startsWithNoCase = [](std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
  };
  auto strip = [&](std::string_view prefix) {
    r.remove_prefix(prefix.size());
    while (!r.empty() && (r.front() == ':' || r.front() == ' ')) r.remove_prefix(1);
  };
  std::string code = "SYS/TEMP";
  if (startsWithNoCase(r, "[in-use]")) {
    code = "IN-USE";
    strip("[in-use]");
  } else if (startsWithNoCase(r, "in-use")) {
    code = "IN-USE";
    strip("in-use");
  } else if (startsWithNoCase(r, "login-delay")) {
    code = "LOGIN-DELAY";
    strip("login-delay");
  } else if (startsWithNoCase(r, "[sys/temp]")) {
    strip("[sys/temp]");
  }
  std::string text;
  for (char c : r) {
    if (c != '\r' && c != '\n') text += c;
  }
  if (text.empty()) text = "Login refused";
  return "-ERR [" + code + "] " + text + "\r\n";
}

}  // namespace postern::pop3d
