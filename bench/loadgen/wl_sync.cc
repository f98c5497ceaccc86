// sync, search and stream: read-only workloads on a mailbox holding exactly the generated
// messages 0 .. messages-1 of --seed (filled by `deliver --first 0`).

#include <strings.h>

#include <cstdio>
#include <set>

#include "mailgen.h"
#include "stats.h"
#include "util.h"
#include "workloads.h"

namespace postern::bench {
namespace {

std::unique_ptr<ImapClient> openSelected(const Options& o, uint32_t* exists) {
  auto c = std::make_unique<ImapClient>(o.target);
  c->login(o.userName(0), o.target.password);
  uint32_t n = c->select(o.mailbox);
  if (n != o.messages)
    fail(o.mailbox + " of " + o.userName(0) + " holds " + std::to_string(n) + " messages, want " +
         std::to_string(o.messages));
  if (exists) *exists = n;
  return c;
}

bool containsCi(const std::string& hay, const char* needle) {
  return strcasestr(hay.c_str(), needle) != nullptr;
}

// Every FETCH answer of `r` once for each of 1..n, each holding `item`.
void checkFetchAll(const ImapReply& r, uint32_t n, const char* item, const char* what) {
  std::vector<bool> seen(n + 1, false);
  uint32_t count = 0;
  for (const auto& u : r.untagged) {
    uint32_t s = fetchSeq(u);
    if (!s) continue;
    if (s > n || seen[s]) fail(std::string(what) + ": unexpected or repeated FETCH for " + std::to_string(s));
    if (!containsCi(u.text, item))
      fail(std::string(what) + ": FETCH without " + item + ": " + u.text.substr(0, 200));
    seen[s] = true;
    ++count;
  }
  if (count != n)
    fail(std::string(what) + ": " + std::to_string(count) + " FETCH responses, want " + std::to_string(n));
}

// ENVELOPE + RFC822.SIZE: every generated message exactly once; sizes of a sample match.
void checkEnvelopes(const Options& o, const ImapReply& r) {
  std::set<long long> ids;
  size_t k = 0, step = std::max<size_t>(1, r.untagged.size() / 300);
  for (const auto& u : r.untagged) {
    if (!fetchSeq(u)) continue;
    long long idx = findMessageIndex(u.text, true);
    for (const auto& l : u.literals)
      if (idx < 0) idx = findMessageIndex(l, true);
    if (idx < 0 || static_cast<uint64_t>(idx) >= o.messages || !ids.insert(idx).second)
      fail("ENVELOPE: missing, unknown or repeated Message-ID: " + u.text.substr(0, 300));
    if (k++ % step == 0) {
      long long size = numberAfter(u.text, "RFC822.SIZE");
      size_t gen = generateMessage(o.seed, static_cast<uint64_t>(idx)).size();
      // The server adds its trace fields (Return-Path, Received, Delivered-To).
      if (size < static_cast<long long>(gen) || size > static_cast<long long>(gen) + 4096)
        fail("RFC822.SIZE " + std::to_string(size) + " of message " + std::to_string(idx) +
             " does not fit its generated size " + std::to_string(gen));
    }
  }
}

// BODYSTRUCTURE of a sample has the generated top-level type.
void checkBodystructures(const Options& o, const ImapReply& r, const ImapReply& env) {
  std::vector<long long> index_of_seq(o.messages + 1, -1);
  for (const auto& u : env.untagged)
    if (uint32_t s = fetchSeq(u); s && s <= o.messages) index_of_seq[s] = findMessageIndex(u.text, true);
  size_t k = 0, step = std::max<size_t>(1, r.untagged.size() / 300);
  for (const auto& u : r.untagged) {
    uint32_t s = fetchSeq(u);
    if (!s || k++ % step) continue;
    long long idx = index_of_seq[s];
    if (idx < 0) continue;
    std::string m = generateMessage(o.seed, static_cast<uint64_t>(idx));
    auto bs = u.text.find("BODYSTRUCTURE (");
    if (bs == std::string::npos) bs = u.text.find("bodystructure (");
    if (bs == std::string::npos) fail("no BODYSTRUCTURE in " + u.text.substr(0, 200));
    std::string tail = u.text.substr(bs + 15);
    bool ok;
    if (m.find("multipart/alternative") != std::string::npos)
      ok = containsCi(tail, "\"alternative\"");
    else if (m.find("multipart/mixed") != std::string::npos)
      ok = containsCi(tail, "\"mixed\"");
    else
      ok = strncasecmp(tail.c_str(), "\"text\" \"plain\"", 14) == 0;
    if (!ok)
      fail("BODYSTRUCTURE of message " + std::to_string(idx) +
           " has the wrong type: " + u.text.substr(0, 200));
  }
}

}  // namespace

void runSync(const Options& o) {
  Report rep("sync");
  rep.set("messages", static_cast<double>(o.messages));
  Samples select, selectOnly;
  for (int i = 0; i < o.repeat; ++i) {
    auto t = Clock::now();
    ImapClient c(o.target);
    c.login(o.userName(0), o.target.password);
    auto ts = Clock::now();
    uint32_t n = c.select(o.mailbox);
    selectOnly.add(msSince(ts));
    select.add(msSince(t));
    if (n != o.messages)
      fail("SELECT: " + std::to_string(n) + " messages, want " + std::to_string(o.messages));
    c.logout();
  }
  rep.set("login_select_ms", select.median());
  rep.set("select_ms", selectOnly.median());
  std::fprintf(stderr, "sync: LOGIN+SELECT %.1f ms (SELECT alone %.1f ms)\n", select.median(),
               selectOnly.median());

  uint32_t n = 0;
  auto c = openSelected(o, &n);
  Samples flags;
  for (int i = 0; i < o.repeat; ++i) {
    auto t = Clock::now();
    ImapReply r = c->ok("UID FETCH 1:* (FLAGS)");
    flags.add(msSince(t));
    checkFetchAll(r, n, "FLAGS", "UID FETCH 1:* (FLAGS)");
  }
  rep.set("uid_fetch_flags_ms", flags.median());
  std::fprintf(stderr, "sync: UID FETCH 1:* (FLAGS) %.1f ms\n", flags.median());

  const std::string envCmd = "FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)";
  ImapReply env;
  if (o.first_time) {
    auto t = Clock::now();
    env = c->ok(envCmd);
    rep.set("envelope_first_s", secondsSince(t));
    std::fprintf(stderr, "sync: ENVELOPE first %.3f s\n", secondsSince(t));
    checkFetchAll(env, n, "ENVELOPE", "FETCH ENVELOPE");
    checkEnvelopes(o, env);
  }
  Samples envRep;
  for (int i = 0; i < o.repeat; ++i) {
    auto t = Clock::now();
    env = c->ok(envCmd);
    envRep.add(msSince(t) / 1000);
    checkFetchAll(env, n, "ENVELOPE", "FETCH ENVELOPE");
  }
  checkEnvelopes(o, env);
  rep.set("envelope_repeat_s", envRep.median());
  std::fprintf(stderr, "sync: ENVELOPE repeated %.3f s\n", envRep.median());

  const std::string bsCmd = "FETCH 1:* (BODYSTRUCTURE)";
  ImapReply bs;
  if (o.first_time) {
    auto t = Clock::now();
    bs = c->ok(bsCmd);
    rep.set("bodystructure_first_s", secondsSince(t));
    std::fprintf(stderr, "sync: BODYSTRUCTURE first %.3f s\n", secondsSince(t));
    checkFetchAll(bs, n, "BODYSTRUCTURE", "FETCH BODYSTRUCTURE");
  }
  Samples bsRep;
  for (int i = 0; i < o.repeat; ++i) {
    auto t = Clock::now();
    bs = c->ok(bsCmd);
    bsRep.add(msSince(t) / 1000);
    checkFetchAll(bs, n, "BODYSTRUCTURE", "FETCH BODYSTRUCTURE");
  }
  checkBodystructures(o, bs, env);
  rep.set("bodystructure_repeat_s", bsRep.median());
  std::fprintf(stderr, "sync: BODYSTRUCTURE repeated %.3f s\n", bsRep.median());
  c->logout();
  rep.print();
}

void runSearch(const Options& o) {
  Report rep("search");
  rep.set("messages", static_cast<double>(o.messages));
  auto c = openSelected(o, nullptr);
  for (const auto& term : kSearchTerms) {
    Samples s;
    uint64_t want = expectedHits(term, o.messages);
    for (int i = 0; i < o.repeat; ++i) {
      auto t = Clock::now();
      ImapReply r = c->ok(std::string("UID SEARCH ") + term.key + " " + term.word);
      s.add(msSince(t));
      auto hits = searchHits(r);
      if (hits.size() != want)
        fail(std::string("UID SEARCH ") + term.key + " " + term.word + ": " + std::to_string(hits.size()) +
             " hits, want " + std::to_string(want));
    }
    std::string key = term.key;
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    rep.set("search_" + key + "_ms", s.median());
    rep.set("search_" + key + "_hits", static_cast<double>(want));
    std::fprintf(stderr, "search: %s %s -> %llu hits, %.1f ms\n", term.key, term.word,
                 static_cast<unsigned long long>(want), s.median());
  }
  c->logout();
  rep.print();
}

void runStream(const Options& o) {
  Report rep("stream");
  auto c = openSelected(o, nullptr);
  uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(static_cast<uint64_t>(o.count), o.messages));
  std::string range = "1:" + std::to_string(count);
  std::vector<long long> sizes(count + 1, -1);
  for (const auto& u : c->ok("FETCH " + range + " (RFC822.SIZE)").untagged)
    if (uint32_t s = fetchSeq(u); s && s <= count) sizes[s] = numberAfter(u.text, "RFC822.SIZE");
  Samples mbps, secs;
  uint64_t bytes = 0;
  for (int i = 0; i < o.repeat; ++i) {
    auto t = Clock::now();
    ImapReply r = c->ok("FETCH " + range + " BODY.PEEK[]");
    double sec = secondsSince(t);
    bytes = 0;
    uint32_t got = 0;
    for (const auto& u : r.untagged) {
      uint32_t s = fetchSeq(u);
      if (!s) continue;
      if (u.literals.size() != 1 || s > count)
        fail("FETCH BODY.PEEK[]: want one literal for " + std::to_string(s) + ": " + u.text.substr(0, 200));
      const std::string& body = u.literals[0];
      if (static_cast<long long>(body.size()) != sizes[s])
        fail("BODY[] of " + std::to_string(s) + " has " + std::to_string(body.size()) +
             " octets, RFC822.SIZE said " + std::to_string(sizes[s]));
      if (i == 0 && s % 50 == 1) {  // the content, for a sample: the generated message is its tail
        long long idx = findMessageIndex(body);
        std::string m = idx >= 0 ? generateMessage(o.seed, static_cast<uint64_t>(idx)) : "";
        if (idx < 0 || body.size() < m.size() || body.compare(body.size() - m.size(), m.size(), m) != 0)
          fail("BODY[] of " + std::to_string(s) + " is not the generated message " + std::to_string(idx));
      }
      bytes += body.size();
      ++got;
    }
    if (got != count)
      fail("FETCH BODY.PEEK[]: " + std::to_string(got) + " messages, want " + std::to_string(count));
    secs.add(sec);
    mbps.add(static_cast<double>(bytes) / 1e6 / sec);
  }
  rep.set("messages", count);
  rep.set("bytes", static_cast<double>(bytes));
  rep.set("seconds", secs.median());
  rep.set("mb_per_s", mbps.median());
  std::fprintf(stderr, "stream: %u messages, %.1f MB in %.3f s: %.0f MB/s\n", count,
               static_cast<double>(bytes) / 1e6, secs.median(), mbps.median());
  c->logout();
  rep.print();
}

}  // namespace postern::bench
