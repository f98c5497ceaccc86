// idle: `sessions` IMAP sessions over `users` users, each LOGIN + SELECT INBOX + IDLE; then
// one message is delivered to every user (LMTP transactions of rcpt_batch recipients over
// deliver_sessions sessions), and the time until each session sees its "* N EXISTS" is
// measured from the moment the final "." of its user's transaction was sent.
//
// With --wait-stdin the tool prints "READY <n>" once every session idles and waits for a
// line on stdin before delivering, so that bench/run.py can measure server memory.

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "mailgen.h"
#include "parallel.h"
#include "stats.h"
#include "util.h"
#include "workloads.h"

namespace postern::bench {

namespace {
struct IdleSession {
  std::unique_ptr<ImapClient> client;
  uint32_t exists = 0;
  bool seen = false;
  Clock::time_point at{};
};
}  // namespace

void runIdle(const Options& o) {
  long limit = raiseFdLimit(o.sessions + 256);
  if (limit < o.sessions + 64) fail("open-file limit " + std::to_string(limit) + " too low");
  std::vector<IdleSession> sessions(static_cast<size_t>(o.sessions));
  std::atomic<int> next{0};
  Parallel par;
  auto t0 = Clock::now();
  par.run(std::min(o.connect_threads, o.sessions), [&](int) {
    for (int k; (k = next++) < o.sessions && !par.stop();) {
      if (secondsSince(t0) > o.max_seconds) fail("idle: opening sessions took over --max-seconds");
      auto& s = sessions[static_cast<size_t>(k)];
      s.client = std::make_unique<ImapClient>(o.target);
      s.client->login(o.userName(k), o.target.password);
      s.exists = s.client->select("INBOX");
      s.client->idle();
    }
  });
  double opened = secondsSince(t0);
  std::fprintf(stderr, "idle: %d sessions over %d users idle after %.1fs\n", o.sessions, o.users, opened);
  if (o.wait_stdin) {
    std::printf("READY %d\n", o.sessions);
    std::fflush(stdout);
    pollfd p{0, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(o.max_seconds * 1000)) <= 0) fail("no go-ahead on stdin");
    char buf[64];
    if (read(0, buf, sizeof buf) <= 0) fail("stdin closed before the go-ahead");
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail("epoll_create1");
  for (size_t i = 0; i < sessions.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sessions[i].client->conn().fd(), &ev) != 0) fail("epoll_ctl");
  }

  // One message to every user, as an MTA would send it: transactions of rcpt_batch
  // recipients (Postfix: lmtp_destination_recipient_limit = 50) over up to
  // `deliver_sessions` LMTP sessions at once. Each user's clock starts when the final "."
  // of the transaction holding it was sent.
  std::string msg = generateMessage(o.seed, 900000000ULL + o.first);
  std::vector<Clock::time_point> sent(static_cast<size_t>(o.users));
  int batches = (o.users + o.rcpt_batch - 1) / o.rcpt_batch;
  std::atomic<int> next_batch{0};
  std::mutex err_mu;
  std::string deliver_error;
  std::vector<std::thread> deliverers;
  for (int d = 0; d < std::min(o.deliver_sessions, batches); ++d) {
    deliverers.emplace_back([&] {
      try {
        LmtpClient l(o.target);
        for (int b; (b = next_batch++) < batches;) {
          int from = b * o.rcpt_batch, to = std::min(o.users, from + o.rcpt_batch);
          std::vector<std::string> rcpts;
          for (int k = from; k < to; ++k) rcpts.push_back(o.rcpt(k));
          l.deliverTimed("sender@gen.example", rcpts, msg, [&] {
            auto now = Clock::now();
            for (int k = from; k < to; ++k) sent[static_cast<size_t>(k)] = now;
          });
        }
        l.quit();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(err_mu);
        deliver_error = e.what();
      }
    });
  }

  size_t seen = 0;
  std::vector<epoll_event> evs(1024);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.target.timeout));
  std::string line;
  while (seen < sessions.size() && Clock::now() < deadline) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto& s = sessions[evs[static_cast<size_t>(i)].data.u64];
      Conn& c = s.client->conn();
      bool open = c.fillNonBlocking();
      while (c.takeBufferedLine(line)) {
        uint32_t ex = untaggedNumber(line, "EXISTS");
        if (ex > s.exists && !s.seen) {
          s.seen = true;
          s.at = now;
          ++seen;
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd(), nullptr);
        }
      }
      if (!open && !s.seen) fail("an idle session was closed by the server");
    }
  }
  for (auto& t : deliverers) t.join();
  close(ep);
  if (!deliver_error.empty()) fail("idle delivery: " + deliver_error);
  if (seen < sessions.size())
    fail("only " + std::to_string(seen) + " of " + std::to_string(sessions.size()) +
         " idle sessions saw the new message within " + std::to_string(o.target.timeout) + "s");
  // `sent` is taken right after the final "." left; a server that announced the message
  // before this thread read the clock counts as 0 ms.
  Samples lat;
  for (size_t k = 0; k < sessions.size(); ++k)
    lat.add(std::max(0.0, std::chrono::duration<double, std::milli>(sessions[k].at -
                                                                    sent[k % static_cast<size_t>(o.users)])
                              .count()));
  Report rep("idle");
  rep.set("sessions", o.sessions);
  rep.set("users", o.users);
  rep.set("open_s", opened);
  rep.set("notify_p50_ms", lat.percentile(50));
  rep.set("notify_p99_ms", lat.percentile(99));
  rep.set("notify_max_ms", lat.max());
  std::fprintf(stderr, "idle: every session saw the delivery: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
               lat.percentile(50), lat.percentile(99), lat.max());
  for (auto& s : sessions) s.client->conn().close();  // quick: no LOGOUT round trips
  rep.print();
}

}  // namespace postern::bench
