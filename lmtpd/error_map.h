#pragma once
// The one place where store errors become LMTP replies (RFC 5321 reply
// codes with RFC 3463 enhanced status codes). Replies are complete lines
// without CRLF; internal detail (Error::message) is never included.
#include <string>

#include "error.h"

namespace postern::lmtpd {

// The reply to DATA for one recipient, given the store's result for it.
std::string deliveryReply(const Error& e, const std::string& rcpt);
// A store call needed to answer a command (RCPT's user lookup) failed.
std::string commandErrorReply(const Error& e);

}  // namespace postern::lmtpd
