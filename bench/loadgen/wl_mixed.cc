// mixed: `sessions` clients, each logged in as its own user (user k = pattern with
// user_base + k) with INBOX selected, run a seeded mix of commands for `duration` seconds:
//   SELECT 5%, FETCH 1:* (UID FLAGS) 15%, FETCH n BODY.PEEK[] 25%, STORE n +/-FLAGS \Seen 15%,
//   SEARCH UNSEEN 10%, APPEND 10%, STORE \Deleted + EXPUNGE 10%, NOOP 10%.
// Each client keeps a model of its mailbox (message count, \Seen per message) from the
// server's untagged EXISTS / EXPUNGE / FETCH FLAGS responses and checks every answer
// against it: FETCH counts, SEARCH UNSEEN hits, STORE results, literals.

#include <strings.h>

#include <cstdio>
#include <mutex>

#include "mailgen.h"
#include "parallel.h"
#include "stats.h"
#include "util.h"
#include "workloads.h"

namespace postern::bench {
namespace {

enum Op { kSelect, kFetchFlags, kFetchBody, kStore, kSearch, kAppend, kExpunge, kNoop, kOps };
constexpr const char* kOpNames[kOps] = {"select",        "fetch_flags", "fetch_body", "store",
                                        "search_unseen", "append",      "expunge",    "noop"};
constexpr int kWeights[kOps] = {5, 15, 25, 15, 10, 10, 10, 10};

// The client's view of its selected mailbox.
struct Model {
  std::vector<int8_t> seen;  // per sequence number - 1: 1 seen, 0 not, -1 unknown
  void apply(const ImapReply& r) {
    for (const auto& u : r.untagged) {
      if (uint32_t n = untaggedNumber(u.text, "EXPUNGE")) {
        if (n > seen.size()) fail("EXPUNGE " + std::to_string(n) + " beyond " + std::to_string(seen.size()));
        seen.erase(seen.begin() + (n - 1));
      } else if (uint32_t e = untaggedNumber(u.text, "EXISTS"); e || u.text == "* 0 EXISTS") {
        if (e < seen.size()) fail("EXISTS went down without EXPUNGE");
        seen.resize(e, 0);  // new messages: appended without flags
      } else if (uint32_t s = fetchSeq(u)) {
        auto f = u.text.find("FLAGS (");
        if (f == std::string::npos || s > seen.size()) continue;
        auto end = u.text.find(')', f);
        seen[s - 1] = strcasestr(u.text.substr(f, end - f).c_str(), "\\Seen") ? 1 : 0;
      }
    }
  }
  size_t unseen(bool* known) const {
    size_t n = 0;
    *known = true;
    for (auto v : seen) {
      if (v < 0) *known = false;
      n += v == 0;
    }
    return n;
  }
};

}  // namespace

void runMixed(const Options& o) {
  int total_weight = 0;
  for (int w : kWeights) total_weight += w;
  // Log everybody in and select first: the clock measures the mix, not the logins.
  std::vector<std::unique_ptr<ImapClient>> clients(static_cast<size_t>(o.sessions));
  std::vector<Model> models(static_cast<size_t>(o.sessions));
  Parallel login;
  std::atomic<int> next{0};
  login.run(std::min(o.sessions, 8), [&](int) {
    for (int k; (k = next++) < o.sessions && !login.stop();) {
      auto c = std::make_unique<ImapClient>(o.target);
      c->login(o.userName(k), o.target.password);
      ImapReply r = c->ok("SELECT INBOX");
      models[static_cast<size_t>(k)].apply(r);
      models[static_cast<size_t>(k)].apply(c->ok("FETCH 1:* (UID FLAGS)"));
      clients[static_cast<size_t>(k)] = std::move(c);
    }
  });

  std::mutex mu;
  Samples all, per[kOps];
  uint64_t counts[kOps] = {};
  Parallel par;
  auto start = Clock::now();
  double duration = std::min(o.duration, o.max_seconds);
  par.run(o.sessions, [&](int k) {
    ImapClient& c = *clients[static_cast<size_t>(k)];
    Model& m = models[static_cast<size_t>(k)];
    Rng rng(o.seed, 7000 + static_cast<uint64_t>(k));
    Samples mine, mineOp[kOps];
    uint64_t mineCount[kOps] = {};
    uint64_t appended = 0;
    while (!par.stop() && secondsSince(start) < duration) {
      int pick = static_cast<int>(rng.below(static_cast<uint64_t>(total_weight)));
      int op = 0;
      while (pick >= kWeights[op]) pick -= kWeights[op++];
      size_t n = m.seen.size();
      if (n < 5 && (op == kExpunge || op == kFetchBody || op == kStore)) op = kAppend;
      uint32_t seq = n ? static_cast<uint32_t>(rng.below(n) + 1) : 0;
      std::string s = std::to_string(seq);
      auto t = Clock::now();
      switch (op) {
        case kSelect: {
          ImapReply r = c.ok("SELECT INBOX");
          m.seen.assign(0, 0);
          m.apply(r);
          std::fill(m.seen.begin(), m.seen.end(), -1);  // flags unknown until the next FETCH
          break;
        }
        case kFetchFlags: {
          ImapReply r = c.ok("FETCH 1:* (UID FLAGS)");
          m.apply(r);
          size_t fetches = 0;
          for (const auto& u : r.untagged) fetches += fetchSeq(u) != 0;
          if (fetches != m.seen.size())
            fail("FETCH 1:* answered " + std::to_string(fetches) + " of " + std::to_string(m.seen.size()));
          break;
        }
        case kFetchBody: {
          ImapReply r = c.ok("FETCH " + s + " BODY.PEEK[]");
          m.apply(r);
          bool found = false;
          for (const auto& u : r.untagged)
            if (fetchSeq(u) == seq && u.literals.size() == 1 &&
                strcasestr(u.literals[0].c_str(), "\r\nMessage-ID: <bench.") != nullptr)
              found = true;
          if (!found) fail("FETCH " + s + " BODY.PEEK[]: no message literal");
          break;
        }
        case kStore: {
          bool set = rng.below(2) == 0;
          int8_t before = m.seen[seq - 1];
          ImapReply r = c.ok("STORE " + s + (set ? " +FLAGS (\\Seen)" : " -FLAGS (\\Seen)"));
          m.apply(r);
          bool reported = false;
          for (const auto& u : r.untagged) reported = reported || fetchSeq(u) == seq;
          // A server may leave out the FETCH when the flags did not change (Dovecot does).
          if (reported ? m.seen[seq - 1] != (set ? 1 : 0) : before == (set ? 0 : 1))
            fail("STORE " + s + ": the answer did not show the new flags");
          m.seen[seq - 1] = set ? 1 : 0;
          break;
        }
        case kSearch: {
          ImapReply r = c.ok("SEARCH UNSEEN");
          m.apply(r);
          bool known;
          size_t want = m.unseen(&known);
          if (known && searchHits(r).size() != want)
            fail("SEARCH UNSEEN: " + std::to_string(searchHits(r).size()) + " hits, want " +
                 std::to_string(want));
          break;
        }
        case kAppend: {
          std::string msg = generateMessage(o.seed, 100000000ULL * static_cast<uint64_t>(k + 1) + appended++);
          ImapReply r = c.append("INBOX", msg);
          m.apply(r);
          if (m.seen.size() != n + 1) {  // the EXISTS may come with the next command
            ImapReply nr = c.ok("NOOP");
            m.apply(nr);
          }
          if (m.seen.size() != n + 1) fail("APPEND: no EXISTS for the new message");
          break;
        }
        case kExpunge: {
          m.apply(c.ok("STORE " + s + " +FLAGS.SILENT (\\Deleted)"));
          ImapReply r = c.ok("EXPUNGE");
          m.apply(r);
          if (m.seen.size() != n - 1)
            fail("EXPUNGE: want 1 message gone, have " + std::to_string(m.seen.size()) + " of " +
                 std::to_string(n));
          break;
        }
        default:
          m.apply(c.ok("NOOP"));
      }
      double ms = msSince(t);
      mine.add(ms);
      mineOp[op].add(ms);
      ++mineCount[op];
    }
    std::lock_guard<std::mutex> lock(mu);
    all.merge(mine);
    for (int i = 0; i < kOps; ++i) {
      per[i].merge(mineOp[i]);
      counts[i] += mineCount[i];
    }
  });
  double elapsed = secondsSince(start);
  for (auto& c : clients) c->logout();
  Report rep("mixed");
  rep.set("clients", o.sessions);
  rep.set("seconds", elapsed);
  rep.set("ops", static_cast<double>(all.count()));
  rep.set("ops_per_s", static_cast<double>(all.count()) / elapsed);
  rep.latency("op", all);
  for (int i = 0; i < kOps; ++i) {
    rep.set(std::string(kOpNames[i]) + "_count", static_cast<double>(counts[i]));
    rep.set(std::string(kOpNames[i]) + "_p99_ms", per[i].percentile(99));
  }
  std::fprintf(stderr, "mixed: %d clients, %zu ops in %.1fs: %.0f ops/s, p50 %.1f ms, p99 %.1f ms\n",
               o.sessions, all.count(), elapsed, static_cast<double>(all.count()) / elapsed,
               all.percentile(50), all.percentile(99));
  rep.print();
}

}  // namespace postern::bench
