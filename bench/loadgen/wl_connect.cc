// connect: `sessions` clients each loop connect + greeting + LOGIN + LOGOUT (implicit TLS
// with --tls) for `duration` seconds. pop3: `repeat` times one full POP3 download of the
// user's maildrop (USER/PASS, STAT, UIDL, LIST, RETR 1..n, QUIT), checking every size.

#include <cstdio>
#include <mutex>

#include "mailgen.h"
#include "parallel.h"
#include "stats.h"
#include "util.h"
#include "workloads.h"

namespace postern::bench {

void runConnect(const Options& o) {
  if (o.tls && !o.target.imaps) fail("--tls needs --imaps-port");
  std::mutex mu;
  Samples all;
  Parallel par;
  auto start = Clock::now();
  double duration = std::min(o.duration, o.max_seconds);
  par.run(o.sessions, [&](int k) {
    Samples mine;
    for (long i = k; !par.stop() && secondsSince(start) < duration; i += o.sessions) {
      auto t = Clock::now();
      ImapClient c(o.target, o.tls);
      c.login(o.userName(i), o.target.password);
      c.logout();
      mine.add(msSince(t));
    }
    std::lock_guard<std::mutex> lock(mu);
    all.merge(mine);
  });
  double elapsed = secondsSince(start);
  Report rep(o.tls ? "connect_tls" : "connect");
  rep.set("clients", o.sessions);
  rep.set("logins", static_cast<double>(all.count()));
  rep.set("per_s", static_cast<double>(all.count()) / elapsed);
  rep.latency("login", all);
  std::fprintf(stderr, "connect%s: %zu connect+LOGIN+LOGOUT in %.1fs over %d clients: %.0f/s, p99 %.1f ms\n",
               o.tls ? " (TLS)" : "", all.count(), elapsed, o.sessions,
               static_cast<double>(all.count()) / elapsed, all.percentile(99));
  rep.print();
}

void runPop3(const Options& o) {
  Samples secs;
  uint64_t bytes = 0;
  size_t n = 0;
  for (int r = 0; r < o.repeat; ++r) {
    auto t = Clock::now();
    Pop3Client c(o.target);
    c.login(o.userName(0), o.target.password);
    std::string stat = c.ok("STAT");
    unsigned long long count = 0, octets = 0;
    if (std::sscanf(stat.c_str(), "+OK %llu %llu", &count, &octets) != 2) fail("STAT: " + stat);
    if (count != o.messages)
      fail("STAT: " + std::to_string(count) + " messages, want " + std::to_string(o.messages));
    n = count;
    c.ok("UIDL");
    if (c.multiline(nullptr) != n) fail("UIDL: wrong number of lines");
    c.ok("LIST");
    std::string list;
    if (c.multiline(&list) != n) fail("LIST: wrong number of lines");
    std::vector<unsigned long long> sizes(n + 1, 0);
    unsigned long long sum = 0;
    for (size_t p = 0; p < list.size();) {
      size_t e = list.find("\r\n", p);
      unsigned long long msg = 0, size = 0;
      if (std::sscanf(list.c_str() + p, "%llu %llu", &msg, &size) != 2 || msg == 0 || msg > n)
        fail("LIST line");
      sizes[msg] = size;
      sum += size;
      p = e + 2;
    }
    if (sum != octets)
      fail("LIST sizes add up to " + std::to_string(sum) + ", STAT said " + std::to_string(octets));
    bytes = 0;
    std::string body;
    for (size_t i = 1; i <= n; ++i) {
      c.ok("RETR " + std::to_string(i));
      body.clear();
      c.multiline(&body);
      if (body.size() != sizes[i])
        fail("RETR " + std::to_string(i) + ": " + std::to_string(body.size()) + " octets, LIST said " +
             std::to_string(sizes[i]));
      if (i % 100 == 1) {
        long long idx = findMessageIndex(body);
        std::string m = idx >= 0 ? generateMessage(o.seed, static_cast<uint64_t>(idx)) : "";
        if (idx < 0 || body.size() < m.size() || body.compare(body.size() - m.size(), m.size(), m) != 0)
          fail("RETR " + std::to_string(i) + " is not the generated message");
      }
      bytes += body.size();
    }
    c.quit();
    secs.add(secondsSince(t));
  }
  Report rep("pop3");
  rep.set("messages", static_cast<double>(n));
  rep.set("bytes", static_cast<double>(bytes));
  rep.set("seconds", secs.median());
  rep.set("mb_per_s", static_cast<double>(bytes) / 1e6 / secs.median());
  std::fprintf(stderr, "pop3: %zu messages, %.1f MB in %.3f s\n", n, static_cast<double>(bytes) / 1e6,
               secs.median());
  rep.print();
}

}  // namespace postern::bench
