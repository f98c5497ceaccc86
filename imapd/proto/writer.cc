#include "writer.h"

#include <algorithm>

namespace postern::imap {

bool canQuote(std::string_view s, bool allow8bit) {
  if (s.size() > kMaxQuoted) return false;
  return std::none_of(s.begin(), s.end(), [&](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\r' || c == '\n' || c == '\0' || (c >= 0x80 && !allow8bit);
  });
}

void appendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void appendLiteral(std::string& out, std::string_view s) {
  out += '{';
  out += std::to_string(s.size());
  out += "}\r\n";
  const size_t start = out.size();
  out.append(s);
  // A literal is CHAR8, which excludes NUL (RFC 3501 9); a message may hold
  // NULs all the same (LMTP, APPEND). They go out as 0x80, as Dovecot sends
  // them, so the size - and RFC822.SIZE - stays right.
  for (size_t p = out.find('\0', start); p != std::string::npos; p = out.find('\0', p + 1)) out[p] = '\x80';
}

void appendString(std::string& out, std::string_view s, bool allow8bit) {
  if (canQuote(s, allow8bit)) {
    appendQuoted(out, s);
  } else {
    appendLiteral(out, s);
  }
}

void appendNString(std::string& out, std::optional<std::string_view> s, bool allow8bit) {
  if (!s) {
    out += "NIL";
  } else {
    appendString(out, *s, allow8bit);
  }
}

void appendAstring(std::string& out, std::string_view s, bool allow8bit) {
  if (!s.empty() && !iequals(s, "NIL") && std::all_of(s.begin(), s.end(), isAstringChar)) {
    out.append(s);
  } else {
    appendString(out, s, allow8bit);
  }
}

void appendFlags(std::string& out, const FlagSet& flags) {
  static constexpr SystemFlag kOrder[] = {kFlagSeen, kFlagAnswered, kFlagFlagged,
                                          kFlagDeleted, kFlagDraft, kFlagRecent};
  out += '(';
  bool first = true;
  for (SystemFlag f : kOrder) {
    if (!flags.has(f)) continue;
    if (!first) out += ' ';
    out.append(systemFlagName(f));
    first = false;
  }
  for (const std::string& k : flags.keywords) {
    if (!first) out += ' ';
    out.append(k);
    first = false;
  }
  out += ')';
}

void appendDateTime(std::string& out, int64_t utc, int tzOffsetMinutes) {
  out += '"';
  out += formatDateTime(utc, tzOffsetMinutes);
  out += '"';
}

}  // namespace postern::imap
