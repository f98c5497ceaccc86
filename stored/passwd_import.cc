#include "passwd_import.h"

namespace postern::stored {

Result<std::optional<PasswdEntry>> parsePasswdLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] == '#') return std::optional<PasswdEntry>();
  size_t c1 = line.find(':');
  if (c1 == std::string_view::npos) return Error{ErrorCode::kBadArgs, "no ':' after the user name"};
  if (c1 == 0) return Error{ErrorCode::kBadArgs, "empty user name"};
  size_t c2 = line.find(':', c1 + 1);
  std::string_view pw =
      line.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1);
  if (pw.empty()) return Error{ErrorCode::kBadArgs, "empty password field"};
  return std::optional<PasswdEntry>(PasswdEntry{std::string(line.substr(0, c1)), std::string(pw)});
}

}  // namespace postern::stored
