// Fuzz target: the IMAP command tokeniser (imapd/proto/parser.h) driven the
// way a session drives it, plus every typed helper (types.h, fetch.h,
// mutf7.h, writer.h) run on every argument it produces.
//
// Each input is one client byte stream. It is parsed with the default
// limits and with tiny ones, each time whole, one byte at a time and in
// pseudo-random pieces; the events must not depend on how the stream was
// cut. A session in IDLE or AUTHENTICATE reads raw lines with nextLine().
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fetch.h"
#include "fuzz_util.h"
#include "mutf7.h"
#include "parser.h"
#include "types.h"
#include "writer.h"

namespace {

using namespace postern::imap;
using postern::fuzz::Chunking;

ParserLimits tinyLimits() {
  ParserLimits l;
  l.maxLineLength = 48;
  l.maxLiteral = 16;
  l.maxAppendLiteral = 100;
  l.maxCommandSize = 1024;
  l.maxListDepth = 3;
  l.maxRawLine = 12;
  return l;
}

bool isCtlOr8bit(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c < 0x20 || c >= 0x7f;
}

// RFC 3501 tag characters (ASTRING-CHAR minus "+").
bool validTag(std::string_view tag) {
  if (tag.empty()) return false;
  return std::all_of(tag.begin(), tag.end(),
                     [](char c) { return c != '+' && (isAstringChar(c) || c == ']'); });
}

// Work the typed helpers may do per input, so big inputs stay fast.
struct Budget {
  int writerRoundTrips = 48;
  int seqSets = 256;
};

// Parses one complete command from `text` with default limits.
std::optional<Command> parseOne(std::string_view text) {
  Parser p;
  p.feed(text);
  for (;;) {
    ParseEvent ev = p.next();
    if (ev.kind == ParseEvent::kNeedContinuation) continue;
    if (ev.kind == ParseEvent::kCommand) return std::move(ev.command);
    return std::nullopt;
  }
}

void describe(const Arg& a, std::string& out) {
  static constexpr char kTypes[] = {'A', 'Q', 'L', '(', 'N'};
  out += kTypes[a.type];
  if (a.literal8) out += '8';
  if (a.type == Arg::kList) {
    for (const Arg& c : a.list) describe(c, out);
    out += ')';
    return;
  }
  out += std::to_string(a.value.size());
  out += ':';
  out += a.value;
}

// ---- sequence sets -----------------------------------------------------------

constexpr uint32_t kStars[] = {0, 1, 2, 5, 1000, 4294967295u};

bool inRanges(const std::vector<SequenceSet::Range>& rs, uint32_t v) {
  return std::any_of(rs.begin(), rs.end(),
                     [&](const SequenceSet::Range& r) { return v >= r.first && v <= r.last; });
}

void checkResolved(const std::vector<SequenceSet::Range>& rs) {
  for (size_t i = 0; i < rs.size(); ++i) {
    FUZZ_CHECK(rs[i].first <= rs[i].last);
    if (i > 0) FUZZ_CHECK(uint64_t{rs[i - 1].last} + 1 < uint64_t{rs[i].first});
  }
}

void checkSequenceSet(const Arg& a, Budget& budget) {
  for (bool allowSaved : {false, true}) {
    auto set = SequenceSet::fromArg(a, allowSaved);
    if (!set) {
      FUZZ_CHECK(!set.reason().empty());
      continue;
    }
    if (budget.seqSets-- <= 0) return;
    FUZZ_CHECK(a.type == Arg::kAtom);
    if (set->saved()) {
      FUZZ_CHECK(allowSaved && a.value == "$");
      continue;
    }
    const auto& ranges = set->ranges();
    FUZZ_CHECK(!ranges.empty());
    auto again = SequenceSet::parse(set->toString());
    FUZZ_CHECK(again && again->ranges() == ranges);

    uint32_t maxExplicit = 0;
    bool star = false;
    for (const auto& r : ranges) {
      maxExplicit = std::max({maxExplicit, r.first, r.last});
      star = star || r.first == SequenceSet::kStar || r.last == SequenceSet::kStar;
    }
    FUZZ_CHECK(set->maxExplicit() == maxExplicit);
    FUZZ_CHECK(set->usesStar() == star);
    const bool small = ranges.size() <= 64;

    for (uint32_t s : kStars) {
      const auto resolved = set->resolve(s);
      checkResolved(resolved);
      FUZZ_CHECK(resolved.size() <= ranges.size());
      if (!small) continue;
      for (const auto& r : ranges) {
        const uint32_t x = r.first == SequenceSet::kStar ? s : r.first;
        const uint32_t y = r.last == SequenceSet::kStar ? s : r.last;
        FUZZ_CHECK(inRanges(resolved, x) && inRanges(resolved, y));
      }
      for (const auto& r : resolved) {
        for (uint64_t v :
             {uint64_t{r.first} - 1, uint64_t{r.first}, uint64_t{r.last}, uint64_t{r.last} + 1}) {
          if (v > 4294967295u) continue;
          const auto v32 = static_cast<uint32_t>(v);
          FUZZ_CHECK(set->contains(v32, s) == inRanges(resolved, v32));
        }
      }
    }
    if (!small) continue;

    for (uint32_t count : {0u, 1u, 3u, 10u}) {
      const auto clamped = set->clamp(count);
      checkResolved(clamped);
      for (uint32_t v = 0; v <= 11; ++v) {
        const bool want = v >= 1 && v <= count && set->contains(v, count);
        FUZZ_CHECK(inRanges(clamped, v) == want);
      }
    }

    static const std::vector<std::vector<uint32_t>> kMailboxes = {{},
                                                                  {1},
                                                                  {1, 2, 3, 5, 8, 13, 21},
                                                                  {4294967295u},
                                                                  {2, 4, 6, 8, 10, 12, 14, 16, 18, 20},
                                                                  {7, 100, 1000, 4294967294u}};
    for (const auto& mbox : kMailboxes) {
      const auto got = set->select(mbox);
      std::vector<uint32_t> want;
      if (!mbox.empty()) {
        for (uint32_t v : mbox) {
          if (set->contains(v, mbox.back())) want.push_back(v);
        }
      }
      FUZZ_CHECK(got == want);
      if (!got.empty()) {
        auto re = SequenceSet::parse(SequenceSet::format(got));
        FUZZ_CHECK(re && re->select(mbox) == got);
      }
    }
  }
}

// ---- FETCH -------------------------------------------------------------------

void checkFetch(const Arg& a) {
  auto req = parseFetchRequest(a);
  if (!req) {
    FUZZ_CHECK(!req.reason().empty());
    return;
  }
  FUZZ_CHECK(!req->items.empty());
  bool seen = false;
  for (const FetchItem& item : req->items) {
    FUZZ_CHECK(!item.responseName().empty());
    FUZZ_CHECK(req->has(item.kind));
    seen = seen || item.setsSeen();
    if (item.kind != FetchItem::Kind::kBodySection) continue;
    using Text = BodySection::Text;
    const BodySection& sec = item.section;
    const bool fieldsKind = sec.text == Text::kHeaderFields || sec.text == Text::kHeaderFieldsNot;
    FUZZ_CHECK(fieldsKind == !sec.fields.empty());
    FUZZ_CHECK(sec.text != Text::kMime || !sec.part.empty());
    for (uint32_t p : sec.part) FUZZ_CHECK(p != 0);
    for (const std::string& f : sec.fields) FUZZ_CHECK(!f.empty() && toUpper(f) == f);
    if (item.partialOffset) FUZZ_CHECK(item.partialLength > 0);

    // The canonical text parses back to the same item, directly and
    // through the tokeniser (a client echoing it would send this atom).
    std::string canon = std::string(item.peek ? "BODY.PEEK[" : "BODY[") + sec.toString() + "]";
    if (item.partialOffset) {
      canon += "<" + std::to_string(*item.partialOffset) + "." + std::to_string(item.partialLength) + ">";
    }
    auto again = parseFetchAtt(canon);
    if (!again || !(again->section == sec)) {
      std::fprintf(stderr, "canonical form does not parse back: %s\n", canon.c_str());
    }
    FUZZ_CHECK(again && again->section == sec && again->peek == item.peek);
    FUZZ_CHECK(again->partialOffset == item.partialOffset && again->partialLength == item.partialLength);
    auto cmd = parseOne("t FETCH 1 " + canon + "\r\n");
    FUZZ_CHECK(cmd && cmd->args.size() == 2 && cmd->args[1].type == Arg::kAtom &&
               cmd->args[1].value == canon);
    FUZZ_CHECK(item.responseName().rfind("BODY[" + sec.toString() + "]", 0) == 0);
  }
  FUZZ_CHECK(req->setsSeen() == seen);
}

// ---- flags -------------------------------------------------------------------

void checkFlagSet(const FlagSet& f, bool allowRecent) {
  if (!allowRecent) FUZZ_CHECK(!f.has(kFlagRecent));
  for (size_t i = 0; i < f.keywords.size(); ++i) {
    FUZZ_CHECK(!f.keywords[i].empty() && f.keywords[i][0] != '\\');
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(!iequals(f.keywords[i], f.keywords[j]));
  }
}

void checkFlags(const Arg& a) {
  for (bool allowRecent : {false, true}) {
    auto flags = parseFlagList(a, allowRecent);
    if (!flags) continue;
    FUZZ_CHECK(a.isList());
    checkFlagSet(*flags, allowRecent);
    std::string out;
    appendFlags(out, *flags);
    auto cmd = parseOne("t STORE 1 FLAGS " + out + "\r\n");
    FUZZ_CHECK(cmd && cmd->args.size() == 3);
    auto again = parseFlagList(cmd->args[2], true);
    FUZZ_CHECK(again && *again == *flags);
  }
  if (auto atom = argAtom(a)) {
    if (auto act = parseStoreAction(*atom)) {
      std::string_view rest = *atom;
      if (act->op != StoreAction::kReplace) rest.remove_prefix(1);
      FUZZ_CHECK(iequals(rest, act->silent ? "FLAGS.SILENT" : "FLAGS"));
    }
  }
}

// ---- strings, dates, mailbox names ------------------------------------------

void checkDates(std::string_view v) {
  if (auto d = parseDate(v)) {
    FUZZ_CHECK(d->month >= 1 && d->month <= 12 && d->day >= 1 && d->day <= 31);
    FUZZ_CHECK(dateFromDays(d->daysSinceEpoch()) == *d);
  }
  if (auto dt = parseDateTime(v)) {
    const std::string text = formatDateTime(dt->utc, dt->tzOffsetMinutes);
    std::string quoted;
    appendDateTime(quoted, dt->utc, dt->tzOffsetMinutes);
    FUZZ_CHECK(quoted == "\"" + text + "\"");
    // Until year 10000 the formatted text reads back as the same instant.
    if (dt->utc + int64_t{dt->tzOffsetMinutes} * 60 < 253402300800) {
      auto again = parseDateTime(text);
      FUZZ_CHECK(again && *again == *dt);
    }
  }
}

void checkMutf7(std::string_view v) {
  if (auto utf8 = mutf7ToUtf8(v)) {
    FUZZ_CHECK(isValidMutf7(v));
    auto back = utf8ToMutf7(*utf8);
    FUZZ_CHECK(back && *back == v);  // only canonical text decodes
  } else {
    FUZZ_CHECK(!isValidMutf7(v));
  }
  if (auto m = utf8ToMutf7(v)) {
    FUZZ_CHECK(std::none_of(m->begin(), m->end(), isCtlOr8bit));
    auto back = mutf7ToUtf8(*m);
    FUZZ_CHECK(back && *back == v);
  }
}

void checkWriter(std::string_view v, Budget& budget) {
  if (v.size() > 8192 || budget.writerRoundTrips-- <= 0) return;
  // A bare atom with "[" but no "]" would open a BODY[...]-style section in
  // this (server-side) tokeniser; writer output goes to clients, which read
  // it as a plain atom.
  const bool bracket = v.find('[') != std::string_view::npos;
  for (bool allow8bit : {false, true}) {
    std::string s;
    appendString(s, v, allow8bit);
    FUZZ_CHECK(!canQuote(v, allow8bit) || s.size() <= v.size() * 2 + 2);
    std::string out = "t X ";
    appendAstring(out, v, allow8bit);
    out += "\r\n";
    if (bracket) continue;
    auto cmd = parseOne(out);
    FUZZ_CHECK(cmd && cmd->args.size() == 1);
    auto back = argAstring(cmd->args[0]);
    // Literals are CHAR8 (RFC 3501 9): the writer sends each NUL as 0x80.
    std::string want(v);
    for (auto& c : want)
      if (c == '\0') c = '\x80';
    FUZZ_CHECK(back && *back == want);
  }
}

void checkStrings(const Arg& a, Budget& budget) {
  auto astring = argAstring(a);
  auto string = argString(a);
  auto listMailbox = argListMailbox(a);
  auto atom = argAtom(a);
  FUZZ_CHECK(string.has_value() == a.isString());
  FUZZ_CHECK(atom.has_value() == (a.type == Arg::kAtom || a.type == Arg::kNil));
  if (a.isString()) FUZZ_CHECK(astring && listMailbox);
  if (astring) FUZZ_CHECK(listMailbox && *listMailbox == *astring);
  if (a.isList()) return;
  const std::string_view v = a.value;
  checkDates(v);
  checkMutf7(v);
  checkWriter(v, budget);
  const std::string norm = normalizeMailbox(v);
  FUZZ_CHECK(norm.size() == v.size() && normalizeMailbox(norm) == norm);
}

// ---- arguments and commands -------------------------------------------------

void checkArg(const Arg& a, size_t depth, const ParserLimits& lim, size_t literalMax, Budget& budget) {
  FUZZ_CHECK(a.type == Arg::kList || a.list.empty());
  FUZZ_CHECK(!a.literal8 || a.type == Arg::kLiteral);
  switch (a.type) {
    case Arg::kList:
      FUZZ_CHECK(a.value.empty());
      FUZZ_CHECK(depth < lim.maxListDepth);
      for (const Arg& c : a.list) checkArg(c, depth + 1, lim, literalMax, budget);
      break;
    case Arg::kAtom:
      FUZZ_CHECK(!a.value.empty() && !iequals(a.value, "NIL"));
      FUZZ_CHECK(a.value.size() <= lim.maxLineLength);
      // Outside "[...]" only ATOM-CHARs; inside, quoted names may carry
      // anything a quoted string may.
      FUZZ_CHECK(a.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
      if (a.value.find('[') == std::string::npos) {
        for (char c : a.value) FUZZ_CHECK(!isCtlOr8bit(c) && c != ' ');
      }
      break;
    case Arg::kNil:
      FUZZ_CHECK(iequals(a.value, "NIL"));
      break;
    case Arg::kQuoted:
      FUZZ_CHECK(a.value.size() <= lim.maxLineLength);
      FUZZ_CHECK(a.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
      break;
    case Arg::kLiteral:
      FUZZ_CHECK(a.value.size() <= literalMax);
      break;
  }
  checkSequenceSet(a, budget);
  checkFetch(a);
  checkFlags(a);
  checkStrings(a, budget);
}

size_t argBytes(const Arg& a) {
  size_t n = a.value.size();
  for (const Arg& c : a.list) n += argBytes(c);
  return n;
}

void checkCommand(const Command& cmd, const ParserLimits& lim, Budget& budget) {
  FUZZ_CHECK(validTag(cmd.tag));
  FUZZ_CHECK(!cmd.name.empty() && toUpper(cmd.name) == cmd.name);
  const size_t literalMax = cmd.name == "APPEND" ? lim.maxAppendLiteral : lim.maxLiteral;
  size_t bytes = cmd.tag.size() + cmd.name.size();
  for (const Arg& a : cmd.args) {
    checkArg(a, 0, lim, literalMax, budget);
    bytes += argBytes(a);
  }
  FUZZ_CHECK(bytes <= lim.maxCommandSize);
  // STORE-style flag arguments, from each of the first few positions.
  for (size_t i = 0; i < cmd.args.size() && i < 4; ++i) {
    for (bool allowRecent : {false, true}) {
      auto flags = parseStoreFlags(std::span<const Arg>(cmd.args).subspan(i), allowRecent);
      if (flags) checkFlagSet(*flags, allowRecent);
    }
  }
}

// ---- the session loop -------------------------------------------------------

std::vector<std::string> runSession(std::string_view input, const ParserLimits& lim, Chunking how,
                                    bool helpers) {
  enum class Mode { kCommands, kRawUntilDone, kRawOnce };
  Parser p(lim);
  Budget budget;
  Mode mode = Mode::kCommands;
  std::vector<std::string> log;
  bool closed = false;
  for (std::string_view piece : postern::fuzz::chunks(input, how)) {
    if (closed) break;
    FUZZ_CHECK(p.buffered() == 0);
    p.feed(piece);
    FUZZ_CHECK(p.buffered() == piece.size());
    for (;;) {
      if (mode != Mode::kCommands) {
        auto line = p.nextLine();
        if (!line) {
          FUZZ_CHECK(p.buffered() == 0);
          break;
        }
        FUZZ_CHECK(line->size() <= lim.maxRawLine);
        FUZZ_CHECK(line->find('\n') == std::string::npos);
        log.push_back(std::string(p.lastLineTruncated() ? "LT:" : "L:") + *line);
        if (mode == Mode::kRawOnce || iequals(*line, "DONE")) mode = Mode::kCommands;
        continue;
      }
      const size_t before = p.buffered();
      ParseEvent ev = p.next();
      FUZZ_CHECK(p.buffered() <= before);
      switch (ev.kind) {
        case ParseEvent::kNeedMore:
          FUZZ_CHECK(p.buffered() == 0);
          FUZZ_CHECK(p.next().kind == ParseEvent::kNeedMore);  // nothing without input
          FUZZ_CHECK(!p.nextLine());
          break;
        case ParseEvent::kNeedContinuation: {
          FUZZ_CHECK(!p.idle());
          const size_t held = p.buffered();
          FUZZ_CHECK(!p.nextLine());  // raw lines only between commands
          FUZZ_CHECK(p.buffered() == held);
          log.push_back("+");
          continue;
        }
        case ParseEvent::kError:
          FUZZ_CHECK(ev.error.tag == "*" || validTag(ev.error.tag));
          FUZZ_CHECK(!ev.error.reason.empty());
          log.push_back("E" + std::to_string(ev.error.kind) + (ev.error.fatal ? "!" : "") + ev.error.tag +
                        " " + ev.error.reason);
          if (ev.error.fatal) closed = true;
          if (closed) break;
          continue;
        case ParseEvent::kCommand: {
          FUZZ_CHECK(p.idle());
          const Command& cmd = ev.command;
          if (helpers) checkCommand(cmd, lim, budget);
          std::string line = "C" + cmd.tag + " " + cmd.name;
          for (const Arg& a : cmd.args) describe(a, line);
          log.push_back(std::move(line));
          if (cmd.name == "IDLE") mode = Mode::kRawUntilDone;
          if (cmd.name == "AUTHENTICATE" && cmd.args.size() == 1) mode = Mode::kRawOnce;
          continue;
        }
      }
      break;
    }
  }
  return log;
}

void compareLogs(const std::vector<std::string>& want, const std::vector<std::string>& got, const char* how) {
  if (want == got) return;
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  std::fprintf(stderr, "chunking %s changed event %zu: want \"%s\" got \"%s\"\n", how, i,
               i < want.size() ? want[i].c_str() : "<end>", i < got.size() ? got[i].c_str() : "<end>");
  FUZZ_CHECK(want == got);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const ParserLimits& lim : {ParserLimits{}, tinyLimits()}) {
    const auto want = runSession(input, lim, Chunking::kWhole, true);
    compareLogs(want, runSession(input, lim, Chunking::kBytes, false), "bytes");
    compareLogs(want, runSession(input, lim, Chunking::kRandom, false), "random");
  }
  return 0;
}
