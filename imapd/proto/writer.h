#pragma once
// Response formatting helpers: each appends IMAP syntax to `out`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "types.h"

namespace postern::imap {

// Longest string sent as a quoted string; longer ones go out as literals.
constexpr size_t kMaxQuoted = 1000;

// True when `s` may be sent as a quoted string: at most kMaxQuoted octets,
// no CR, LF or NUL, and no 8-bit octets unless allow8bit (UTF8=ACCEPT).
bool canQuote(std::string_view s, bool allow8bit = false);
// "..." with \ and " escaped. Precondition: canQuote(s, true).
void appendQuoted(std::string& out, std::string_view s);
// {n}CRLF followed by the octets, each NUL sent as 0x80 (literals are CHAR8).
void appendLiteral(std::string& out, std::string_view s);
// string: quoted when canQuote, else a literal.
void appendString(std::string& out, std::string_view s, bool allow8bit = false);
// nstring: NIL when absent.
void appendNString(std::string& out, std::optional<std::string_view> s, bool allow8bit = false);
// astring: a bare atom when every octet is an ASTRING-CHAR (and it is not
// "NIL"), else a string. Used for mailbox names and header field names.
void appendAstring(std::string& out, std::string_view s, bool allow8bit = false);
// "(\Seen \Answered $Label1)": system flags in a fixed order, then keywords.
void appendFlags(std::string& out, const FlagSet& flags);
// INTERNALDATE: "17-Jul-1996 02:44:25 -0700" with the quotes.
void appendDateTime(std::string& out, int64_t utc, int tzOffsetMinutes);

}  // namespace postern::imap
