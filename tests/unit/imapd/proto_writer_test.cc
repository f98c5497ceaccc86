// Response formatting: the exact bytes a client sees.
#include <doctest/doctest.h>

#include "writer.h"

namespace postern::imap {
namespace {

template <typename F>
std::string out(F f) {
  std::string s;
  f(s);
  return s;
}

TEST_CASE("strings are quoted when safe, literals otherwise") {
  CHECK(out([](std::string& s) { appendString(s, "foo"); }) == "\"foo\"");
  CHECK(out([](std::string& s) { appendString(s, ""); }) == "\"\"");
  CHECK(out([](std::string& s) { appendString(s, "a\"b\\c"); }) == "\"a\\\"b\\\\c\"");
  CHECK(out([](std::string& s) { appendString(s, "a\r\nb"); }) == "{4}\r\na\r\nb");
  // A literal never carries NUL (CHAR8 excludes it): 0x80 instead, same size.
  CHECK(out([](std::string& s) { appendString(s, std::string_view("a\0b", 3)); }) == "{3}\r\na\x80" "b");
  CHECK(out([](std::string& s) { appendLiteral(s, std::string_view("\0\0x\0", 4)); }) ==
        "{4}\r\n\x80\x80x\x80");
  CHECK(out([](std::string& s) { appendString(s, "\xc3\xa9"); }) == "{2}\r\n\xc3\xa9");
  CHECK(out([](std::string& s) { appendString(s, "\xc3\xa9", true); }) == "\"\xc3\xa9\"");
  const std::string k1000(1000, 'x'), k1001(1001, 'x');
  CHECK(out([&](std::string& s) { appendString(s, k1000); }) == "\"" + k1000 + "\"");
  CHECK(out([&](std::string& s) { appendString(s, k1001); }) == "{1001}\r\n" + k1001);
  CHECK(canQuote("plain"));
  CHECK_FALSE(canQuote("a\nb", true));
}

TEST_CASE("nstring and astring") {
  CHECK(out([](std::string& s) { appendNString(s, std::nullopt); }) == "NIL");
  CHECK(out([](std::string& s) { appendNString(s, "x"); }) == "\"x\"");
  CHECK(out([](std::string& s) { appendAstring(s, "INBOX"); }) == "INBOX");
  CHECK(out([](std::string& s) { appendAstring(s, "~peter/mail/&U,BTFw-"); }) ==
        "~peter/mail/&U,BTFw-");
  CHECK(out([](std::string& s) { appendAstring(s, "a]b"); }) == "a]b");
  CHECK(out([](std::string& s) { appendAstring(s, "NIL"); }) == "\"NIL\"");
  CHECK(out([](std::string& s) { appendAstring(s, "My Folder"); }) == "\"My Folder\"");
  CHECK(out([](std::string& s) { appendAstring(s, "50%"); }) == "\"50%\"");
  CHECK(out([](std::string& s) { appendAstring(s, ""); }) == "\"\"");
}

TEST_CASE("flags and dates") {
  FlagSet f;
  CHECK(out([&](std::string& s) { appendFlags(s, f); }) == "()");
  f.system = kFlagDraft | kFlagSeen | kFlagRecent;
  f.keywords = {"$Forwarded", "work"};
  CHECK(out([&](std::string& s) { appendFlags(s, f); }) ==
        "(\\Seen \\Draft \\Recent $Forwarded work)");
  CHECK(out([](std::string& s) { appendDateTime(s, 837596665, -420); }) ==
        "\"17-Jul-1996 02:44:25 -0700\"");
}

}  // namespace
}  // namespace postern::imap
