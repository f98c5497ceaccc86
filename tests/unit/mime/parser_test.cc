// Structure parsing: every case runs with CRLF and with bare LF line ends;
// octet counts are the CRLF size either way (bare LF counts as two).
#include <doctest/doctest.h>

#include "mime/mime.h"
#include "mime_test_util.h"

using namespace postern::mime;
using postern::Result;
using postern::mime::test::bs;
using postern::mime::test::crlf;
using postern::mime::test::toLf;

namespace {

struct Case {
  const char* name;
  const char* msg;  // written with \n, sent as CRLF and as bare LF
  const char* bodystructure;
};

const Case kCases[] = {
    {"no MIME headers: text/plain us-ascii defaults", "From: a@b.c\nSubject: hi\n\nhello\n",
     R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL))x"},
    {"no header at all", "\nbody\n", R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL))x"},
    {"no blank line: everything is header", "Subject: x\nY: z\n",
     R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL))x"},
    {"case kept as written, extension fields",
     "Content-Type: TEXT/Html; Charset=\"ISO-8859-1\"; format=flowed (comment)\n"
     "Content-Transfer-Encoding: Quoted-Printable\nContent-ID: <id@x>\nContent-Description: A  desc\n"
     "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Disposition: inline; filename=\"a b.html\"\n"
     "Content-Language: en, de-CH\nContent-Location: http://x/y\n\n<p>\n",
     R"x(("TEXT" "Html" ("Charset" "ISO-8859-1" "format" "flowed") "<id@x>" "A  desc" "Quoted-Printable" 5 1 )x"
     R"x("Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("filename" "a b.html")) ("en" "de-CH") "http://x/y"))x"},
    {"duplicate Content-* headers: the first wins",
     "Content-Type: image/png\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n"
     "Content-Transfer-Encoding: 8bit\n\nAAAA\n",
     R"x(("image" "png" NIL NIL NIL "base64" 6 NIL NIL NIL NIL))x"},
    {"type without subtype", "Content-Type: application\n\nx",
     R"x(("application" "unknown" NIL NIL NIL "7bit" 1 NIL NIL NIL NIL))x"},
    {"unparsable Content-Type is ignored", "Content-Type: ;;;\n\nx",
     R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL))x"},
    {"multipart without boundary is shown as text", "Content-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n",
     R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 18 4 NIL NIL NIL NIL))x"},
    {"nested multiparts with prefix boundaries, message/rfc822, preamble, epilogue",
     "Content-Type: multipart/mixed; boundary=\"outer\"\n\npreamble\n--outer\nContent-Type: text/plain\n\none\n"
     "--outer\nContent-Type: multipart/alternative; boundary=outerinner\n\n--outerinner\n"
     "Content-Type: text/plain; charset=utf-8\n\ntwo\n--outerinner\nContent-Type: text/html\n\n<b>three</b>\n"
     "--outerinner--\n--outer\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: x@y.z\n\nfour\n"
     "--outer--\nepilogue\n",
     R"x((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 12 0 NIL NIL NIL NIL) "alternative" ("boundary" "outerinner") NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 35 (NIL "inner" ((NIL NIL "x" "y.z")) ((NIL NIL "x" "y.z")) ((NIL NIL "x" "y.z")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL))x"},
    {"inner boundary longer than the outer one, outer used after inner close is missing",
     "Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/related; boundary=abc\n\n"
     "--abc\n\nx\n--ab\n\ny\n--ab--\n",
     R"x(((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "related" ("boundary" "abc") NIL NIL NIL))x"
     R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "mixed" ("boundary" "ab") NIL NIL NIL))x"},
    {"missing close delimiter: the last part runs to the end",
     "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\n--b\n\nB\n",
     R"x((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL))x"},
    {"no boundary line at all: one empty text/plain part, as Dovecot",
     "Content-Type: multipart/mixed; boundary=b\n\nnothing here\n",
     R"x((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL))x"},
    {"boundary lines with trailing blanks and junk",
     "Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\nA\n--b junk\n\nB\n--b--  \n",
     R"x((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL))x"},
    {"part header ended by a boundary line (no blank line, no body)",
     "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b--\n",
     R"x((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL))x"},
    {"multipart/digest parts default to message/rfc822",
     "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nx\n--d--\n",
     R"x((("message" "rfc822" NIL NIL NIL "7bit" 15 (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL))x"},
    {"RFC 2231 continuations and charset",
     "Content-Type: application/pdf; name*0=\"a\"; name*1=\"b.pdf\"\n"
     "Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=\"%.txt\"\n\nx",
     R"x(("application" "pdf" ("name" "ab.pdf") NIL NIL "7bit" 1 NIL ("attachment" ("filename*" "utf-8''%E2%82%AC%25.txt")) NIL NIL))x"},
};

}  // namespace

TEST_CASE("parser: BODYSTRUCTURE of tricky messages, CRLF and bare LF") {
  for (const Case& c : kCases) {
    CAPTURE(c.name);
    std::string m = crlf(c.msg);
    CHECK(bs(m) == c.bodystructure);
    CHECK(bs(toLf(m)) == c.bodystructure);
  }
}

TEST_CASE("parser: offsets of header and body") {
  for (bool lf : {false, true}) {
    std::string m = crlf("A: b\n\nxy\n");
    if (lf) m = toLf(m);
    Structure s = parse(m);
    CHECK(s.root.header.start == 0);
    CHECK(m.substr(s.root.header.start, s.root.header.size()) == (lf ? "A: b\n\n" : "A: b\r\n\r\n"));
    CHECK(m.substr(s.root.body.start, s.root.body.size()) == (lf ? "xy\n" : "xy\r\n"));
    CHECK(s.root.bodyOctets == 4);
    CHECK(s.root.bodyLines == 1);
  }
}

TEST_CASE("parser: multipart nesting bomb stops at the depth limit") {
  std::string m;
  const int n = 300;
  for (int i = 0; i < n; ++i) {
    m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  }
  m += "\r\nleaf\r\n";
  for (int i = n - 1; i >= 0; --i) m += "--b" + std::to_string(i) + "--\r\n";
  for (const std::string& msg : {m, toLf(m)}) {
    Structure s = parse(msg);
    int depth = 0;
    const Part* p = &s.root;
    while (!p->children.empty()) {
      p = &p->children[0];
      ++depth;
    }
    CHECK(depth == kMaxDepth);
    CHECK(p->isType("application", "octet-stream"));
    CHECK(bs(msg).find(R"x("application" "octet-stream")x") != std::string::npos);
  }
}

TEST_CASE("parser: message/rfc822 nesting bomb stops at the depth limit") {
  std::string m;
  for (int i = 0; i < 5000; ++i) m += "Content-Type: message/rfc822\r\n\r\n";
  m += "end\r\n";
  Structure s = parse(m);
  int depth = 0;
  for (const Part* p = &s.root; !p->children.empty(); p = &p->children[0]) ++depth;
  CHECK(depth == kMaxDepth);
  std::string out = bs(m);
  CHECK(out.find(R"x("application" "octet-stream")x") != std::string::npos);
}

TEST_CASE("parser: part count limit") {
  std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (size_t i = 0; i < kMaxParts + 50; ++i) m += "--b\r\n\r\nx\r\n";
  m += "--b--\r\n";
  Structure s = parse(m);
  CHECK(s.root.children.size() == kMaxParts - 1);  // the root counts too
}

TEST_CASE("parser: 10 MB header line") {
  std::string m = "Subject: " + std::string(10 * 1024 * 1024, 'x') + "\r\nContent-Type: text/html\r\n\r\nbody\r\n";
  for (const std::string& msg : {m, toLf(m)}) {
    Structure s = parse(msg);
    REQUIRE(s.root.envelope);
    CHECK(s.root.envelope->subject->size() == kMaxValue);
    CHECK(s.root.isType("text", "html"));
    CHECK(s.root.bodyOctets == 6);
  }
}

TEST_CASE("parser: 8-bit and NUL octets in headers") {
  std::string m = crlf("Subject: Gr\xc3\xbc\xc3\x9f" "e\nContent-Description: a#b\n\nx");
  m[m.find('#')] = '\0';
  Structure s = parse(m);
  CHECK(*s.root.envelope->subject == "Gr\xc3\xbc\xc3\x9f" "e");
  CHECK(*s.root.description == "ab");  // NUL cannot go out in IMAP4rev1 strings
  CHECK(bs(m, false) == "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"ab\" \"7bit\" 1 0)");
  CHECK(postern::mime::test::env(m) ==
        "(NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("parser: never fails on arbitrary octets") {
  uint32_t seed = 12345;
  auto rnd = [&]() { return seed = seed * 1103515245u + 12345u; };
  const std::string alphabet = "\r\n-:; =\"abB\x80\xff\tContent-Type multipart/mixed boundary message/rfc822";
  for (int round = 0; round < 300; ++round) {
    std::string m;
    size_t len = rnd() % 2000;
    for (size_t i = 0; i < len; ++i) m += alphabet[(rnd() >> 8) % alphabet.size()];
    Structure s = parse(m);
    CHECK(s.root.envelope.has_value());
    CHECK(s.root.body.end <= m.size());
    Result<Structure> back = deserialise(serialise(s));
    REQUIRE(back.ok());
    CHECK(*back == s);
  }
}

namespace {

// Every part lies inside its parent's body, after its previous sibling.
void checkNested(const Part& p, Range outer) {
  CHECK(p.header.start >= outer.start);
  CHECK(p.header.end <= p.body.start);
  CHECK(p.body.end <= outer.end);
  uint64_t prev = p.body.start;
  for (const auto& c : p.children) {
    CHECK(c.header.start >= prev);
    prev = c.body.end;
    checkNested(c, p.body);
  }
}

}  // namespace

TEST_CASE("mime parse: parts cut short by an outer boundary stay inside their parents") {
  // A header ended by the outer close delimiter (no blank line): the CRLF
  // before the delimiter belongs to it, not to the inner part's header.
  std::string a = crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
                       "Content-Type: multipart/mixed; boundary=i\n\n--i\nX: y\n--o--\n");
  Structure sa = parse(a);
  checkNested(sa.root, Range{0, a.size()});
  const Part& leaf = sa.root.children.at(0).children.at(0);
  CHECK(a.substr(leaf.header.start, leaf.header.size()) == "X: y");
  // A delimiter directly followed by an outer boundary: an empty last part
  // at the outer boundary, and every enclosing body still holds it (found
  // by the MIME fuzz target, with 60 nested levels and prefix boundaries).
  std::string b = crlf("Content-Type: multipart/mixed; boundary=b5\n\n--b5\n"
                       "Content-Type: multipart/mixed; boundary=b50\n\n--b50\n\nx\n--b50--\n--b5--\n");
  Structure sb = parse(b);
  checkNested(sb.root, Range{0, b.size()});
  // The nested(60) fuzz seed.
  std::string deep;
  for (int i = 0; i < 60; ++i)
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  deep += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  for (int i = 59; i >= 0; --i) deep += "--b" + std::to_string(i) + "--\r\n";
  Structure sd = parse(deep);
  checkNested(sd.root, Range{0, deep.size()});
}
