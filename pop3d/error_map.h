#pragma once
// The one place where store errors become POP3 responses (RFC 2449 and
// RFC 3206 response codes). Every function returns a complete "-ERR ..."
// line including CRLF; internal detail (Error::message) is never included.
#include <string>

#include "error.h"

namespace postern::pop3d {

// A store call a command depends on failed (STAT-level, login, QUIT).
std::string errorReply(const Error& e);
// RETR/TOP of one message failed; the session goes on.
std::string messageErrorReply(const Error& e);
// The master refused a login; `reason` is its text. Reasons starting with
// "in-use" (any case, optionally in brackets) become [IN-USE], all others
// [SYS/TEMP].
std::string loginRefusedReply(const std::string& reason);

}  // namespace postern::pop3d
