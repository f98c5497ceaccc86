#pragma once
// The one place where store errors become IMAP response codes.
#include <string>

#include "error.h"

namespace postern::imapd {

// "[UNAVAILABLE] Mailbox store is temporarily unavailable, try again"
std::string imapNoText(const Error& e, const std::string& what);

}  // namespace postern::imapd
