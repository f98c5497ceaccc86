// Fuzz target: POP3 line framing (pop3d/proto/line_reader.h) and command
// parsing (command.h), driven the way a session drives them, plus the
// RETR/TOP body helpers (dot_stuff.h) on the input taken as a message.
//
// The line reader's events are compared, for every way of cutting the
// stream, with a direct reading of the whole input: lines end at LF, one CR
// before it is dropped, longer lines than the limit are reported, never
// returned.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "pop3d/proto/command.h"
#include "pop3d/proto/dot_stuff.h"
#include "pop3d/proto/line_reader.h"

namespace {

using namespace postern::pop3d;
using postern::fuzz::Chunking;

// What the reader must report for `input`: "L<line>" or "T" per complete line.
std::vector<std::string> expectedLines(std::string_view input, size_t maxLine) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t lf = input.find('\n', pos);
    if (lf == std::string_view::npos) break;
    std::string_view line = input.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line.size() > maxLine ? "T" : "L" + std::string(line));
    pos = lf + 1;
  }
  return out;
}

void checkCommand(std::string_view line, const Command& cmd) {
  for (char c : cmd.keyword) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
  FUZZ_CHECK(cmd.keyword.size() <= line.size());
  if (cmd.error.empty()) {
    FUZZ_CHECK(cmd.verb != Verb::kUnknown);
  } else {
    // Replies are "-ERR <error>": a CR or LF would split them.
    FUZZ_CHECK(cmd.error.find_first_of("\r\n") == std::string::npos);
    return;
  }
  switch (cmd.verb) {
    case Verb::kRetr:
    case Verb::kDele:
    case Verb::kTop:
      FUZZ_CHECK(cmd.has_msg);
      break;
    case Verb::kUser:
      FUZZ_CHECK(!cmd.arg.empty() && cmd.arg.find(' ') == std::string::npos);
      break;
    case Verb::kPass:
      FUZZ_CHECK(!cmd.arg.empty());
      FUZZ_CHECK(line.size() >= cmd.arg.size() && line.substr(line.size() - cmd.arg.size()) == cmd.arg);
      break;
    default:
      break;
  }
  if (cmd.has_msg) FUZZ_CHECK(cmd.msg >= 1);
  if (cmd.verb != Verb::kTop) FUZZ_CHECK(cmd.lines == 0);
  if (cmd.verb != Verb::kList && cmd.verb != Verb::kUidl && cmd.verb != Verb::kRetr &&
      cmd.verb != Verb::kDele && cmd.verb != Verb::kTop) {
    FUZZ_CHECK(!cmd.has_msg);
  }
}

std::vector<std::string> runSession(std::string_view input, size_t maxLine, Chunking how) {
  LineReader reader(maxLine);
  std::vector<std::string> log;
  // A session appends each read to its buffer and consumes from an offset.
  std::string buffer;
  size_t off = 0;
  for (std::string_view piece : postern::fuzz::chunks(input, how)) {
    buffer.append(piece);
    while (off < buffer.size()) {
      const std::string_view rest = std::string_view(buffer).substr(off);
      LineReader::Event ev;
      std::string line = "stale";
      const size_t n = reader.consume(rest, &ev, &line);
      FUZZ_CHECK(n > 0 && n <= rest.size());
      off += n;
      if (ev == LineReader::Event::kNone) {
        FUZZ_CHECK(n == rest.size() && rest.find('\n') == std::string_view::npos);
        FUZZ_CHECK(line == "stale");
        continue;
      }
      FUZZ_CHECK(rest[n - 1] == '\n' && rest.substr(0, n - 1).find('\n') == std::string_view::npos);
      if (ev == LineReader::Event::kTooLong) {
        log.push_back("T");
        continue;
      }
      FUZZ_CHECK(line.size() <= maxLine);
      FUZZ_CHECK(line.find('\n') == std::string::npos);
      checkCommand(line, parseCommand(line));
      log.push_back("L" + line);
    }
    buffer.clear();
    off = 0;
  }
  return log;
}

// Undoes appendDotStuffed, reading line starts the way it writes them.
std::string unstuff(std::string_view out) {
  std::string body;
  size_t pos = 0;
  while (pos < out.size()) {
    if (out[pos] == '.') ++pos;
    const size_t lf = out.find('\n', pos);
    const size_t end = lf == std::string_view::npos ? out.size() : lf + 1;
    body.append(out.substr(pos, end - pos));
    pos = end;
  }
  return body;
}

void checkBody(std::string_view message) {
  std::string out = "+OK\r\n";
  appendDotStuffed(message, &out);
  std::string_view stuffed = std::string_view(out).substr(5);
  FUZZ_CHECK(stuffed.size() >= 3 && stuffed.substr(stuffed.size() - 3) == ".\r\n");
  stuffed.remove_suffix(3);
  std::string want(message);
  if (!want.empty() && want.back() != '\n') want += "\r\n";
  FUZZ_CHECK(unstuff(stuffed) == want);
  // No line of the body can be the terminator.
  FUZZ_CHECK(stuffed.rfind(".\r\n", 0) != 0 && stuffed.find("\n.\r\n") == std::string_view::npos);

  size_t prev = 0;
  for (uint32_t lines : {0u, 1u, 2u, 5u, 1000u, 4294967295u}) {
    const std::string_view top = topOf(message, lines);
    FUZZ_CHECK(top.data() == message.data() && top.size() <= message.size());
    FUZZ_CHECK(top.size() >= prev);
    prev = top.size();
  }
  FUZZ_CHECK(topOf(message, 4294967295u).size() == message.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t maxLine : {kMaxCommandLine, size_t{8}}) {
    std::vector<std::string> want;
    for (const std::string& l : expectedLines(input, maxLine)) want.push_back(l);
    for (Chunking how : postern::fuzz::kAllChunkings) {
      const auto got = runSession(input, maxLine, how);
      if (got != want) {
        size_t i = 0;
        while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
        std::fprintf(stderr, "line %zu: want \"%s\" got \"%s\"\n", i,
                     i < want.size() ? want[i].c_str() : "<end>", i < got.size() ? got[i].c_str() : "<end>");
      }
      FUZZ_CHECK(got == want);
    }
  }
  checkBody(input);
  return 0;
}
