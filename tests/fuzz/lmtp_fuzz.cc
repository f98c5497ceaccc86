// Fuzz target: LMTP line framing (lmtpd/proto/line_reader.h), command
// parsing (command.h), recipient mapping (address.h), trace headers
// (trace.h) and the DATA reader (data_reader.h), driven the way a session
// drives them: lines until a valid DATA, then message text until CRLF "."
// CRLF, then lines again.
//
// The DATA reader is compared with a direct reading of the rest of the
// stream (the first CRLF "." CRLF ends it, counting the CRLF before DATA's
// text; a "." starting a line is dropped), for every way of cutting it.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "lmtpd/proto/address.h"
#include "lmtpd/proto/command.h"
#include "lmtpd/proto/data_reader.h"
#include "lmtpd/proto/line_reader.h"
#include "lmtpd/proto/trace.h"

namespace {

using namespace postern::lmtpd;
using postern::fuzz::Chunking;

struct Config {
  size_t maxLine;
  uint64_t dataLimit;
};
constexpr Config kConfigs[] = {{kMaxCommandLine, uint64_t{1} << 20}, {12, 16}};

const std::vector<std::string> kNoDomains;
const std::vector<std::string> kDomains = {"example.org", "Example.COM", "xn--bcher-kva.example"};

struct DataRef {
  bool done = false;
  size_t consumed = 0;
  std::string body;
};

DataRef expectedData(std::string_view s) {
  DataRef ref;
  const std::string pre = "\r\n" + std::string(s);
  const size_t p = pre.find("\r\n.\r\n");
  if (p == std::string::npos) {
    ref.consumed = s.size();
    return ref;
  }
  ref.done = true;
  ref.consumed = p + 3;
  const std::string_view raw = s.substr(0, p);
  size_t pos = 0;
  while (pos < raw.size()) {
    if (raw[pos] == '.') ++pos;
    const size_t crlf = raw.find("\r\n", pos);
    const size_t end = crlf == std::string_view::npos ? raw.size() : crlf + 2;
    ref.body.append(raw.substr(pos, end - pos));
    pos = end;
  }
  return ref;
}

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

bool hasCtl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void checkReply(std::string_view reply) {
  FUZZ_CHECK(reply.size() >= 4 && (reply[0] == '4' || reply[0] == '5'));
  FUZZ_CHECK(reply.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
}

void checkRecipient(std::string_view address, bool fromParser) {
  for (const auto* domains : {&kNoDomains, &kDomains}) {
    const Recipient r = mapRecipient(address, *domains);
    if (!r.ok) {
      FUZZ_CHECK(!r.error.empty());
      if (fromParser) checkReply(r.error);
      continue;
    }
    FUZZ_CHECK(!r.user.empty() && r.error.empty());
    FUZZ_CHECK(std::none_of(r.user.begin(), r.user.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
  }
}

struct Transaction {
  std::string lhlo;
  std::string sender;
  std::string recipient;
};

void checkTrace(const Transaction& t) {
  TraceInfo info;
  info.sender = t.sender;
  info.lhlo = t.lhlo;
  info.peer = "192.0.2.1";
  info.host = "mx.example";
  info.id = "7f3a";
  info.recipient = t.recipient;
  info.when = 1700000000;
  const std::string h = traceHeaders(info);
  // Exactly the CRLFs the format has: a client cannot add header lines.
  size_t crlf = 0, cr = 0, lf = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i] == '\r') ++cr;
    if (h[i] == '\n') ++lf;
    if (h[i] == '\r' && i + 1 < h.size() && h[i + 1] == '\n') ++crlf;
    FUZZ_CHECK(h[i] != '\0');
  }
  const size_t want = t.recipient.empty() ? 3 : 4;
  FUZZ_CHECK(crlf == want && cr == want && lf == want);
  FUZZ_CHECK(h.size() >= 2 && h.substr(h.size() - 2) == "\r\n");
}

void checkCommand(std::string_view line, const Command& cmd, Transaction& t) {
  if (!cmd.error.empty()) {
    checkReply(cmd.error);
    return;
  }
  FUZZ_CHECK(cmd.verb != Verb::kUnknown && cmd.verb != Verb::kHelo && cmd.verb != Verb::kEhlo);
  FUZZ_CHECK(cmd.arg.size() <= line.size());
  switch (cmd.verb) {
    case Verb::kLhlo:
      FUZZ_CHECK(!cmd.arg.empty() && cmd.arg.front() != ' ' && cmd.arg.back() != ' ');
      t.lhlo = cmd.arg;
      break;
    case Verb::kMail:
    case Verb::kRcpt:
      FUZZ_CHECK(!hasCtl(cmd.address));
      for (const Param& p : cmd.params) {
        FUZZ_CHECK(!p.key.empty());
        for (char c : p.key) {
          FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-');
        }
      }
      if (cmd.verb == Verb::kMail) {
        t.sender = cmd.address;
      } else {
        FUZZ_CHECK(!cmd.address.empty());
        checkRecipient(cmd.address, true);
        t.recipient = cmd.address;
      }
      checkTrace(t);
      break;
    default:
      break;
  }
  if (!cmd.has_size) FUZZ_CHECK(cmd.size == 0);
  if (cmd.has_size) FUZZ_CHECK(cmd.verb == Verb::kMail);
}

std::vector<std::string> runSession(std::string_view input, const Config& cfg, Chunking how, bool* sawData) {
  LineReader reader(cfg.maxLine);
  std::unique_ptr<DataReader> data;
  DataRef ref;
  size_t dataStart = 0;
  Transaction t;
  std::vector<std::string> log;
  size_t streamPos = 0;  // octets of `input` consumed so far
  for (std::string_view piece : postern::fuzz::chunks(input, how)) {
    size_t off = 0;
    while (off < piece.size()) {
      const std::string_view rest = piece.substr(off);
      if (data) {
        const size_t n = data->consume(rest);
        FUZZ_CHECK(n <= rest.size());
        FUZZ_CHECK(n == rest.size() || data->done());
        off += n;
        streamPos += n;
        if (!data->done()) continue;
        FUZZ_CHECK(ref.done && streamPos == dataStart + ref.consumed);
        FUZZ_CHECK(data->size() == ref.body.size());
        FUZZ_CHECK(data->tooBig() == (ref.body.size() > cfg.dataLimit));
        if (!data->tooBig()) FUZZ_CHECK(data->body() == ref.body);
        log.push_back("D" + std::to_string(data->size()) + (data->tooBig() ? "!" : ":") +
                      (data->tooBig() ? std::string() : data->body()));
        data.reset();
        continue;
      }
      LineReader::Event ev;
      std::string line = "stale";
      const size_t n = reader.consume(rest, &ev, &line);
      FUZZ_CHECK(n > 0 && n <= rest.size());
      off += n;
      streamPos += n;
      if (ev == LineReader::Event::kNone) {
        FUZZ_CHECK(n == rest.size() && rest.find('\n') == std::string_view::npos);
        FUZZ_CHECK(line == "stale");
        continue;
      }
      FUZZ_CHECK(rest[n - 1] == '\n');
      if (ev == LineReader::Event::kTooLong) {
        log.push_back("T");
        continue;
      }
      FUZZ_CHECK(line.size() <= cfg.maxLine && line.find('\n') == std::string::npos);
      log.push_back("L" + line);
      const Command cmd = parseCommand(line);
      checkCommand(line, cmd, t);
      if (cmd.verb == Verb::kData && cmd.error.empty()) {
        data = std::make_unique<DataReader>(cfg.dataLimit);
        dataStart = streamPos;
        ref = expectedData(input.substr(streamPos));
        *sawData = true;
      }
    }
  }
  if (data) {
    FUZZ_CHECK(!ref.done && streamPos == input.size());
    log.push_back("d" + std::to_string(data->size()));
  }
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const Config& cfg : kConfigs) {
    bool sawData = false;
    const auto want = runSession(input, cfg, Chunking::kWhole, &sawData);
    if (!sawData) FUZZ_CHECK(want == expectedLines(input, cfg.maxLine));
    for (Chunking how : {Chunking::kBytes, Chunking::kRandom}) {
      bool ignored = false;
      const auto got = runSession(input, cfg, how, &ignored);
      if (got != want) {
        size_t i = 0;
        while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
        std::fprintf(stderr, "event %zu: want \"%s\" got \"%s\"\n", i,
                     i < want.size() ? want[i].c_str() : "<end>", i < got.size() ? got[i].c_str() : "<end>");
      }
      FUZZ_CHECK(got == want);
    }
  }
  // The parsers on arbitrary text, not just what framing lets through.
  std::string address;
  std::vector<Param> params;
  if (parsePathAndParams(input, &address, &params)) FUZZ_CHECK(!hasCtl(address));
  checkRecipient(input, false);
  return 0;
}
