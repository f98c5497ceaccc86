#pragma once
// SASL pieces of POP3 AUTH (RFC 5034): base64 lines and the PLAIN message
// (RFC 4616). No state: the session runs the exchange.
#include <optional>
#include <string>
#include <string_view>

namespace postern::pop3d {

// Strict base64 (RFC 4648 section 4): padding required, no whitespace, no
// other characters. nullopt when `in` is not valid base64.
std::optional<std::string> decodeBase64(std::string_view in);

struct PlainCredentials {
  std::string authzid;  // empty: act as authcid
  std::string authcid;
  std::string password;
};
// Splits a decoded PLAIN message "[authzid] NUL authcid NUL passwd".
// nullopt unless there are exactly two NULs and authcid and passwd are
// non-empty.
std::optional<PlainCredentials> parsePlain(std::string_view msg);

}  // namespace postern::pop3d
