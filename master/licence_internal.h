#pragma once
// Helpers shared by licence.cc and licence_crypto.cc; not part of the API.
#include <optional>
#include <string>
#include <string_view>

namespace postern::master::detail {

// Standard base64 with padding, no line breaks.
std::string base64Encode(std::string_view raw);
// Strict: length a multiple of 4, only the standard alphabet, '=' only as
// final padding, unused bits zero. nullopt on any deviation.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace postern::master::detail
