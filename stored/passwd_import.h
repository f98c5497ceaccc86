#pragma once
// Dovecot passwd-file lines (https://doc.dovecot.org/ "passwd-file"):
//   user:password:uid:gid:gecos:home:shell:extra_fields
// Only the first two fields matter here; the rest may be absent.
#include <optional>
#include <string>
#include <string_view>

#include "error.h"

namespace postern::stored {

struct PasswdEntry {
  std::string user;      // as written
  std::string password;  // "{SCHEME}hash" as written
};

// nullopt for a blank line or a '#' comment; kBadArgs (with a reason that
// never quotes the password field) for a line without "user:password".
Result<std::optional<PasswdEntry>> parsePasswdLine(std::string_view line);

}  // namespace postern::stored
