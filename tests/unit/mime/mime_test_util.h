#pragma once
// Helpers shared by the MIME tests.
#include <string>
#include <string_view>

#include "mime/mime.h"

namespace postern::mime::test {

// CRLF -> LF, for running each parser case with bare LF too.
std::string toLf(std::string_view crlf);
// "\n" -> "\r\n" (test messages are written with \n for readability).
std::string crlf(std::string_view lf);
// BODYSTRUCTURE / BODY / ENVELOPE of a message.
std::string bs(std::string_view msg, bool extended = true);
std::string env(std::string_view msg);

}  // namespace postern::mime::test
