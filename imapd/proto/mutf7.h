#pragma once
// Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3): printable
// US-ASCII represents itself ("&" as "&-"), everything else is UTF-16 in
// modified BASE64 ("," instead of "/") between "&" and "-".
#include <optional>
#include <string>
#include <string_view>

namespace postern::imap {

// Decodes to UTF-8. nullopt unless `mutf7` is canonical modified UTF-7:
// no 8-bit or control octets, no unterminated "&", no printable ASCII in
// BASE64, no bad surrogates, no non-zero padding bits, no null shift "-&".
std::optional<std::string> mutf7ToUtf8(std::string_view mutf7);
bool isValidMutf7(std::string_view mutf7);
// Encodes UTF-8; nullopt if `utf8` is not valid UTF-8.
std::optional<std::string> utf8ToMutf7(std::string_view utf8);

}  // namespace postern::imap
