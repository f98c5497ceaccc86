#pragma once
// A pop3d Server on the in-memory FakeStore, driven over socketpairs by
// test clients (tests/unit/common/harness.h). `host` plays the worker: it
// answers the master's admission and names lock owners "<worker>/<conn>".
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "../common/harness.h"
#include "pop3d/server.h"
#include "pop3d/session_host.h"

namespace postern::pop3d::testing {

using postern::testing::Client;
using postern::testing::LoopThread;

class FakeHost : public SessionHost {
 public:
  FakeHost(LoopThread& t, std::string worker = "pop3d#0") : t_(t), worker_(std::move(worker)) {}
  EventLoop& loop() override { return t_.loop; }
  StoreClient& store() override { return t_.store; }
  const Config& config() const override { return t_.config; }
  void requestLogin(uint64_t, const std::string& user, uint32_t login_delay_s, LoginCallback cb) override {
    logins.push_back(user);
    login_delays.push_back(login_delay_s);
    bool ok = login_ok;
    std::string reason = login_reason;
    t_.loop.post([cb, ok, reason] { cb(ok, reason); });
  }
  void connectionClosed(uint64_t conn) override { closed.push_back(conn); }
  std::string lockOwner(uint64_t conn) const override { return worker_ + "/" + std::to_string(conn); }
  std::shared_ptr<tls::Context> tlsContext() const override { return tls; }

  std::shared_ptr<tls::Context> tls;  // set: STLS is offered
  bool login_ok = true;
  std::string login_reason;
  std::vector<std::string> logins;
  std::vector<uint32_t> login_delays;  // what each requestLogin said the user's LOGIN-DELAY is
  std::vector<uint64_t> closed;

 private:
  LoopThread& t_;
  std::string worker_;
};

// alice (password "pw") has two messages in INBOX: uid 1 (23 octets) and
// uid 2 (34 octets, with lines that need dot-stuffing).
struct Fixture {
  Fixture() {
    t.store.users["alice"].password = "pw";
    t.store.addMessage("alice", "Subject: one\r\n\r\nhello\r\n");
    t.store.addMessage("alice", "Subject: two\r\n\r\n.dot line\r\n..\r\nend");
    server = std::make_unique<Server>(host);
    server->setAuthFailDelay(std::chrono::milliseconds(50));
  }
  ~Fixture() {
    c.close();
    c2.close();
    t.stop();
    server.reset();
  }
  // Connects `client` as connection `conn`; the loop starts with the first.
  void connect(Client& client, uint64_t conn) {
    int fd = client.open();
    if (!started_) t.start();
    started_ = true;
    t.onLoop([&] {
      server->onConnection(fd, conn, "192.0.2.1");
      return 0;
    });
    REQUIRE(client.line() == "+OK Postern POP3 ready.\r\n");
  }
  void connect() { connect(c, 7); }
  void login(Client& client) {
    REQUIRE(client.cmd("USER alice") == "+OK Send your password\r\n");
    REQUIRE(client.cmd("PASS pw") == "+OK Logged in, 2 messages (57 octets)\r\n");
  }
  void login() { login(c); }
  std::vector<uint64_t> closedConns() {
    return t.onLoop([&] { return host.closed; });
  }
  // The owner of alice's maildrop lock in the store, "" when unlocked.
  std::string lockHolder(const std::string& user = "alice") {
    return t.onLoop([&] {
      auto it = t.store.locks.find({user, Session::kLockName});
      return it == t.store.locks.end() ? std::string() : it->second.first;
    });
  }
  // Waits until `pred` (run on the loop) holds; false after ~2 s.
  template <typename P>
  bool eventually(P pred) {
    for (int i = 0; i < 200; ++i) {
      if (t.onLoop(pred)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  LoopThread t;
  FakeHost host{t};
  std::unique_ptr<Server> server;
  Client c;
  Client c2;

 private:
  bool started_ = false;
};

}  // namespace postern::pop3d::testing
