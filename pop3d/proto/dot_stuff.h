#pragma once
// The multi-line response body of RETR and TOP (RFC 1939 section 3):
// every line starting with "." gets one more "." in front, and the body
// ends with CRLF "." CRLF.
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::pop3d {

// Appends `body` byte-stuffed to *out, then the terminating ".\r\n". A
// final line without CRLF gets one, so the terminator is always on a line
// of its own. Line starts are positions after LF (stored messages are CRLF).
void appendDotStuffed(std::string_view body, std::string* out);

// The part of a message TOP returns: the header, the blank line that ends
// it, and at most `lines` lines of the body. A message without a blank
// line is all header.
std::string_view topOf(std::string_view message, uint32_t lines);

}  // namespace postern::pop3d
