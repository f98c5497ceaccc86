#pragma once
// IMAP sessions over socketpairs: a WorkerRuntime with the in-memory
// FakeStore and one imapd::Server, its EventLoop on a thread of its own;
// the test thread plays one or more clients with blocking reads.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <doctest/doctest.h>

#include "../common/harness.h"
#include "log.h"
#include "server.h"
#include "worker.h"

namespace postern::imapd::testing {

using postern::testing::Client;
using postern::testing::FakeStore;

inline Config testConfig() {
  Config c;
  c.imap_max_line = 8192;
  c.message_size_limit = 100000;
  return c;
}

inline const std::string kCaps = "IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE";
// The SASL mechanisms before login: plaintext allowed, no TLS (common/sasl).
inline const std::string kAuthCaps = " AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN";
// Before TLS from an untrusted client: no plaintext mechanism.
inline const std::string kNoPlainAuthCaps = " AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 LOGINDISABLED";
// Over TLS: the channel-binding variants too.
inline const std::string kTlsAuthCaps =
    " AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1-PLUS AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN";
inline const std::string kGreeting = "* OK [CAPABILITY " + kCaps + kAuthCaps + "] Postern IMAP4rev1 ready.\r\n";

// The three messages of alice's INBOX: 1 unseen, 2 \Seen, 3 unseen.
inline const std::string kMsg1 =
    "From: Ann <ann@example.com>\r\nSubject: Hello world\r\nTo: bob@example.com\r\n\r\nFirst line\r\nsecond line\r\n";
inline const std::string kMsg2 = "From: carl@example.com\r\nSubject: Lunch?\r\n\r\nAt noon.\r\n";
inline const std::string kMsg3 = "From: dora@example.com\r\nSubject: Re: hello\r\n\r\nYes.\r\n";

// "{n}\r\n<s>": an IMAP literal.
inline std::string lit(std::string_view s) { return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s); }

class World {
 public:
  explicit World(Config cfg = testConfig()) : rt(std::move(cfg)) {
    log::setLevel(log::Level::kError);
    auto fs = std::make_unique<FakeStore>(rt.loop());
    store = fs.get();
    rt.setStore(std::move(fs));
    server = std::make_unique<Server>(rt);
    store->users["alice"].password = "pw";
    store->addMessage("alice", kMsg1, 0, "INBOX", 1700000000, 0);               // 14-Nov-2023 22:13:20 +0000
    store->addMessage("alice", kMsg2, flag::kSeen, "INBOX", 1699315200, 0);     //  7-Nov-2023 00:00:00 +0000
    store->addMessage("alice", kMsg3, 0, "INBOX", 1700000000, 60);              // 14-Nov-2023 23:13:20 +0100
    thread_ = std::thread([this] { rt.loop().run(); });
  }
  ~World() {
    rt.loop().stop();
    thread_.join();
  }

  // Runs f on the loop thread and waits for its result.
  template <typename F>
  auto onLoop(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    rt.loop().post([&task] { task(); });
    struct Settle {  // then let what f posted (change batches, replies) run too
      World* w;
      ~Settle() {
        std::promise<void> done;
        w->rt.loop().post([&done] { done.set_value(); });
        done.get_future().wait();
      }
    } settle{this};
    return fut.get();
  }

  // A new connection; the greeting is checked and consumed unless `raw`.
  std::unique_ptr<Client> connect(bool raw = false) {
    auto c = std::make_unique<Client>();
    int fd = c->open();
    uint64_t conn = ++conns_;
    onLoop([&] {
      server->accept(fd, conn, "192.0.2.1");
      return 0;
    });
    if (!raw) CHECK(c->line() == kGreeting);
    return c;
  }

  WorkerRuntime rt;
  FakeStore* store = nullptr;
  std::unique_ptr<Server> server;

 private:
  std::thread thread_;
  uint64_t conns_ = 0;
};

// Everything up to and including the tagged response line for `tag`.
inline std::string readTagged(Client& c, const std::string& tag, int timeout_ms = 5000) {
  std::string out;
  for (;;) {
    std::string l = c.readUntil("\r\n", timeout_ms);
    if (l.empty()) return out + "<timeout>";
    out += l;
    if (l.rfind(tag + " ", 0) == 0) return out;
  }
}

// Sends "<tag> <command>\r\n" and returns the whole answer.
inline std::string run(Client& c, const std::string& tag, const std::string& command) {
  c.write(tag + " " + command + "\r\n");
  return readTagged(c, tag);
}

// Whatever arrives within `ms` (nothing expected, usually).
inline std::string quiet(Client& c, int ms = 100) {
  c.readUntil("\x01\x02never", ms);
  std::string s = c.pending();
  c.pending().clear();
  return s;
}

inline const std::string kLoggedIn = "[CAPABILITY " + kCaps + "] Logged in\r\n";

inline void login(Client& c, const std::string& user = "alice") {
  REQUIRE(run(c, "L", "LOGIN " + user + " pw") == "L OK " + kLoggedIn);
}

inline std::string selectInbox(Client& c) { return run(c, "S", "SELECT INBOX"); }

}  // namespace postern::imapd::testing
