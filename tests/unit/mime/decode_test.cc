// SEARCH decoding: RFC 2047 words, transfer encodings, charsets, matching.
#include <doctest/doctest.h>

#include "mime/decode.h"
#include "mime_test_util.h"

using namespace postern::mime;
using postern::Result;
using postern::mime::test::crlf;
using postern::mime::test::toLf;

TEST_CASE("decode: RFC 2047 section 8 examples") {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"(=?ISO-8859-1?Q?a?=)", "(a)"},
      {"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"},
      {"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld J\xc3\xb8rn Simonsen"},
      {"=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"},
      {"=?UTF-8?B?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f" "e"},
      {"=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9"},  // a character split across words
      {"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"},
      {"=?windows-1252?q?=80?=", "\xe2\x82\xac"},
      {"x=?utf-8?q?y?=z", "xyz"},
      {"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
      {"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"},
      {"=?x-no-such-charset?q?abc?=", "abc"},
      {"=?utf-8?q?bad=ZZ?=", "bad=ZZ"},
      {"raw 8-bit caf\xe9", "raw 8-bit caf\xc3\xa9"},
      {"raw utf-8 caf\xc3\xa9", "raw utf-8 caf\xc3\xa9"},
      {"", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(decodeHeader(c.in) == c.out);
  }
}

TEST_CASE("decode: a value full of unterminated words stays linear") {
  std::string v;
  for (int i = 0; i < 20000; ++i) v += "=?utf-8?q?abc";
  CHECK(decodeHeader(v) == v);
}

TEST_CASE("decode: transfer encodings") {
  CHECK(decodeBase64("SGVs\r\nbG8=") == "Hello");
  CHECK(decodeBase64("SGVsbG8") == "Hello");
  CHECK(decodeBase64("S*G!V s b G 8 =") == "Hello");
  CHECK(decodeQuotedPrintable("caf=C3=A9 =\r\nnext") == "caf\xc3\xa9 next");
  CHECK(decodeQuotedPrintable("soft=\nbreak") == "softbreak");
  CHECK(decodeQuotedPrintable("a=3d=3Db") == "a==b");
  CHECK(decodeQuotedPrintable("bad =ZZ and =") == "bad =ZZ and ");
  CHECK(decodeQuotedPrintable("trailing   \r\nx") == "trailing\r\nx");
  CHECK(decodeTransfer("abc", "7bit") == "abc");
  CHECK(decodeTransfer("YWJj", "BASE64") == "abc");
}

TEST_CASE("decode: charsets") {
  CHECK(toUtf8("caf\xe9", "iso-8859-1") == std::optional<std::string>("caf\xc3\xa9"));
  CHECK(toUtf8("\x80", "Windows-1252") == std::optional<std::string>("\xe2\x82\xac"));
  CHECK(toUtf8("\xcf\xf0\xe8", "koi8-r").has_value());
  CHECK(!toUtf8("x", "no-such-charset").has_value());
  CHECK(toUtf8("a\xffz", "utf-8") == std::optional<std::string>("a\xc3\xbfz"));  // not UTF-8: Latin-1
  CHECK(toUtf8("a\xa4z", "euc-jp") == std::optional<std::string>("a\xef\xbf\xbdz"));  // broken: U+FFFD
  CHECK(decodeParam({"filename*", "utf-8''%E2%82%AC.txt"}) == "\xe2\x82\xac.txt");
  CHECK(decodeParam({"filename*", "iso-8859-1'fr'caf%E9"}) == "caf\xc3\xa9");
  CHECK(decodeParam({"filename", "=?utf-8?b?4oKs?=.txt"}) == "\xe2\x82\xac.txt");
}

TEST_CASE("decode: case-insensitive matching") {
  CHECK(containsText("Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\x96LN", "k\xc3\xb6ln"));
  CHECK(containsText("\xce\x91\xce\x92\xce\x93", "\xce\xb1\xce\xb2\xce\xb3"));  // Greek
  CHECK(containsText("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "\xd0\x9f\xd0\xa0\xd0\x98"));  // Cyrillic
  CHECK(containsText("HELLO", "hello"));
  CHECK(containsText("abc", ""));
  CHECK(!containsText("abc", "abd"));
  CHECK(foldCase("\xc5\x81\xc3\x93" "D\xc5\xb9") == "\xc5\x82\xc3\xb3" "d\xc5\xba");  // Latin Extended-A
  // Same length as the input, invalid octets kept, ASCII runs longer than a word.
  CHECK(foldCase("ABCDEFGHIJKLMNOPQRSTUVWXYZ \xff\xc3 \xc3\x84" "BC\xe2\x82\xac") ==
        "abcdefghijklmnopqrstuvwxyz \xff\xc3 \xc3\xa4" "bc\xe2\x82\xac");
  CHECK(foldCase("\xc5\xb8") == "\xc3\xbf");  // U+0178 -> U+00FF, both two octets
  CHECK(foldCase("") == "");
}

TEST_CASE("decode: header and body search over a MIME message") {
  std::string m = crlf(
      "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from home\nFrom: x@y\n"
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\n"
      "Content-Transfer-Encoding: quoted-printable\n\nCaf=E9 au lait\n--b\nContent-Type: text/html\n"
      "Content-Transfer-Encoding: base64\n\nPGI+SGVsbG8gV29ybGQ8L2I+\n--b\n"
      "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nc2VjcmV0\n--b\n"
      "Content-Type: message/rfc822\n\nSubject: =?utf-8?q?inner_t=C3=B6pic?=\n\ninner body\n--b--\n");
  for (const std::string& msg : {m, toLf(m)}) {
    Structure s = parse(msg);
    std::string_view header = *section(msg, s, {}, SectionText::kHeader);
    CHECK(headerContains(header, "subject", "GR\xc3\x9c\xc3\x9f" "E"));
    CHECK(headerContains(header, "Subject", ""));
    CHECK(!headerContains(header, "Cc", ""));
    CHECK(headerContains(header, "", "from: x@y"));
    CHECK(bodyContains(msg, s, "CAF\xc3\x89"));
    CHECK(bodyContains(msg, s, "hello world"));
    CHECK(!bodyContains(msg, s, "secret"));  // not a text part
    CHECK(bodyContains(msg, s, "inner T\xc3\x96PIC"));
    CHECK(bodyContains(msg, s, "inner body"));
    CHECK(!bodyContains(msg, s, "not there"));
  }
}
