#pragma once
// Recipient addresses to Postern users: `name` or `name@domain` is the
// user `name`, lower-cased. With a non-empty list of accepted domains, any
// other domain is refused.
#include <string>
#include <string_view>
#include <vector>

namespace postern::lmtpd {

struct Recipient {
  bool ok = false;
  std::string user;   // when ok
  std::string error;  // when !ok: the complete reply line, without CRLF
};

Recipient mapRecipient(std::string_view address, const std::vector<std::string>& domains);

}  // namespace postern::lmtpd
