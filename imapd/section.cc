#include "section.h"

#include <algorithm>

#include "types.h"

namespace postern::imapd {

std::string_view headerOf(std::string_view msg) {
  // The header ends at the first empty line. A message that starts with
  // one has no header at all, whatever blank lines its body contains.
  if (msg.rfind("\r\n", 0) == 0) return msg.substr(0, 2);
  size_t p = msg.find("\r\n\r\n");
  if (p != std::string_view::npos) return msg.substr(0, p + 4);
  return msg;
}

std::string_view textOf(std::string_view msg) { return msg.substr(headerOf(msg).size()); }

std::string headerFields(std::string_view header, const std::vector<std::string>& fields, bool exclude) {
  std::string out;
  size_t pos = 0;
  bool keep = false;
  while (pos < header.size()) {
    size_t eol = header.find("\r\n", pos);
    size_t end = eol == std::string_view::npos ? header.size() : eol + 2;
    std::string_view line = header.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n") break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (keep) out.append(line);
      continue;
    }
    size_t colon = line.find(':');
    std::string name = imap::toUpper(line.substr(0, colon == std::string_view::npos ? 0 : colon));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    bool listed = std::find(fields.begin(), fields.end(), name) != fields.end();
    keep = colon != std::string_view::npos && (exclude ? !listed : listed);
    if (keep) out.append(line);
  }
  out += "\r\n";
  return out;
}

std::optional<std::string> extractSection(std::string_view msg, const imap::BodySection& s) {
  using T = imap::BodySection::Text;
  std::string_view base = msg;
  if (!s.part.empty()) {
    // Until the MIME engine lands, only part 1 of a single-part message
    // (its body) is addressable.
    std::string ct;
    std::string h = headerFields(headerOf(msg), {"CONTENT-TYPE"}, false);
    ct = imap::toUpper(h);
    if (s.part.size() != 1 || s.part[0] != 1 || ct.find("MULTIPART/") != std::string::npos ||
        ct.find("MESSAGE/RFC822") != std::string::npos)
      return std::nullopt;
    if (s.text == T::kHeader || s.text == T::kHeaderFields || s.text == T::kHeaderFieldsNot ||
        s.text == T::kText)
      return std::nullopt;
    if (s.text == T::kMime) return std::string(headerOf(msg));
    return std::string(textOf(msg));
  }
  switch (s.text) {
    case T::kNone: return std::string(base);
    case T::kHeader: return std::string(headerOf(base));
    case T::kText: return std::string(textOf(base));
    case T::kHeaderFields: return headerFields(headerOf(base), s.fields, false);
    case T::kHeaderFieldsNot: return headerFields(headerOf(base), s.fields, true);
    case T::kMime: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace postern::imapd
