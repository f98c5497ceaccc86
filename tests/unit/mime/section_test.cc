// BODY[section] by offsets (RFC 3501 6.4.5), CRLF and bare LF.
#include <doctest/doctest.h>

#include "mime/mime.h"
#include "mime_test_util.h"

using namespace postern::mime;
using postern::Result;
using postern::mime::test::crlf;
using postern::mime::test::toLf;

namespace {

const char* kMsg =
    "Subject: top\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
    "preamble\n--outer\nContent-Type: text/plain\n\none\n"
    "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\n"
    "Content-Type: text/plain\n\ntwo\n--inner\nContent-Type: text/html\n\n<b>three</b>\n"
    "--inner--\n--outer\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: x@y.z\n\nfour\n"
    "--outer\nContent-Type: message/rfc822\n\nSubject: multi\nContent-Type: multipart/mixed; boundary=m\n\n"
    "--m\n\nfive\n--m\nContent-Type: image/gif\n\nGIF\n--m--\n"
    "--outer--\nepilogue\n";

struct Case {
  std::vector<uint32_t> part;
  SectionText text;
  std::optional<const char*> expected;  // written with \n
};

const Case kCases[] = {
    {{1}, SectionText::kNone, "one"},
    {{1}, SectionText::kMime, "Content-Type: text/plain\n\n"},
    {{1, 1}, SectionText::kNone, "one"},
    {{2}, SectionText::kNone,
     "--inner\nContent-Type: text/plain\n\ntwo\n--inner\nContent-Type: text/html\n\n<b>three</b>\n--inner--"},
    {{2, 1}, SectionText::kNone, "two"},
    {{2, 2}, SectionText::kNone, "<b>three</b>"},
    {{2, 2}, SectionText::kMime, "Content-Type: text/html\n\n"},
    {{3}, SectionText::kNone, "Subject: inner\nFrom: x@y.z\n\nfour"},
    {{3}, SectionText::kHeader, "Subject: inner\nFrom: x@y.z\n\n"},
    {{3}, SectionText::kText, "four"},
    {{3, 1}, SectionText::kNone, "four"},
    {{3, 1}, SectionText::kMime, "Subject: inner\nFrom: x@y.z\n\n"},
    {{4, 1}, SectionText::kNone, "five"},
    {{4, 2}, SectionText::kNone, "GIF"},
    {{4, 2}, SectionText::kMime, "Content-Type: image/gif\n\n"},
    {{4}, SectionText::kText, "--m\n\nfive\n--m\nContent-Type: image/gif\n\nGIF\n--m--"},
    {{5}, SectionText::kNone, std::nullopt},
    {{0}, SectionText::kNone, std::nullopt},
    {{2, 3}, SectionText::kNone, std::nullopt},
    {{1}, SectionText::kHeader, std::nullopt},  // not a message/rfc822 part
    {{1}, SectionText::kText, std::nullopt},
    {{1, 2}, SectionText::kNone, std::nullopt},
    {{4, 3}, SectionText::kNone, std::nullopt},
    {{}, SectionText::kMime, std::nullopt},
};

}  // namespace

TEST_CASE("section: part numbers to any depth, through message/rfc822") {
  for (bool lf : {false, true}) {
    std::string m = crlf(kMsg);
    if (lf) m = toLf(m);
    Structure s = parse(m);
    for (const Case& c : kCases) {
      std::string path;
      for (uint32_t n : c.part) path += std::to_string(n) + ".";
      CAPTURE(path);
      CAPTURE(static_cast<int>(c.text));
      CAPTURE(lf);
      std::optional<std::string_view> got = section(m, s, c.part, c.text);
      if (!c.expected) {
        CHECK(!got);
      } else {
        REQUIRE(got);
        std::string want = crlf(*c.expected);
        if (lf) want = toLf(want);
        CHECK(*got == want);
      }
    }
    CHECK(section(m, s, {}, SectionText::kNone) == std::optional<std::string_view>(m));
    CHECK(section(m, s, {}, SectionText::kHeader)->substr(0, 12) == "Subject: top");
    CHECK(section(m, s, {}, SectionText::kText)->substr(0, 8) == "preamble");
  }
}

TEST_CASE("section: part 1 of a non-multipart message is its body") {
  std::string m = crlf("Subject: x\n\nbody\n");
  Structure s = parse(m);
  CHECK(*section(m, s, {1}, SectionText::kNone) == "body\r\n");
  CHECK(*section(m, s, {1}, SectionText::kMime) == "Subject: x\r\n\r\n");
  CHECK(!section(m, s, {2}, SectionText::kNone));
  CHECK(!section(m, s, {1}, SectionText::kHeader));
}

TEST_CASE("section: a structure that does not fit the message gives nullopt") {
  std::string m = crlf("Subject: x\n\nbody\n");
  Structure s = parse(m);
  CHECK(!section(m.substr(0, 10), s, {1}, SectionText::kNone));
  CHECK(!section(m.substr(0, 10), s, {}, SectionText::kText));
}

TEST_CASE("section: HEADER.FIELDS and HEADER.FIELDS.NOT") {
  std::string h = crlf("From: a\nSubject: long\n continued\nX-Other: y\nfrom: b\n\n");
  CHECK(headerFields(h, {"FROM"}, false) == crlf("From: a\nfrom: b\n\n"));
  CHECK(headerFields(h, {"subject", "X-OTHER"}, false) == crlf("Subject: long\n continued\nX-Other: y\n\n"));
  CHECK(headerFields(h, {"FROM"}, true) == crlf("Subject: long\n continued\nX-Other: y\n\n"));
  CHECK(headerFields(h, {"NOPE"}, false) == "\r\n");
  CHECK(headerFields("Subject: no line end", {"SUBJECT"}, false) == "Subject: no line end\r\n\r\n");
}
