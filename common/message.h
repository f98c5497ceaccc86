#pragma once
// Message text helpers shared by LMTP, APPEND and POP3.
#include <string>
#include <string_view>

namespace postern {

// Converts bare LF and bare CR to CRLF, so that every stored message has
// CRLF line ends and its size is the exact octet count IMAP and POP3 report.
std::string normalizeCrlf(std::string_view in);

}  // namespace postern
