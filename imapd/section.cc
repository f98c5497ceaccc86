#include "section.h"

#include <algorithm>

#include "mime/header.h"
#include "types.h"

namespace postern::imapd {

std::string_view headerOf(std::string_view msg) { return msg.substr(0, mime::headerBlockSize(msg)); }

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

std::optional<std::string> extractSection(std::string_view msg, const mime::Structure& s,
                                          const imap::BodySection& sec) {
  using T = imap::BodySection::Text;
  mime::SectionText kind = mime::SectionText::kNone;
  switch (sec.text) {
    case T::kNone: kind = mime::SectionText::kNone; break;
    case T::kHeader:
    case T::kHeaderFields:
    case T::kHeaderFieldsNot: kind = mime::SectionText::kHeader; break;
    case T::kText: kind = mime::SectionText::kText; break;
    case T::kMime: kind = mime::SectionText::kMime; break;
  }
  auto data = mime::section(msg, s, sec.part, kind);
  if (!data) return std::nullopt;
  if (sec.text == T::kHeaderFields) return mime::headerFields(*data, sec.fields, false);
  if (sec.text == T::kHeaderFieldsNot) return mime::headerFields(*data, sec.fields, true);
  return std::string(*data);
}

std::optional<std::string> extractSection(std::string_view msg, const imap::BodySection& sec) {
  if (sec.part.empty() && (sec.text == imap::BodySection::Text::kNone)) return std::string(msg);
  return extractSection(msg, mime::parse(msg), sec);
}

}  // namespace postern::imapd
