// SEARCH and UID SEARCH (RFC 3501 6.4.4). Flag, size, date, set and
// boolean keys are answered from the MailboxView. BODY, TEXT and the header
// keys FROM, TO, CC, BCC, SUBJECT, HEADER (case-insensitive substrings of
// the decoded texts) are answered by stored from the search texts it keeps
// at delivery (StoreClient::searchText); the messages it has none for are
// scanned here, their header blocks or whole bodies streamed and decoded
// (mime::headerContains / bodyContains), which gives the same answer. SENT*
// (and HEADER of a field name a search text cannot answer) read the header
// blocks.
#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "command.h"
#include "mime/decode.h"
#include "mime/mime.h"
#include "msgset.h"
#include "section.h"
#include "types.h"

namespace postern::imapd {
namespace {

struct Key {
  enum Op { kAll, kRecent, kSentBefore, kSentOn, kSentSince, kFlag, kNotFlag, kKeyword, kNotKeyword, kLarger, kSmaller, kNot, kOr, kAnd,
            kSeqs, kUids, kBefore, kOn, kSince, kHeader, kBody, kText, kNone };
  Op op = kAll;
  uint64_t num = 0;
  std::string str, field;
  std::string raw;  // the search string as sent (UTF-8)
  size_t needle = kNoNeedle;  // BODY / TEXT / header keys: index in KeyParser::needles
  static constexpr size_t kNoNeedle = ~size_t(0);
  std::vector<uint32_t> set;  // sorted seqs or uids
  std::vector<Key> kids;
};


class KeyParser {
 public:
  KeyParser(const MailboxView& v, const std::vector<imap::Arg>& args) : v_(v), a_(args) {}

  bool parseAll(Key* out, std::string* err) {
    out->op = Key::kAnd;
    if (i_ < a_.size() && a_[i_].type == imap::Arg::kAtom && imap::iequals(a_[i_].value, "CHARSET")) {
      if (i_ + 1 >= a_.size()) return fail(err, "CHARSET needs a name");
      auto cs = imap::argAstring(a_[i_ + 1]);
      if (!cs || !(imap::iequals(*cs, "US-ASCII") || imap::iequals(*cs, "UTF-8")))
        return fail(err, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
      i_ += 2;
    }
    if (i_ >= a_.size()) return fail(err, "SEARCH needs at least one key");
    while (i_ < a_.size()) {
      Key k;
      if (!parseKey(&k, err, 0)) return false;
      out->kids.push_back(std::move(k));
    }
    return true;
  }

  bool needsHeader = false;      // header keys: the header block suffices (or the search texts)
  bool needsBody = false;        // BODY / TEXT: whole messages (or the search texts)
  bool needsHeaderBlock = false;  // SENT*, HEADER of an odd field name: the header block itself
  std::vector<TextNeedle> needles;  // the strings of BODY / TEXT / header keys, in key order

 private:
  bool fail(std::string* err, std::string m) {
    if (err->empty()) *err = std::move(m);
    return false;
  }

  std::optional<std::string> str(std::string* err) {
    if (i_ >= a_.size()) return fail(err, "Missing search argument"), std::nullopt;
    auto s = imap::argAstring(a_[i_]);
    if (!s) return fail(err, "Invalid search argument"), std::nullopt;
    ++i_;
    return std::string(*s);
  }

  bool parseKey(Key* k, std::string* err, int depth) {
    if (depth > 32) return fail(err, "Search too deeply nested");
    if (i_ >= a_.size()) return fail(err, "Missing search key");
    const imap::Arg& arg = a_[i_];
    if (arg.isList()) {
      KeyParser sub(v_, arg.list);
      ++i_;
      k->op = Key::kAnd;
      if (arg.list.empty()) return fail(err, "Empty search list");
      while (sub.i_ < sub.a_.size()) {
        Key kid;
        if (!sub.parseKey(&kid, err, depth + 1)) return false;
        k->kids.push_back(std::move(kid));
      }
      needsHeader |= sub.needsHeader;
      needsBody |= sub.needsBody;
      needsHeaderBlock |= sub.needsHeaderBlock;
      for (auto& kid : k->kids) renumber(&kid, needles.size());
      for (auto& n : sub.needles) needles.push_back(std::move(n));
      return true;
    }
    auto at = imap::argAtom(arg);
    if (!at) return fail(err, "Invalid search key");
    std::string u = imap::toUpper(*at);
    ++i_;
    static const std::pair<const char*, uint64_t> kFlags[] = {
        {"ANSWERED", flag::kAnswered}, {"DELETED", flag::kDeleted}, {"DRAFT", flag::kDraft},
        {"FLAGGED", flag::kFlagged}, {"SEEN", flag::kSeen}};
    for (auto [name, bit] : kFlags) {
      if (u == name) {
        k->op = bit ? Key::kFlag : Key::kAll;
        k->num = bit;
        return true;
      }
      if (u == std::string("UN") + name) {
        k->op = Key::kNotFlag;
        k->num = bit;
        return true;
      }
    }
    if (u == "ALL") return k->op = Key::kAll, true;
    if (u == "RECENT") return k->op = Key::kRecent, true;
    if (u == "OLD") {  // NOT RECENT
      k->op = Key::kNot;
      k->kids.emplace_back();
      k->kids[0].op = Key::kRecent;
      return true;
    }
    if (u == "NEW") {  // RECENT UNSEEN
      k->op = Key::kAnd;
      k->kids.resize(2);
      k->kids[0].op = Key::kRecent;
      k->kids[1].op = Key::kNotFlag;
      k->kids[1].num = flag::kSeen;
      return true;
    }
    if (u == "KEYWORD" || u == "UNKEYWORD") {
      auto s = str(err);
      if (!s) return false;
      k->op = u == "KEYWORD" ? Key::kKeyword : Key::kNotKeyword;
      k->str = *s;
      return true;
    }
    if (u == "LARGER" || u == "SMALLER") {
      auto s = str(err);
      if (!s || s->empty() || s->size() > 10 || !std::all_of(s->begin(), s->end(), ::isdigit))
        return fail(err, "Invalid number");
      k->op = u == "LARGER" ? Key::kLarger : Key::kSmaller;
      k->num = std::stoull(*s);
      return true;
    }
    if (u == "BEFORE" || u == "ON" || u == "SINCE" || u == "SENTBEFORE" || u == "SENTON" || u == "SENTSINCE") {
      auto s = str(err);
      auto d = s ? imap::parseDate(*s) : std::nullopt;
      if (!d) return fail(err, "Invalid date");
      k->num = static_cast<uint64_t>(d->daysSinceEpoch());
      if (u.rfind("SENT", 0) == 0) {  // by the Date: header, time and zone disregarded
        k->op = u == "SENTBEFORE" ? Key::kSentBefore : u == "SENTON" ? Key::kSentOn : Key::kSentSince;
        needsHeader = true;
        needsHeaderBlock = true;
        return true;
      }
      k->op = u == "BEFORE" ? Key::kBefore : u == "ON" ? Key::kOn : Key::kSince;
      return true;
    }
    if (u == "NOT") {
      k->op = Key::kNot;
      k->kids.emplace_back();
      return parseKey(&k->kids[0], err, depth + 1);
    }
    if (u == "OR") {
      k->op = Key::kOr;
      k->kids.resize(2);
      return parseKey(&k->kids[0], err, depth + 1) && parseKey(&k->kids[1], err, depth + 1);
    }
    if (u == "UID") {
      if (i_ >= a_.size()) return fail(err, "UID needs a set");
      auto r = resolveSeqs(v_, a_[i_++], true);
      if (!r) return fail(err, r.reason());
      k->op = Key::kSeqs;
      k->set = r.value();
      return true;
    }
    static const char* kHeaders[] = {"FROM", "TO", "CC", "BCC", "SUBJECT"};
    for (const char* h : kHeaders) {
      if (u == h) {
        auto s = str(err);
        if (!s) return false;
        k->op = Key::kHeader;
        k->field = h;
        k->str = imap::toUpper(*s);
        k->raw = *s;
        headerNeedle(k);
        return true;
      }
    }
    if (u == "HEADER") {
      auto f = str(err);
      auto s = f ? str(err) : std::nullopt;
      if (!s) return false;
      k->op = Key::kHeader;
      k->field = imap::toUpper(*f);
      k->str = imap::toUpper(*s);
      k->raw = *s;
      headerNeedle(k);
      return true;
    }
    if (u == "BODY" || u == "TEXT") {
      auto s = str(err);
      if (!s) return false;
      k->op = u == "BODY" ? Key::kBody : Key::kText;
      k->str = imap::toUpper(*s);
      k->raw = *s;
      k->needle = needles.size();
      needles.push_back(TextNeedle{*s, k->op == Key::kText ? mime::SearchScope::kText : mime::SearchScope::kBody, {}});
      needsBody = true;
      return true;
    }
    // A bare sequence set.
    auto r = resolveSearchSeqs(v_, arg);
    if (!r) return fail(err, "Unknown search key " + u.substr(0, 30));
    k->op = Key::kSeqs;
    k->set = r.value();
    return true;
  }

  // A header key: a needle when a search text can answer it (HEADER "" n
  // looks at whole "Name: value" texts, as headerContains does).
  void headerNeedle(Key* k) {
    needsHeader = true;
    if (k->field.empty() || mime::searchableField(k->field)) {
      k->needle = needles.size();
      needles.push_back(TextNeedle{k->raw, k->field.empty() ? mime::SearchScope::kHeader : mime::SearchScope::kField,
                                   k->field});
    } else {
      needsHeaderBlock = true;
    }
  }

  // A parenthesised list's parser numbers its needles from 0; shifted by
  // `base` once they join this parser's list.
  static void renumber(Key* k, size_t base) {
    if (k->needle != Key::kNoNeedle) k->needle += base;
    for (auto& kid : k->kids) renumber(&kid, base);
  }

  const MailboxView& v_;
  const std::vector<imap::Arg>& a_;
  size_t i_ = 0;
};

// The day of an RFC 5322 Date: header ("Tue, 1 Jul 2003 10:52:37 +0200"),
// disregarding time and zone (RFC 3501 SENT* keys); nullopt if unreadable.
std::optional<int64_t> sentDay(const std::string& body) {
  std::string h = headerFields(headerOf(body), {"DATE"}, false);
  size_t colon = h.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string v = h.substr(colon + 1);
  if (size_t comma = v.find(','); comma != std::string::npos) v = v.substr(comma + 1);
  std::istringstream in(v);
  std::string day, mon, year;
  if (!(in >> day >> mon >> year)) return std::nullopt;
  if (year.size() == 2) year = (year < "50" ? "20" : "19") + year;  // RFC 5322 obs-year
  auto d = imap::parseDate(day + "-" + mon.substr(0, 3) + "-" + year);
  if (!d) return std::nullopt;
  return d->daysSinceEpoch();
}

// One message's text for the header and body keys: the whole message, or
// just its header block, which headerOf() returns unchanged. With `found`
// (stored's answer for the BODY / TEXT needles: bit i for needle i) those
// keys read it, not the text. The MIME structure is parsed at most once per
// message, however many keys look at it, and only for a BODY / TEXT scan.
struct Text {
  const std::string* body = nullptr;
  std::optional<uint64_t> found = std::nullopt;
  mutable std::optional<mime::Structure> parsed;
  const mime::Structure& structure() const {
    if (!parsed) parsed = mime::parse(*body);
    return *parsed;
  }
};

bool eval(const Key& k, const MailboxView& v, uint32_t seq, const Text& text) {
  const std::string* body = text.body;
  const MessageMeta& m = v.at(seq);
  auto kwBit = [&](const std::string& name) -> uint64_t {
    for (size_t i = 0; i < v.keywords().size(); ++i)
      if (imap::iequals(v.keywords()[i], name)) return 1ull << (flag::kKeywordBase + i);
    return 0;
  };
  int64_t day = (m.internaldate + static_cast<int64_t>(m.tzoffset) * 60);
  day = day >= 0 ? day / 86400 : (day - 86399) / 86400;
  switch (k.op) {
    case Key::kAll: return true;
    case Key::kRecent: return v.isRecent(m.uid);
    case Key::kNone: return false;
    case Key::kFlag: return (m.flags & k.num) != 0;
    case Key::kNotFlag: return (m.flags & k.num) == 0;
    case Key::kKeyword: return (m.flags & kwBit(k.str)) != 0;
    case Key::kNotKeyword: { uint64_t b = kwBit(k.str); return b == 0 || (m.flags & b) == 0; }
    case Key::kLarger: return m.size > k.num;
    case Key::kSmaller: return m.size < k.num;
    case Key::kNot: return !eval(k.kids[0], v, seq, text);
    case Key::kOr: return eval(k.kids[0], v, seq, text) || eval(k.kids[1], v, seq, text);
    case Key::kAnd:
      for (const auto& c : k.kids)
        if (!eval(c, v, seq, text)) return false;
      return true;
    case Key::kSeqs: return std::binary_search(k.set.begin(), k.set.end(), seq);
    case Key::kUids: return false;
    case Key::kSentBefore:
    case Key::kSentOn:
    case Key::kSentSince: {
      // No readable Date: header: fall back to INTERNALDATE, as Dovecot does.
      int64_t d = day;
      if (body)
        if (auto s = sentDay(*body)) d = *s;
      int64_t want = static_cast<int64_t>(k.num);
      return k.op == Key::kSentBefore ? d < want : k.op == Key::kSentOn ? d == want : d >= want;
    }
    case Key::kBefore: return day < static_cast<int64_t>(k.num);
    case Key::kOn: return day == static_cast<int64_t>(k.num);
    case Key::kSince: return day >= static_cast<int64_t>(k.num);
    // Decoded text (RFC 2047 words, base64/QP bodies, charsets -> UTF-8),
    // case-insensitive, through the MIME engine.
    case Key::kHeader:
      if (text.found && k.needle != Key::kNoNeedle) return (*text.found >> k.needle) & 1;
      return body && mime::headerContains(headerOf(*body), k.field, k.raw);
    case Key::kBody:
      if (text.found) return (*text.found >> k.needle) & 1;
      return body && mime::bodyContains(*body, text.structure(), k.raw);
    case Key::kText:
      if (text.found) return (*text.found >> k.needle) & 1;
      return body && (mime::headerContains(headerOf(*body), "", k.raw) ||
                      mime::bodyContains(*body, text.structure(), k.raw));
  }
  return false;
}

void answer(const std::shared_ptr<CommandContext>& ctx, const std::vector<uint32_t>& seqs) {
  MailboxView* v = ctx->session().selected();
  std::string line = "SEARCH";
  for (uint32_t s : seqs) line += " " + std::to_string(ctx->uid() ? v->at(s).uid : s);
  ctx->untagged(line);
  ctx->ok(ctx->uid() ? "UID SEARCH completed" : "SEARCH completed");
}

// One SEARCH over a mailbox's messages in steps (search texts, header
// blocks, scanned bodies), each a callback of the store.
struct Run {
  std::shared_ptr<CommandContext> ctx;
  std::shared_ptr<Key> key;
  std::vector<uint32_t> hits;                   // seqs
  std::unordered_map<uint32_t, uint64_t> found;  // uid -> needles found (indexed messages)
  bool indexed = false;                         // `found` answers BODY / TEXT

  void eval(uint32_t uid, const std::string* body, bool use_found) {
    MailboxView* v = ctx->session().selected();
    if (!v) return;
    uint32_t seq = v->seqOf(uid);
    if (!seq) return;
    Text t;
    t.body = body;
    if (use_found) {
      auto it = found.find(uid);
      t.found = it == found.end() ? 0 : it->second;
    }
    if (postern::imapd::eval(*key, *v, seq, t)) hits.push_back(seq);
  }
};

// Evaluates `uids`: with their header blocks and stored's BODY / TEXT answers
// (`use_found`), or with their whole bodies; then runs `next`.
void evalStreamed(const std::shared_ptr<Run>& run, std::vector<uint32_t> uids, bool use_found, bool headers,
                  std::function<void()> next) {
  CommandContext& ctx = *run->ctx;
  MailboxView* v = ctx.session().selected();
  if (uids.empty() || !v) return next();
  auto on_message = [run, use_found](uint32_t uid, Result<std::string> body) -> bool {
    if (body.ok()) run->eval(uid, &body.value(), use_found);  // an unreadable message matches nothing
    return true;
  };
  auto done = [run, next = std::move(next)](Error e) {
    if (!e.ok()) return run->ctx->fail(e, "SEARCH");
    next();
  };
  if (headers)
    ctx.store().fetchHeaders(ctx.session().user(), v->id(), std::move(uids), std::move(on_message), std::move(done));
  else
    ctx.store().fetchBodies(ctx.session().user(), v->id(), std::move(uids), std::move(on_message), std::move(done));
}

}  // namespace

void cmdSearch(CommandContext& ctx) {
  MailboxView* v = ctx.session().selected();
  KeyParser p(*v, ctx.args());
  auto key = std::make_shared<Key>();
  std::string err;
  if (!p.parseAll(key.get(), &err)) {
    if (err.rfind("[BADCHARSET", 0) == 0) return ctx.no(err);
    return ctx.bad(err);
  }
  auto self = ctx.self();
  if (!p.needsBody && !p.needsHeader) {
    std::vector<uint32_t> hits;
    for (uint32_t s = 1; s <= v->count(); ++s)
      if (eval(*key, *v, s, Text{})) hits.push_back(s);
    return answer(self, hits);
  }
  std::vector<uint32_t> uids;
  for (uint32_t s = 1; s <= v->count(); ++s) uids.push_back(v->at(s).uid);
  if (uids.empty()) return answer(self, {});
  auto run = std::make_shared<Run>();
  run->ctx = self;
  run->key = key;
  auto finish = [run] {
    std::sort(run->hits.begin(), run->hits.end());
    answer(run->ctx, run->hits);
  };
  // A scan streams header blocks only when no BODY / TEXT key needs more.
  const bool scan_headers = !p.needsBody;
  if (p.needles.empty() || p.needles.size() > kMaxTextNeedles)  // none, or more than one answer carries
    return evalStreamed(run, std::move(uids), false, scan_headers, finish);
  // stored answers the needles for the messages it keeps search texts of;
  // the others (stored before those existed, or damaged) are scanned.
  bool headers = p.needsHeaderBlock;
  ctx.store().searchText(
      ctx.session().user(), v->id(), uids, p.needles,
      [run, uids, headers, scan_headers, finish](Result<TextSearchResult> r) mutable {
        if (!r.ok()) return run->ctx->fail(r.error(), "SEARCH");
        std::vector<uint32_t> scan = std::move(r->unindexed);
        std::sort(scan.begin(), scan.end());
        for (const auto& [uid, mask] : r->hits) run->found.emplace(uid, mask);
        std::vector<uint32_t> indexed;
        for (uint32_t uid : uids)
          if (!std::binary_search(scan.begin(), scan.end(), uid)) indexed.push_back(uid);
        auto then_scan = [run, scan = std::move(scan), scan_headers, finish]() mutable {
          evalStreamed(run, std::move(scan), false, scan_headers, finish);
        };
        if (headers) return evalStreamed(run, std::move(indexed), true, true, std::move(then_scan));
        for (uint32_t uid : indexed) run->eval(uid, nullptr, true);
        then_scan();
      });
}

}  // namespace postern::imapd
