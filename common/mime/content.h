#pragma once
// Content-* header values (RFC 2045, RFC 2183, RFC 2231, RFC 3282).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/mime.h"

namespace postern::mime {

// "type/subtype; params". False when not even a type token is there (the
// header is then ignored, as if absent). A type without "/subtype" leaves
// subtype empty.
bool parseContentType(std::string_view value, std::string& type, std::string& subtype,
                      std::vector<Param>& params);
// "token; params" (Content-Disposition). False without a token.
bool parseDisposition(std::string_view value, std::string& token, std::vector<Param>& params);
// "; a=b; c*0=d; c*1=e": RFC 2231 continuations merged, Dovecot style.
std::vector<Param> parseParams(std::string_view value);
// First token (Content-Transfer-Encoding); nullopt when none.
std::optional<std::string> parseToken(std::string_view value);
// "en, de-CH" (Content-Language).
std::vector<std::string> parseLanguage(std::string_view value);

// The value of the first parameter called `name` (case-insensitive).
std::optional<std::string_view> findParam(const std::vector<Param>& params, std::string_view name);

}  // namespace postern::mime
