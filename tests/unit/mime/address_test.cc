// RFC 5322 address lists as IMAP address structures.
#include <doctest/doctest.h>

#include "mime/address.h"
#include "writer.h"

using namespace postern::mime;
using postern::Result;

namespace {

std::string render(std::string_view value) {
  std::string out;
  for (const Address& a : parseAddressList(value)) {
    out += '(';
    int k = 0;
    for (const auto* f : {&a.name, &a.route, &a.mailbox, &a.host}) {
      if (k++) out += ' ';
      postern::imap::appendNString(out, *f ? std::optional<std::string_view>(**f) : std::nullopt);
    }
    out += ')';
  }
  return out;
}

struct Case {
  const char* input;
  const char* expected;
};

const Case kCases[] = {
    {"a@b.c", R"x((NIL NIL "a" "b.c"))x"},
    {"Terry Gray <gray@cac.washington.edu>", R"x(("Terry Gray" NIL "gray" "cac.washington.edu"))x"},
    {"\"Gray, Terry\" <gray@x>", R"x(("Gray, Terry" NIL "gray" "x"))x"},
    {"\"a\\\"b\" <c@d>", R"x(("a\"b" NIL "c" "d"))x"},
    {"minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>",
     R"x((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU"))x"},
    {"user@host (Real Name)", R"x(("Real Name" NIL "user" "host"))x"},
    {"John Q. Public <jqp@x.org>", R"x(("John Q. Public" NIL "jqp" "x.org"))x"},
    {"<@route1,@route2:user@host>", R"x((NIL "@route1,@route2" "user" "host"))x"},
    {"\"quoted local\"@x", R"x((NIL NIL "quoted local" "x"))x"},
    {"a . b @ x . y", R"x((NIL NIL "a.b" "x.y"))x"},
    {"u@[1.2.3.4]", R"x((NIL NIL "u" "[1.2.3.4]"))x"},
    {"undisclosed-recipients:;", R"x((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))x"},
    {"Friends: a@b, Joe <c@d>;, e@f",
     R"x((NIL NIL "Friends" NIL)(NIL NIL "a" "b")("Joe" NIL "c" "d")(NIL NIL NIL NIL)(NIL NIL "e" "f"))x"},
    {"Unterminated: a@b", R"x((NIL NIL "Unterminated" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))x"},
    {"user", R"x((NIL NIL "user" "MISSING_DOMAIN"))x"},
    {"<>", R"x((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))x"},
    {"Name <user@host", R"x(("Name" NIL "user" "host"))x"},
    {"Name <user", R"x(("Name" NIL "user" "SYNTAX_ERROR"))x"},
    {"=?utf-8?q?J=C3=B6rg?= <j@x>", R"x(("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x"))x"},
    {"Friends: a@b; e@f", R"x((NIL NIL "Friends" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))x"},  // as Dovecot: the list ends without ","
    {",,a@b,,", R"x((NIL NIL "a" "b"))x"},
    {"a@b junk junk, c@d", R"x((NIL NIL "a" "b")(NIL NIL "c" "d"))x"},
    {"", ""},
    {"   ", ""},
};

}  // namespace

TEST_CASE("address: lists, groups, routes and broken addresses") {
  for (const Case& c : kCases) {
    CAPTURE(c.input);
    CHECK(render(c.input) == c.expected);
  }
}

TEST_CASE("address: garbage never loops or crashes") {
  const char* junk[] = {"<<<>>>", "@@@", ":::;;;", "\"unterminated", "(unterminated comment", "a@", "@b",
                        "<@a:>", "x:y:z;", "\\", "a@b@c", ";", ">"};
  for (const char* j : junk) {
    CAPTURE(j);
    parseAddressList(j);
  }
}

TEST_CASE("address: envelope defaults Sender and Reply-To to From, first header wins") {
  Envelope e = parseEnvelope("From: a@b\r\nReply-To:\r\nTo: x@y\r\nTo: z@w\r\nSubject:\r\n\r\n");
  REQUIRE(e.from.size() == 1);
  CHECK(e.sender == e.from);
  CHECK(e.replyTo == e.from);
  REQUIRE(e.to.size() == 1);
  CHECK(*e.to[0].mailbox == "x");
  CHECK(e.subject == std::optional<std::string>(""));
  CHECK(!e.date);
  CHECK(!e.messageId);
}
