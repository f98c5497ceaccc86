#pragma once
// Strict base64 (RFC 4648 section 4) for SASL, where every challenge and
// response travels base64-encoded (RFC 4422 section 4, RFC 3501 6.2.2,
// RFC 5034), and for the master's licence keys and signatures. (MIME bodies
// use the lenient decoder in mime/decode.h.)
#include <optional>
#include <string>
#include <string_view>

namespace postern::sasl {

std::string encodeBase64(std::string_view data);

// Strict: the standard alphabet, padding required (length a multiple of 4),
// at most two '=' and only at the end, no whitespace, and the unused bits of
// the last symbol zero (so every byte string has exactly one encoding).
// nullopt otherwise. "" decodes to "".
std::optional<std::string> decodeBase64(std::string_view in);

}  // namespace postern::sasl
