// The POP3 protocol library: line framing, command parsing, dot-stuffing
// and TOP. Framing cases run whole and fed one byte at a time.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pop3d/proto/command.h"
#include "pop3d/proto/dot_stuff.h"
#include "pop3d/proto/line_reader.h"

using namespace postern::pop3d;

namespace {

// Feeds `input` in pieces of `piece` bytes (0 = whole); returns events as
// "L:<line>" or "TOOLONG".
std::vector<std::string> frame(const std::string& input, size_t max_line, size_t piece) {
  LineReader r(max_line);
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t len = piece == 0 ? input.size() - pos : std::min(piece, input.size() - pos);
    std::string_view chunk(input.data() + pos, len);
    while (!chunk.empty()) {
      LineReader::Event ev;
      std::string line;
      size_t n = r.consume(chunk, &ev, &line);
      chunk.remove_prefix(n);
      if (ev == LineReader::Event::kLine) out.push_back("L:" + line);
      if (ev == LineReader::Event::kTooLong) out.push_back("TOOLONG");
    }
    pos += len;
  }
  return out;
}

}  // namespace

TEST_CASE("line framing splits CRLF and LF lines and refuses over-long ones") {
  struct Case {
    std::string input;
    size_t max;
    std::vector<std::string> events;
  };
  std::vector<Case> cases = {
      {"USER a\r\nPASS b\r\n", 100, {"L:USER a", "L:PASS b"}},
      {"NOOP\n", 100, {"L:NOOP"}},
      {"\r\n", 100, {"L:"}},
      {"partial", 100, {}},
      {"12345\r\n", 5, {"L:12345"}},
      {"123456\r\n", 5, {"TOOLONG"}},
      {std::string(50, 'x') + "\r\nSTAT\r\n", 10, {"TOOLONG", "L:STAT"}},
      {std::string(50, 'x') + "\r\n" + std::string(50, 'y') + "\r\nQUIT\r\n",
       10,
       {"TOOLONG", "TOOLONG", "L:QUIT"}},
      {"a\rb\r\n", 100, {"L:a\rb"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    CHECK(frame(c.input, c.max, 0) == c.events);
    CHECK(frame(c.input, c.max, 1) == c.events);
    CHECK(frame(c.input, c.max, 3) == c.events);
  }
}

TEST_CASE("commands parse into typed arguments") {
  struct Case {
    std::string line;
    Verb verb;
    std::string arg;
    bool has_msg;
    uint32_t msg;
    uint32_t lines;
    std::string error;
  };
  std::vector<Case> cases = {
      {"USER alice", Verb::kUser, "alice", false, 0, 0, ""},
      {"user alice", Verb::kUser, "alice", false, 0, 0, ""},
      {"USER", Verb::kUser, "", false, 0, 0, "Missing argument"},
      {"USER a b", Verb::kUser, "", false, 0, 0, "Too many arguments"},
      {"PASS secret with spaces", Verb::kPass, "secret with spaces", false, 0, 0, ""},
      {"PASS", Verb::kPass, "", false, 0, 0, "Missing password"},
      {"STAT", Verb::kStat, "", false, 0, 0, ""},
      {"STAT 1", Verb::kStat, "", false, 0, 0, "Too many arguments"},
      {"LIST", Verb::kList, "", false, 0, 0, ""},
      {"LIST 2", Verb::kList, "", true, 2, 0, ""},
      {"LIST x", Verb::kList, "", false, 0, 0, "Invalid message number"},
      {"LIST 0", Verb::kList, "", false, 0, 0, "Invalid message number"},
      {"LIST 99999999999", Verb::kList, "", false, 0, 0, "Invalid message number"},
      {"uidl 7", Verb::kUidl, "", true, 7, 0, ""},
      {"RETR 1", Verb::kRetr, "", true, 1, 0, ""},
      {"RETR", Verb::kRetr, "", false, 0, 0, "Missing argument"},
      {"RETR -1", Verb::kRetr, "", false, 0, 0, "Invalid message number"},
      {"DELE 3", Verb::kDele, "", true, 3, 0, ""},
      {"TOP 1 0", Verb::kTop, "", true, 1, 0, ""},
      {"TOP 1 10", Verb::kTop, "", true, 1, 10, ""},
      {"TOP 1", Verb::kTop, "", false, 0, 0, "Missing argument"},
      {"TOP 1 x", Verb::kTop, "", true, 1, 0, "Invalid line count"},
      {"NOOP", Verb::kNoop, "", false, 0, 0, ""},
      {"RSET", Verb::kRset, "", false, 0, 0, ""},
      {"QUIT", Verb::kQuit, "", false, 0, 0, ""},
      {"CAPA", Verb::kCapa, "", false, 0, 0, ""},
      {"APOP a b", Verb::kUnknown, "", false, 0, 0, "Unknown command"},
      {"", Verb::kUnknown, "", false, 0, 0, "Empty command"},
      {"XYZZY", Verb::kUnknown, "", false, 0, 0, "Unknown command"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    Command cmd = parseCommand(c.line);
    CHECK(cmd.error == c.error);
    if (c.error.empty() || c.verb != Verb::kUnknown) CHECK(cmd.verb == c.verb);
    if (c.error.empty()) {
      CHECK(cmd.arg == c.arg);
      CHECK(cmd.has_msg == c.has_msg);
      CHECK(cmd.msg == c.msg);
      CHECK(cmd.lines == c.lines);
    }
  }
}

TEST_CASE("dot-stuffing is exact") {
  struct Case {
    std::string body;
    std::string wire;
  };
  std::vector<Case> cases = {
      {"", ".\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {".\r\n", "..\r\n.\r\n"},
      {"..\r\n", "...\r\n.\r\n"},
      {".hidden\r\nx\r\n", "..hidden\r\nx\r\n.\r\n"},
      {"a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
      {"x. y\r\n", "x. y\r\n.\r\n"},
      {"no final crlf", "no final crlf\r\n.\r\n"},
      {"a\r\n.", "a\r\n..\r\n.\r\n"},
      {"\r\n\r\n", "\r\n\r\n.\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    std::string out = "+OK\r\n";
    appendDotStuffed(c.body, &out);
    CHECK(out == "+OK\r\n" + c.wire);
  }
}

TEST_CASE("TOP returns the header, the blank line and n body lines") {
  const std::string msg = "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\nline3\r\n";
  CHECK(topOf(msg, 0) == "Subject: x\r\nFrom: y\r\n\r\n");
  CHECK(topOf(msg, 1) == "Subject: x\r\nFrom: y\r\n\r\nline1\r\n");
  CHECK(topOf(msg, 2) == "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\n");
  CHECK(topOf(msg, 100) == msg);
  CHECK(topOf("Subject: only header\r\n", 5) == "Subject: only header\r\n");
  CHECK(topOf("\r\nbody\r\n", 0) == "\r\n");
  CHECK(topOf("H: 1\r\n\r\nno crlf at end", 3) == "H: 1\r\n\r\nno crlf at end");
}

TEST_CASE("AUTH parses its mechanism and initial response") {
  Command c = parseCommand("auth plain AGFsaWNlAHB3");
  CHECK(c.verb == Verb::kAuth);
  CHECK(c.error.empty());
  CHECK(c.arg == "PLAIN");
  CHECK(c.has_initial);
  CHECK(c.initial == "AGFsaWNlAHB3");
  c = parseCommand("AUTH PLAIN");
  CHECK(c.arg == "PLAIN");
  CHECK(!c.has_initial);
  c = parseCommand("AUTH");
  CHECK(c.error.empty());
  CHECK(c.arg.empty());
  CHECK(parseCommand("AUTH PLAIN a b").error == "Too many arguments");
}
