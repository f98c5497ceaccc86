// IMAP command tokeniser: every table case is run with the whole input fed
// at once, in 7-byte pieces and one byte at a time, and must give the same
// events each way.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "parser.h"

namespace postern::imap {
namespace {

std::string render(const Arg& a) {
  switch (a.type) {
    case Arg::kAtom: return a.value;
    case Arg::kNil: return "NIL";
    case Arg::kQuoted: return "q:" + a.value;
    case Arg::kLiteral: {
      std::string s = std::string(a.literal8 ? "~" : "") + "{" + std::to_string(a.value.size()) + "}";
      return s + (a.value.size() <= 32 ? a.value : "...");
    }
    case Arg::kList: {
      std::string s = "(";
      for (size_t i = 0; i < a.list.size(); ++i) s += (i ? " " : "") + render(a.list[i]);
      return s + ")";
    }
  }
  return "?";
}

std::string render(const ParseEvent& ev) {
  switch (ev.kind) {
    case ParseEvent::kNeedMore: return "more";
    case ParseEvent::kNeedContinuation: return "+";
    case ParseEvent::kCommand: {
      std::string s = ev.command.tag + " " + ev.command.name;
      for (const Arg& a : ev.command.args) s += " " + render(a);
      return s;
    }
    case ParseEvent::kError:
      return "ERR " + ev.error.tag + " " + ev.error.reason + (ev.error.fatal ? " [fatal]" : "");
  }
  return "?";
}

std::vector<std::string> run(const std::string& input, size_t chunk, const ParserLimits& lim,
                             bool expectIdle = true) {
  Parser p(lim);
  std::vector<std::string> out;
  for (size_t i = 0; i < input.size(); i += chunk) {
    p.feed(std::string_view(input).substr(i, chunk));
    for (;;) {
      ParseEvent ev = p.next();
      if (ev.kind == ParseEvent::kNeedMore) break;
      out.push_back(render(ev));
      if (ev.kind == ParseEvent::kError && ev.error.fatal) return out;
    }
  }
  if (expectIdle) CHECK(p.idle());
  return out;
}

struct Case {
  const char* name;
  std::string input;
  std::vector<std::string> expect;
  ParserLimits limits = {};
};

ParserLimits smallLine() {
  ParserLimits l;
  l.maxLineLength = 32;
  return l;
}

ParserLimits smallAppend() {
  ParserLimits l;
  l.maxAppendLiteral = 100;
  l.maxLiteral = 10;
  return l;
}

ParserLimits smallCommand() {
  ParserLimits l;
  l.maxCommandSize = 200;
  return l;
}

const std::string kBig(70000, 'x');

std::vector<Case> cases() {
  return {
      {"simple", "a1 NOOP\r\n", {"a1 NOOP"}},
      {"bare LF and lower-case name", "a1 noop\n", {"a1 NOOP"}},
      {"args keep their case", "a1 uid fetch 1:* flags\r\n", {"a1 UID fetch 1:* flags"}},
      {"trailing space tolerated", "a1 NOOP \r\n", {"a1 NOOP"}},
      {"pipelined", "a NOOP\r\nb CHECK\r\n", {"a NOOP", "b CHECK"}},
      {"blank lines ignored", "\r\n\nA1 NOOP\r\n", {"A1 NOOP"}},
      {"tag may contain ]", "a]1 NOOP\r\n", {"a]1 NOOP"}},
      {"quoted with escapes", "A2 LOGIN \"fred\" \"a\\\"b\\\\c\"\r\n",
       {"A2 LOGIN q:fred q:a\"b\\c"}},
      {"empty quoted", "A2 X \"\"\r\n", {"A2 X q:"}},
      {"8-bit in quoted accepted", "A2 X \"\xc3\xa9t\xc3\xa9\"\r\n", {"A2 X q:\xc3\xa9t\xc3\xa9"}},
      {"nested lists", "A3 STORE 1 +FLAGS (\\Seen (a (b)) ())\r\n",
       {"A3 STORE 1 +FLAGS (\\Seen (a (b)) ())"}},
      {"NIL in any case", "A4 X NIL nil \"NIL\" NILS\r\n", {"A4 X NIL NIL q:NIL NILS"}},
      {"wildcards in atoms", "A4 LIST \"\" %/*\r\n", {"A4 LIST q: %/*"}},
      {"tilde atom", "A1 SELECT ~peter/mail\r\n", {"A1 SELECT ~peter/mail"}},
      {"synchronising literals", "A5 LOGIN {4}\r\nfred {3}\r\nabc\r\n",
       {"+", "+", "A5 LOGIN {4}fred {3}abc"}},
      {"empty literal", "A5 X {0}\r\n\r\n", {"+", "A5 X {0}"}},
      {"literal keeps CRLF and NUL", std::string("A5 X {5+}\r\na\r\n\0b\r\n", 18),
       {std::string("A5 X {5}a\r\n\0b", 13)}},
      {"LITERAL+", "A6 LOGIN {4+}\r\nfred {3+}\r\nabc\r\n", {"A6 LOGIN {4}fred {3}abc"}},
      {"literal in a list", "A6 X ({2+}\r\nab c)\r\n", {"A6 X ({2}ab c)"}},
      {"literal8", "A7 APPEND INBOX ~{3+}\r\nabc\r\n", {"A7 APPEND INBOX ~{3}abc"}},
      {"section atoms", "A8 FETCH 1 (BODY[HEADER.FIELDS (FROM TO)]<0.100> BODY.PEEK[1.2.MIME])\r\n",
       {"A8 FETCH 1 (BODY[HEADER.FIELDS (FROM TO)]<0.100> BODY.PEEK[1.2.MIME])"}},
      {"section atom with quoted name", "A8 FETCH 1 BODY[HEADER.FIELDS (\"a]b\")]\r\n",
       {"A8 FETCH 1 BODY[HEADER.FIELDS (\"a]b\")]"}},
      // header-fld-name is an astring: literals too, handed on as quoted names.
      {"section with literal field names", "A8 FETCH 1 BODY[HEADER.FIELDS ({7}\r\nSubject {4+}\r\na\"\\b)]<0.9>\r\n",
       {"+", "A8 FETCH 1 BODY[HEADER.FIELDS (\"Subject\" \"a\\\"\\\\b\")]<0.9>"}},
      {"section literal then a bad octet", "A8 FETCH 1 BODY[HEADER.FIELDS ({1+}\r\nx\r\nA9 NOOP\r\n",
       {"ERR A8 Missing ']'", "A9 NOOP"}},
      // A field name never holds CR, LF or NUL (found by fuzz-run-imap_parser).
      {"section literal with CRLF", "A8 FETCH 1 BODY[HEADER.FIELDS ({3+}\r\na\r\n)]\r\nA9 NOOP\r\n",
       {"ERR A8 Invalid characters in header field name", "A9 NOOP"}},
      {"section literal with NUL", std::string("A8 FETCH 1 BODY[HEADER.FIELDS ({2+}\r\na\0 b)]\r\nA9 NOOP\r\n", 54),
       {"ERR A8 Invalid characters in header field name", "A9 NOOP"}},
      {"section literal with CRLF then a literal", "A8 FETCH 1 BODY[HEADER.FIELDS ({2+}\r\n\r\n {3+}\r\n)]\r\nA9 NOOP\r\n",
       {"ERR A8 Invalid characters in header field name", "A9 NOOP"}},
      {"unterminated section", "A8 FETCH 1 BODY[HEADER\r\nA9 NOOP\r\n",
       {"ERR A8 Missing ']'", "A9 NOOP"}},
      {"missing tag", " NOOP\r\nA1 NOOP\r\n", {"ERR * Missing tag", "A1 NOOP"}},
      {"invalid tag", "a+b NOOP\r\nA1 NOOP\r\n", {"ERR * Invalid tag", "A1 NOOP"}},
      {"invalid tag start", "* NOOP\r\n", {"ERR * Invalid tag"}},
      {"missing command", "A1\r\nA2 NOOP\r\n", {"ERR A1 Missing command", "A2 NOOP"}},
      {"double space before name", "A1  NOOP\r\n", {"ERR A1 Missing command"}},
      {"missing close paren", "A1 X (a b\r\nA2 NOOP\r\n", {"ERR A1 Missing ')'", "A2 NOOP"}},
      {"unexpected close paren", "A1 X a)\r\nA2 NOOP\r\n", {"ERR A1 Unexpected ')'", "A2 NOOP"}},
      {"missing space", "A1 X \"a\"\"b\"\r\n", {"ERR A1 Missing space between arguments"}},
      {"unterminated quoted", "A1 X \"abc\r\nA2 NOOP\r\n", {"ERR A1 Missing '\"'", "A2 NOOP"}},
      {"bad escape", "A1 X \"a\\b\"\r\nA2 NOOP\r\n", {"ERR A1 Invalid escape", "A2 NOOP"}},
      {"8-bit atom refused", "A1 X ab\xc3\xa9\r\nA2 NOOP\r\n",
       {"ERR A1 Invalid characters in atom", "A2 NOOP"}},
      {"CR without LF", "A1 NOOP\rx\r\nA2 NOOP\r\n", {"ERR A1 CR without LF", "A2 NOOP"}},
      {"bad literal header", "A1 X {3x}\r\nA2 NOOP\r\n", {"ERR A1 Invalid literal", "A2 NOOP"}},
      {"literal header not at line end", "A1 X {3} y\r\nA2 NOOP\r\n",
       {"ERR A1 Missing CRLF after literal", "A2 NOOP"}},
      {"error line ending in LITERAL+ skips its octets",
       "A1 X \"a\\q\" {5+}\r\nA2 NO\r\nA3 NOOP\r\n", {"ERR A1 Invalid escape", "A3 NOOP"}},
      {"error line ending in LITERAL+ then more lines",
       "A1 X ( ) ) {3+}\r\nabc {2+}\r\nxy tail\r\nA3 NOOP\r\n",
       {"ERR A1 Unexpected ')'", "A3 NOOP"}},
      {"failing octet starts a LITERAL+ header", "A1 X a{5+}\r\nhello\r\nA2 NOOP\r\n",
       {"ERR A1 Invalid characters in atom", "A2 NOOP"}},
      {"line limit hit inside a LITERAL+ header",
       "A1 X " + std::string(22, 'y') + " {10+}\r\n0123456789\r\nA2 NOOP\r\n",
       {"ERR A1 Line too long", "A2 NOOP"}, smallLine()},
      {"line limit hit at the LF of a LITERAL+ header",
       "A1 X " + std::string(20, 'y') + " {10+}\r\n0123456789\r\nA2 NOOP\r\n",
       {"ERR A1 Line too long", "A2 NOOP"}, smallLine()},
      {"too deep nesting", "A1 X " + std::string(33, '(') + "\r\nA2 NOOP\r\n",
       {"ERR A1 Too deep list nesting", "A2 NOOP"}},
      {"32 levels are fine", "A1 X " + std::string(32, '(') + std::string(32, ')') + "\r\n",
       {"A1 X " + std::string(32, '(') + std::string(32, ')')}},
      {"too long line then resync", "A1 X " + std::string(100, 'y') + " {3+}\r\nabc\r\nA2 NOOP\r\n",
       {"ERR A1 Line too long", "A2 NOOP"}, smallLine()},
      {"line limit counts per line, not literals",
       "A1 X {40+}\r\n" + std::string(40, 'z') + " {1+}\r\nq\r\n",
       {"A1 X {40}... {1}q"}, smallLine()},
      {"too large sync literal refused", "A1 LOGIN {70000}\r\nA2 NOOP\r\n",
       {"ERR A1 Literal too large", "A2 NOOP"}},
      {"too large LITERAL+ skipped", "A1 LOGIN {70000+}\r\n" + kBig + " more\r\nA2 NOOP\r\n",
       {"ERR A1 Literal too large", "A2 NOOP"}},
      {"too large LITERAL+ skipped with a later literal",
       "A1 LOGIN {70000+}\r\n" + kBig + " {3+}\r\nabc\r\nA2 NOOP\r\n",
       {"ERR A1 Literal too large", "A2 NOOP"}},
      {"APPEND may send big literals", "A1 APPEND INBOX {70000+}\r\n" + kBig + "\r\n",
       {"A1 APPEND INBOX {70000}..."}},
      {"APPEND sync big literal", "A1 append INBOX (\\Seen) {70000}\r\n" + kBig + "\r\n",
       {"+", "A1 APPEND INBOX (\\Seen) {70000}..."}},
      {"APPEND over its limit", "A1 APPEND INBOX {101}\r\nA2 APPEND INBOX {100+}\r\n" +
                                    std::string(100, 'm') + "\r\n",
       {"ERR A1 Literal too large", "A2 APPEND INBOX {100}..."}, smallAppend()},
      {"small limit for others", "A1 LOGIN {11+}\r\nhello world {10+}\r\n0123456789\r\n",
       {"ERR A1 Literal too large"}, smallAppend()},
      {"unrepresentable LITERAL+ is fatal", "A1 X {99999999999+}\r\n",
       {"ERR A1 Literal too large [fatal]"}},
      {"unrepresentable sync literal is refused", "A1 X {99999999999}\r\nA2 NOOP\r\n",
       {"ERR A1 Literal too large", "A2 NOOP"}},
      {"command too large", "A1 X " + std::string(50, 'a') + " (b c d e f g h)\r\nA2 NOOP\r\n",
       {"ERR A1 Command too large", "A2 NOOP"}, smallCommand()},
      {"literals count toward the command size",
       "A1 X {100+}\r\n" + std::string(100, 'a') + " {100+}\r\n" + std::string(100, 'b') +
           "\r\nA2 NOOP\r\n",
       {"ERR A1 Command too large", "A2 NOOP"}, smallCommand()},
  };
}

// Events joined into one printable string, so a failure shows what differs.
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& e : v) {
    s += "[";
    for (char c : e) {
      if (c == '\r') {
        s += "\\r";
      } else if (c == '\n') {
        s += "\\n";
      } else if (c == '\0') {
        s += "\\0";
      } else {
        s += c;
      }
    }
    s += "]";
  }
  return s;
}

TEST_CASE("parser table, whole / 7-byte / 1-byte feeding") {
  for (const Case& c : cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    const std::string expect = join(c.expect);
    CHECK(join(run(c.input, c.input.size(), c.limits)) == expect);
    CHECK(join(run(c.input, 7, c.limits)) == expect);
    CHECK(join(run(c.input, 1, c.limits)) == expect);
  }
}

// Random IMAP-ish garbage must give the same events however it is split.
TEST_CASE("random input: chunking never changes the events") {
  const std::string pieces[] = {"A1 ", "x ", "NOOP", "\r\n", "\n", "\r", "(", ")", "\"", "\\", "{3}\r\n",
                          "{2+}\r\n", "~{1+}\r\n", "{99999999999+}", "BODY[", "]", "<0.1>", " ",
                          "\xc3", "NIL", "~", "{", "+", "}", "*", "%", std::string(1, '\0')};
  std::mt19937 rng(12345);
  ParserLimits lim;
  lim.maxLineLength = 40;
  lim.maxLiteral = 2;
  lim.maxCommandSize = 400;
  for (int iter = 0; iter < 500; ++iter) {
    std::string input;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) input += pieces[rng() % std::size(pieces)];
    input += "\r\nZ9 NOOP\r\n";
    CAPTURE(input);
    const auto whole = run(input, input.size(), lim, false);
    CHECK(run(input, 1, lim, false) == whole);
    CHECK(run(input, 5, lim, false) == whole);
  }
}

TEST_CASE("synchronising literal asks for a continuation before the data arrives") {
  Parser p;
  p.feed("A1 LOGIN {4}\r\n");
  CHECK(p.next().kind == ParseEvent::kNeedContinuation);
  CHECK(p.next().kind == ParseEvent::kNeedMore);
  CHECK_FALSE(p.idle());
  p.feed("fred {6}\r\n");
  CHECK(p.next().kind == ParseEvent::kNeedContinuation);
  p.feed("secret\r\n");
  ParseEvent ev = p.next();
  REQUIRE(ev.kind == ParseEvent::kCommand);
  CHECK(ev.command.name == "LOGIN");
  REQUIRE(ev.command.args.size() == 2);
  CHECK(ev.command.args[0].type == Arg::kLiteral);
  CHECK(ev.command.args[1].value == "secret");
  CHECK(p.idle());
  CHECK(p.buffered() == 0);
}

TEST_CASE("error carries kind and tag") {
  Parser p;
  p.feed("A1 LOGIN {70000}\r\n");
  ParseEvent ev = p.next();
  REQUIRE(ev.kind == ParseEvent::kError);
  CHECK(ev.error.kind == ParseError::kLiteralTooLarge);
  CHECK(ev.error.tag == "A1");
  CHECK_FALSE(ev.error.fatal);
  CHECK(p.idle());
}

TEST_CASE("raw lines for IDLE and AUTHENTICATE") {
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{100}}) {
    CAPTURE(chunk);
    const std::string input = "A1 IDLE\r\nDONE\r\nA2 AUTHENTICATE PLAIN\r\ndGVzdA==\n\r\nA3 NOOP\r\n";
    Parser p;
    std::vector<std::string> seen;
    int rawWanted = 0;
    for (size_t i = 0; i < input.size(); i += chunk) {
      p.feed(std::string_view(input).substr(i, chunk));
      for (;;) {
        if (rawWanted > 0) {
          auto line = p.nextLine();
          if (!line) break;
          seen.push_back("line:" + *line);
          --rawWanted;
          continue;
        }
        ParseEvent ev = p.next();
        if (ev.kind == ParseEvent::kNeedMore) break;
        REQUIRE(ev.kind == ParseEvent::kCommand);
        seen.push_back(ev.command.name);
        if (ev.command.name == "IDLE") rawWanted = 1;
        if (ev.command.name == "AUTHENTICATE") rawWanted = 2;
      }
    }
    CHECK(seen == std::vector<std::string>{"IDLE", "line:DONE", "AUTHENTICATE", "line:dGVzdA==",
                                           "line:", "NOOP"});
  }
}

TEST_CASE("raw line is bounded and truncation is reported") {
  ParserLimits lim;
  lim.maxRawLine = 8;
  Parser p(lim);
  p.feed(std::string(20, 'a'));
  CHECK_FALSE(p.nextLine());
  p.feed("bbb\r\nDONE\r\n");
  auto line = p.nextLine();
  REQUIRE(line);
  CHECK(*line == "aaaaaaaa");
  CHECK(p.lastLineTruncated());
  line = p.nextLine();
  REQUIRE(line);
  CHECK(*line == "DONE");
  CHECK_FALSE(p.lastLineTruncated());
}

TEST_CASE("an over-long line is discarded, not stored") {
  ParserLimits lim;
  lim.maxLineLength = 1024;
  Parser p(lim);
  p.feed("A1 X ");
  CHECK(p.next().kind == ParseEvent::kNeedMore);
  const std::string chunk(4096, 'a');
  ParseEvent ev = [&] {
    p.feed(chunk);
    return p.next();
  }();
  REQUIRE(ev.kind == ParseEvent::kError);
  CHECK(ev.error.kind == ParseError::kLineTooLong);
  for (int i = 0; i < 1000; ++i) {  // 4 MB of garbage on the same line
    p.feed(chunk);
    CHECK(p.next().kind == ParseEvent::kNeedMore);
    CHECK(p.buffered() == 0);
  }
  p.feed("\r\nA2 NOOP\r\n");
  ev = p.next();
  REQUIRE(ev.kind == ParseEvent::kCommand);
  CHECK(ev.command.tag == "A2");
}

}  // namespace
}  // namespace postern::imap
