// FETCH attribute parsing and response names.
#include <doctest/doctest.h>

#include "fetch.h"
#include "parser.h"

namespace postern::imap {
namespace {

using Kind = FetchItem::Kind;
using Text = BodySection::Text;

Arg atom(std::string v) {
  Arg a;
  a.value = std::move(v);
  return a;
}

// Parses a whole command line and returns its FETCH attribute argument.
Arg fetchArg(const std::string& line) {
  Parser p;
  p.feed(line);
  ParseEvent ev = p.next();
  REQUIRE(ev.kind == ParseEvent::kCommand);
  REQUIRE(ev.command.args.size() == 2);
  return ev.command.args[1];
}

TEST_CASE("FETCH macros") {
  auto all = parseFetchRequest(atom("all"));
  REQUIRE(all);
  REQUIRE(all->items.size() == 4);
  CHECK(all->items[3].kind == Kind::kEnvelope);
  CHECK(parseFetchRequest(atom("FAST"))->items.size() == 3);
  auto full = parseFetchRequest(atom("FULL"));
  REQUIRE(full->items.size() == 5);
  CHECK(full->items[4].kind == Kind::kBody);
  CHECK_FALSE(full->setsSeen());
  CHECK_FALSE(parseFetchRequest(fetchArg("a FETCH 1 (ALL)\r\n")));
}

TEST_CASE("FETCH simple attributes") {
  struct Row {
    const char* in;
    Kind kind;
    const char* response;
    bool seen;
  };
  const Row rows[] = {
      {"FLAGS", Kind::kFlags, "FLAGS", false},
      {"uid", Kind::kUid, "UID", false},
      {"InternalDate", Kind::kInternalDate, "INTERNALDATE", false},
      {"RFC822.SIZE", Kind::kRfc822Size, "RFC822.SIZE", false},
      {"RFC822", Kind::kRfc822, "RFC822", true},
      {"RFC822.HEADER", Kind::kRfc822Header, "RFC822.HEADER", false},
      {"RFC822.TEXT", Kind::kRfc822Text, "RFC822.TEXT", true},
      {"ENVELOPE", Kind::kEnvelope, "ENVELOPE", false},
      {"BODY", Kind::kBody, "BODY", false},
      {"BODYSTRUCTURE", Kind::kBodyStructure, "BODYSTRUCTURE", false},
  };
  for (const Row& r : rows) {
    CAPTURE(r.in);
    auto it = parseFetchAtt(r.in);
    REQUIRE(it);
    CHECK(it->kind == r.kind);
    CHECK(it->responseName() == r.response);
    CHECK(it->setsSeen() == r.seen);
  }
}

TEST_CASE("FETCH body sections") {
  struct Row {
    const char* in;
    const char* response;
    bool peek;
  };
  const Row rows[] = {
      {"BODY[]", "BODY[]", false},
      {"body.peek[]", "BODY[]", true},
      {"BODY.PEEK[HEADER]", "BODY[HEADER]", true},
      {"BODY[text]", "BODY[TEXT]", false},
      {"BODY[1]", "BODY[1]", false},
      {"BODY[1.2.3]", "BODY[1.2.3]", false},
      {"BODY.PEEK[1.2.MIME]", "BODY[1.2.MIME]", true},
      {"BODY[3.HEADER]", "BODY[3.HEADER]", false},
      {"BODY[4.2.TEXT]", "BODY[4.2.TEXT]", false},
      {"BODY[HEADER.FIELDS (From To)]", "BODY[HEADER.FIELDS (FROM TO)]", false},
      {"BODY.PEEK[header.fields.not (X-Spam \"Received\")]",
       "BODY[HEADER.FIELDS.NOT (X-SPAM RECEIVED)]", true},
      {"BODY[1.HEADER.FIELDS (Subject)]", "BODY[1.HEADER.FIELDS (SUBJECT)]", false},
      {"BODY[]<0.2048>", "BODY[]<0>", false},
      {"BODY.PEEK[TEXT]<100.5>", "BODY[TEXT]<100>", true},
  };
  for (const Row& r : rows) {
    CAPTURE(r.in);
    auto it = parseFetchAtt(r.in);
    REQUIRE(it);
    CHECK(it->kind == Kind::kBodySection);
    CHECK(it->peek == r.peek);
    CHECK(it->setsSeen() == !r.peek);
    CHECK(it->responseName() == r.response);
  }
  auto it = parseFetchAtt("BODY.PEEK[1.2.HEADER.FIELDS (FROM TO)]<0.100>");
  REQUIRE(it);
  CHECK(it->section.part == std::vector<uint32_t>{1, 2});
  CHECK(it->section.text == Text::kHeaderFields);
  CHECK(it->section.fields == std::vector<std::string>{"FROM", "TO"});
  REQUIRE(it->partialOffset);
  CHECK(*it->partialOffset == 0);
  CHECK(it->partialLength == 100);
}

TEST_CASE("FETCH attribute errors") {
  for (const char* bad :
       {"FOO", "BODY.PEEK", "BODYX[]", "RFC822.PEEK", "BODY[MIME]", "BODY[1.]", "BODY[0]",
        "BODY[01]", "BODY[1..2]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
        "BODY[HEADER.FIELDS (A:B)]", "BODY[HEADER.FIELDS (A) x]", "BODY[HEADER.FIELDS A]",
        "BODY[TEXT.MIME]", "BODY[HEADERS]", "BODY[HEADER]x", "BODY[]<0>", "BODY[]<0.0>",
        "BODY[]<a.1>", "BODY[]<1.2", "BODY[", "BODY[1.MIME.TEXT]", "BODY[]<4294967296.1>"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseFetchAtt(bad));
  }
  CHECK(parseFetchAtt("BODY[MIME]").reason() == "Invalid BODY[..] section");
  CHECK_FALSE(parseFetchRequest(fetchArg("a FETCH 1 ()\r\n")));
  CHECK_FALSE(parseFetchRequest(fetchArg("a FETCH 1 (FLAGS \"UID\")\r\n")));
  CHECK_FALSE(parseFetchRequest(fetchArg("a FETCH 1 (FLAGS (UID))\r\n")));
  CHECK_FALSE(parseFetchRequest(fetchArg("a FETCH 1 \"FLAGS\"\r\n")));
}

TEST_CASE("FETCH request from a parsed command line") {
  auto req = parseFetchRequest(
      fetchArg("a FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM \"X-Y\" date)]<0.100> "
               "BODY[1.2.MIME])\r\n"));
  REQUIRE(req);
  REQUIRE(req->items.size() == 4);
  CHECK(req->has(Kind::kUid));
  CHECK_FALSE(req->has(Kind::kEnvelope));
  CHECK(req->items[2].responseName() == "BODY[HEADER.FIELDS (FROM X-Y DATE)]<0>");
  CHECK(req->items[3].responseName() == "BODY[1.2.MIME]");
  CHECK(req->setsSeen());

  auto single = parseFetchRequest(fetchArg("a FETCH 1 BODY.PEEK[]\r\n"));
  REQUIRE(single);
  CHECK_FALSE(single->setsSeen());
}

}  // namespace
}  // namespace postern::imap
