// The LMTP protocol library: framing, command and address parsing,
// DATA dot-unstuffing with its size limit, trace headers. Byte-stream
// cases run whole and fed one byte at a time.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lmtpd/proto/address.h"
#include "lmtpd/proto/command.h"
#include "lmtpd/proto/data_reader.h"
#include "lmtpd/proto/line_reader.h"
#include "lmtpd/proto/trace.h"

using namespace postern::lmtpd;

namespace {

struct DataOutcome {
  bool done = false;
  bool too_big = false;
  std::string body;
  size_t consumed = 0;
  uint64_t size = 0;
};

DataOutcome readData(const std::string& input, uint64_t limit, size_t piece) {
  DataReader r(limit);
  DataOutcome o;
  size_t pos = 0;
  while (pos < input.size() && !r.done()) {
    size_t len = piece == 0 ? input.size() - pos : std::min(piece, input.size() - pos);
    size_t n = r.consume(std::string_view(input).substr(pos, len));
    pos += n;
    if (n < len) break;
  }
  o.done = r.done();
  o.too_big = r.tooBig();
  o.body = r.body();
  o.consumed = pos;
  o.size = r.size();
  return o;
}

}  // namespace

TEST_CASE("DATA dot-unstuffing is exact and stops at CRLF.CRLF only") {
  struct Case {
    std::string wire;
    bool done;
    std::string body;
    size_t consumed;
  };
  std::vector<Case> cases = {
      {".\r\n", true, "", 3},
      {"a\r\n.\r\n", true, "a\r\n", 6},
      {"..\r\n.\r\n", true, ".\r\n", 7},
      {"...\r\n.\r\n", true, "..\r\n", 8},
      {"..hidden\r\nx\r\n.\r\n", true, ".hidden\r\nx\r\n", 16},
      {"a\r\n.\r\nQUIT\r\n", true, "a\r\n", 6},
      {"a.\r\n.b\r\n.\r\n", true, "a.\r\nb\r\n", 11},
      {"a\n.\nb\r\n.\r\n", true, "a\n.\nb\r\n", 10},  // bare LF "." LF does not end DATA
      {"a\r\n.\rb\r\n.\r\n", true, "a\r\n\rb\r\n", 11},
      {"no end", false, "no end", 6},
      {"x\r\n.", false, "x\r\n", 4},
      {"x\r\n.\r", false, "x\r\n", 5},
      {"\r\n\r\n.\r\n", true, "\r\n\r\n", 7},
      {"a\r\r\n.\r\n", true, "a\r\r\n", 7},
  };
  for (const auto& c : cases) {
    CAPTURE(c.wire);
    for (size_t piece : {size_t{0}, size_t{1}, size_t{2}}) {
      CAPTURE(piece);
      DataOutcome o = readData(c.wire, 1000, piece);
      CHECK(o.done == c.done);
      CHECK(o.body == c.body);
      CHECK(o.consumed == c.consumed);
      CHECK_FALSE(o.too_big);
    }
  }
}

TEST_CASE("DATA over the size limit is read to the end but not stored") {
  std::string wire = std::string(100, 'x') + "\r\n" + std::string(100, 'y') + "\r\n.\r\nNOOP\r\n";
  for (size_t piece : {size_t{0}, size_t{1}, size_t{7}}) {
    CAPTURE(piece);
    DataOutcome o = readData(wire, 150, piece);
    CHECK(o.done);
    CHECK(o.too_big);
    CHECK(o.body.empty());
    CHECK(o.consumed == wire.size() - 6);
    CHECK(o.size == 204);
  }
  DataOutcome exact = readData("12345\r\n.\r\n", 7, 1);
  CHECK(exact.done);
  CHECK_FALSE(exact.too_big);
  CHECK(exact.body == "12345\r\n");
  CHECK(readData("123456\r\n.\r\n", 7, 0).too_big);
}

TEST_CASE("LMTP line framing") {
  LineReader r(10);
  std::string input = "LHLO x\r\n" + std::string(30, 'a') + "\r\nNOOP\r\n";
  std::vector<std::string> events;
  for (char ch : input) {
    LineReader::Event ev;
    std::string line;
    CHECK(r.consume(std::string_view(&ch, 1), &ev, &line) == 1);
    if (ev == LineReader::Event::kLine) events.push_back(line);
    if (ev == LineReader::Event::kTooLong) events.push_back("TOOLONG");
  }
  CHECK(events == std::vector<std::string>{"LHLO x", "TOOLONG", "NOOP"});
}

TEST_CASE("LMTP commands parse into typed arguments") {
  struct Case {
    std::string line;
    Verb verb;
    std::string address;
    std::string error;
  };
  std::vector<Case> cases = {
      {"LHLO client.example", Verb::kLhlo, "", ""},
      {"LHLO", Verb::kLhlo, "", "501 5.5.4 Syntax: LHLO hostname"},
      {"EHLO x", Verb::kEhlo, "", "500 5.5.1 This is LMTP: use LHLO"},
      {"MAIL FROM:<a@b.example>", Verb::kMail, "a@b.example", ""},
      {"mail from:<a@b.example> SIZE=1000 BODY=8BITMIME", Verb::kMail, "a@b.example", ""},
      {"MAIL FROM: <a@b.example>", Verb::kMail, "a@b.example", ""},
      {"MAIL FROM:<>", Verb::kMail, "", ""},
      {"MAIL FROM:<@relay.example,@r2.example:a@b.example>", Verb::kMail, "a@b.example", ""},
      {"MAIL FROM:a@b.example", Verb::kMail, "a@b.example", ""},
      {"MAIL FROM:<\"john >doe\"@b.example>", Verb::kMail, "\"john >doe\"@b.example", ""},
      {"MAIL FROM:<a@b.example", Verb::kMail, "", "501 5.5.4 Syntax: MAIL FROM:<address>"},
      {"MAIL TO:<a@b.example>", Verb::kMail, "", "501 5.5.4 Syntax: MAIL FROM:<address>"},
      {"MAIL FROM:<a@b> SIZE=big", Verb::kMail, "", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> =x", Verb::kMail, "", "501 5.5.4 Syntax: MAIL FROM:<address>"},
      {"RCPT TO:<Alice@Example.COM>", Verb::kRcpt, "Alice@Example.COM", ""},
      {"RCPT TO:<alice> NOTIFY=NEVER", Verb::kRcpt, "alice", ""},
      {"RCPT TO:<>", Verb::kRcpt, "", "501 5.1.3 Bad recipient address syntax"},
      {"RCPT FROM:<a>", Verb::kRcpt, "", "501 5.5.4 Syntax: RCPT TO:<address>"},
      {"DATA", Verb::kData, "", ""},
      {"DATA now", Verb::kData, "", "501 5.5.4 No arguments allowed"},
      {"RSET", Verb::kRset, "", ""},
      {"NOOP", Verb::kNoop, "", ""},
      {"QUIT", Verb::kQuit, "", ""},
      {"VRFY alice", Verb::kVrfy, "", ""},
      {"BDAT 10", Verb::kUnknown, "", "500 5.5.2 Unknown command"},
      {"", Verb::kUnknown, "", "500 5.5.2 Unknown command"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    Command cmd = parseCommand(c.line);
    CHECK(cmd.verb == c.verb);
    CHECK(cmd.error == c.error);
    if (c.error.empty()) CHECK(cmd.address == c.address);
  }
  Command mail = parseCommand("MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME");
  CHECK(mail.has_size);
  CHECK(mail.size == 1000);
  REQUIRE(mail.params.size() == 2);
  CHECK(mail.params[1].key == "BODY");
  CHECK(mail.params[1].value == "8BITMIME");
}

TEST_CASE("recipients map to lower-cased user names") {
  std::vector<std::string> any;
  std::vector<std::string> domains = {"example.com", "Mail.Example.Org"};
  struct Case {
    std::string address;
    const std::vector<std::string>* domains;
    bool ok;
    std::string user_or_error;
  };
  std::vector<Case> cases = {
      {"alice", &any, true, "alice"},
      {"Alice@anything.example", &any, true, "alice"},
      {"BOB@Example.COM", &domains, true, "bob"},
      {"bob@mail.example.org.", &domains, true, "bob"},
      {"bob", &domains, true, "bob"},
      {"bob@other.example", &domains, false, "550 5.1.1 <bob@other.example> Recipient domain not accepted here"},
      {"\"Carol\"@example.com", &domains, true, "carol"},
      {"\"a@b\"@example.com", &domains, true, "a@b"},
      {"@example.com", &any, false, "501 5.1.3 Bad recipient address syntax"},
      {"bob@", &any, false, "501 5.1.3 Bad recipient address syntax"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.address);
    Recipient r = mapRecipient(c.address, *c.domains);
    CHECK(r.ok == c.ok);
    CHECK((c.ok ? r.user : r.error) == c.user_or_error);
  }
}

TEST_CASE("trace headers") {
  TraceInfo t;
  t.sender = "a@b.example";
  t.lhlo = "mx.example";
  t.peer = "127.0.0.1";
  t.host = "postern.example";
  t.id = "7-1";
  t.recipient = "alice@example.com";
  t.when = 0;
  CHECK(traceHeaders(t) ==
        "Return-Path: <a@b.example>\r\n"
        "Received: from mx.example (127.0.0.1)\r\n"
        "\tby postern.example (Postern) with LMTP id 7-1\r\n"
        "\tfor <alice@example.com>; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
  t.recipient.clear();
  t.sender.clear();
  t.lhlo = "evil\r\nX-Injected: 1";
  CHECK(traceHeaders(t) ==
        "Return-Path: <>\r\n"
        "Received: from evilX-Injected: 1 (127.0.0.1)\r\n"
        "\tby postern.example (Postern) with LMTP id 7-1; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
}
