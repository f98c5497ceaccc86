#include "lmtpd/proto/address.h"

#include <cctype>

namespace postern::lmtpd {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Recipient mapRecipient(std::string_view address, const std::vector<std::string>& domains) {
  Recipient r;
  // The domain follows the last '@' outside a quoted local part.
  size_t at = std::string_view::npos;
  bool quoted = false;
  for (size_t i = 0; i < address.size(); ++i) {
    if (address[i] == '\\' && quoted) {
      ++i;
      continue;
    }
    if (address[i] == '"') quoted = !quoted;
    if (address[i] == '@' && !quoted) at = i;
  }
  std::string_view local = address.substr(0, at);
  std::string domain = at == std::string_view::npos ? "" : lower(address.substr(at + 1));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  std::string user;
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    local = local.substr(1, local.size() - 2);
    for (size_t i = 0; i < local.size(); ++i) {
      if (local[i] == '\\' && i + 1 < local.size()) ++i;
      user += local[i];
    }
  } else {
    user = std::string(local);
  }
  user = lower(user);
  if (user.empty() || (at != std::string_view::npos && domain.empty())) {
    r.error = "501 5.1.3 Bad recipient address syntax";
    return r;
  }
  if (at != std::string_view::npos && !domains.empty()) {
    bool accepted = false;
    for (const auto& d : domains) {
      if (lower(d) == domain) accepted = true;
    }
    if (!accepted) {
      r.error = "550 5.1.1 <" + std::string(address) + "> Recipient domain not accepted here";
      return r;
    }
  }
  r.ok = true;
  r.user = std::move(user);
  return r;
}

}  // namespace postern::lmtpd
