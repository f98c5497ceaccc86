#pragma once
// Header block scanning shared by the parser, sections and search.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::mime {

bool iequals(std::string_view a, std::string_view b);  // ASCII case-insensitive
std::string toLower(std::string_view s);               // ASCII

// One header field: its name (trailing blanks removed) and its raw value
// (everything after the colon, folding included), and where it lies.
struct HeaderField {
  std::string_view name;
  std::string_view rawValue;
  size_t start = 0;  // offset of the field's first octet in the block
  size_t end = 0;    // offset past its last line end
};

// Calls fn for each field of a header block, in order, until fn returns
// false. Lines without a colon are skipped; the blank line ends the block.
void forEachField(std::string_view header, const std::function<bool(const HeaderField&)>& fn);

// RFC 5322 unfolding: line breaks removed, leading and trailing blanks
// trimmed, NUL dropped and bare CR turned into a space; cut at `max` octets.
std::string unfold(std::string_view raw, size_t max = std::string::npos);

// The length of a message's header block as SEARCH, header-only reads and
// the search text cut it: through the first empty line (CRLF CRLF), just the
// CRLF when the message starts with one (no header at all, whatever blank
// lines the body holds), the whole message when it has no empty line.
inline size_t headerBlockSize(std::string_view message) {
  if (message.rfind("\r\n", 0) == 0) return 2;
  size_t p = message.find("\r\n\r\n");
  return p == std::string_view::npos ? message.size() : p + 4;
}

// Unfolded values of every field called `name`, in order.
std::vector<std::string> headerValues(std::string_view header, std::string_view name);

}  // namespace postern::mime
