// ENVELOPE, BODY and BODYSTRUCTURE bytes (RFC 3501 7.4.2 and its examples).
#include <doctest/doctest.h>

#include "bodystructure.h"
#include "mime_test_util.h"

using namespace postern::mime;
using postern::Result;
using postern::mime::test::bs;
using postern::mime::test::crlf;
using postern::mime::test::env;
using postern::mime::test::toLf;

namespace {

// A body of exactly `octets` octets in `lines` CRLF-terminated lines.
std::string bodyOf(size_t octets, size_t lines) {
  size_t text = octets - 2 * lines;
  std::string out;
  for (size_t i = 0; i < lines; ++i) {
    size_t n = text / lines + (i < text % lines ? 1 : 0);
    out += std::string(n, 'a' + static_cast<char>(i % 26));
    out += "\r\n";
  }
  return out;
}

const char* kRfcHeader =
    "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
    "From: Terry Gray <gray@cac.washington.edu>\n"
    "Subject: IMAP4rev1 WG mtg summary and minutes\n"
    "To: imap@cac.washington.edu\n"
    "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n"
    "Message-Id: <B27397-0100000@cac.washington.edu>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n";

}  // namespace

TEST_CASE("bodystructure: RFC 3501 section 8 example (FETCH 12 FULL)") {
  std::string m = crlf(kRfcHeader) + bodyOf(3028, 92);
  REQUIRE(m.size() - crlf(kRfcHeader).size() == 3028);
  CHECK(crlf(kRfcHeader).size() == 342);  // BODY[HEADER] {342} in the RFC
  // The RFC's line break between the two cc addresses is editorial: the
  // formal syntax (env-cc = "(" 1*address ")") has no space there.
  const char* wantEnv =
      R"x(("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" )x"
      R"x((("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) )x"
      R"x((("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) )x"
      R"x(((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL )x"
      R"x("<B27397-0100000@cac.washington.edu>"))x";
  // "7bit" where the RFC shows "7BIT": the message has no
  // Content-Transfer-Encoding, and defaults are lower case (as Dovecot).
  const char* wantBody = R"x(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 3028 92))x";
  for (const std::string& msg : {m, toLf(m)}) {
    CHECK(env(msg) == wantEnv);
    CHECK(bs(msg, false) == wantBody);
  }
}

TEST_CASE("bodystructure: RFC 3501 7.4.2 multipart example") {
  std::string m = crlf("Content-Type: MULTIPART/MIXED; BOUNDARY=\"x\"\n\n--x\n"
                       "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\nContent-Transfer-Encoding: 7BIT\n\n") +
                  bodyOf(1152, 23) +
                  crlf("\n--x\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n"
                       "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
                       "Content-Description: Compiler diff\nContent-Transfer-Encoding: BASE64\n\n") +
                  bodyOf(4554, 73) + crlf("\n--x--\n");
  const char* want =
      R"x((("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" )x"
      R"x("cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED"))x";
  CHECK(bs(m, false) == want);
  CHECK(bs(toLf(m), false) == want);
  CHECK(bs(m, true) ==
        R"x((("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)("TEXT" "PLAIN" )x"
        R"x(("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" )x"
        R"x("BASE64" 4554 73 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "x") NIL NIL NIL))x");
}

TEST_CASE("envelope: NIL and empty-string rules") {
  // Absent: NIL. Present but empty: "" for date/subject/in-reply-to/message-id,
  // NIL for address lists; Sender and Reply-To default to From.
  CHECK(env(crlf("X: y\n\n")) == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  CHECK(env(crlf("Date:\nSubject:\nFrom:\nTo:\nIn-Reply-To:\nMessage-ID:\n\n")) ==
        R"x(("" "" NIL NIL NIL NIL NIL NIL "" ""))x");
  CHECK(env(crlf("From: a@b\nSender: s@t\nReply-To: \n\n")) ==
        R"x((NIL NIL ((NIL NIL "a" "b")) ((NIL NIL "s" "t")) ((NIL NIL "a" "b")) NIL NIL NIL NIL NIL))x");
  CHECK(env(crlf("Subject: folded\n  line\n\n")) == R"x((NIL "folded  line" NIL NIL NIL NIL NIL NIL NIL NIL))x");
  CHECK(env(crlf("Subject: a \"quoted\" \\ back\n\n")) ==
        R"x((NIL "a \"quoted\" \\ back" NIL NIL NIL NIL NIL NIL NIL NIL))x");
  std::string longSubject(1200, 's');
  CHECK(env(crlf("Subject: " + longSubject + "\n\n")) ==
        "(NIL {1200}\r\n" + longSubject + " NIL NIL NIL NIL NIL NIL NIL NIL)");
  CHECK(env(crlf("To: undisclosed-recipients:;\n\n")) ==
        R"x((NIL NIL NIL NIL NIL ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL))x");
}

TEST_CASE("bodystructure: message/rfc822 carries envelope, body and lines") {
  std::string m = crlf("Content-Type: message/rfc822\nContent-Description: fwd\n\n"
                       "From: a@b\nSubject: in\nContent-Type: text/plain; charset=utf-8\n\nline1\nline2\n");
  CHECK(bs(m, false) ==
        R"x(("message" "rfc822" NIL NIL "fwd" "7bit" 81 (NIL "in" ((NIL NIL "a" "b")) ((NIL NIL "a" "b")) )x"
        R"x(((NIL NIL "a" "b")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 14 2) 6))x");
}

TEST_CASE("renderAll / parseRendered: three lengthed strings, anything else refused") {
  std::string m = crlf("Subject: x\nContent-Type: text/plain\n\nbody\n");
  std::string all = postern::imap::renderAll(parse(m));
  auto r = postern::imap::parseRendered(all);
  REQUIRE(r.has_value());
  CHECK(r->bodystructure == bs(m, true));
  CHECK(r->body == bs(m, false));
  CHECK(r->envelope == env(m));
  CHECK_FALSE(postern::imap::parseRendered(""));
  CHECK_FALSE(postern::imap::parseRendered(all + "x"));                  // trailing bytes
  CHECK_FALSE(postern::imap::parseRendered(all.substr(0, all.size() - 1)));  // cut short
  CHECK_FALSE(postern::imap::parseRendered(std::string("\xff\xff\xff\xff", 4) + all));  // length past the end
  std::string not_lists = std::string("\0\0\0\1x\0\0\0\1y\0\0\0\1z", 15);
  CHECK_FALSE(postern::imap::parseRendered(not_lists));
  // Only some parts: the others empty, and still a valid value.
  auto env_only = postern::imap::selectRendered(all, postern::imap::kRenderedEnvelope);
  REQUIRE(env_only.has_value());
  auto e = postern::imap::parseRendered(*env_only);
  REQUIRE(e.has_value());
  CHECK(e->envelope == env(m));
  CHECK(e->bodystructure.empty());
  CHECK(e->body.empty());
  auto two = postern::imap::selectRendered(all, postern::imap::kRenderedBody | postern::imap::kRenderedBodyStructure);
  REQUIRE(two.has_value());
  CHECK(postern::imap::parseRendered(*two)->body == bs(m, false));
  CHECK(postern::imap::parseRendered(*two)->envelope.empty());
  CHECK(postern::imap::selectRendered(all, postern::imap::kRenderedAll) == all);
  CHECK_FALSE(postern::imap::selectRendered("garbage", postern::imap::kRenderedBody));
  // Every truncation of a real value is refused, none crashes.
  for (size_t i = 0; i < all.size(); ++i) CHECK_FALSE(postern::imap::parseRendered(all.substr(0, i)));
}
