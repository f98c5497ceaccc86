// The maildrop lock (RFC 1939 section 8) as sessions use it: taken at
// login, refused with [IN-USE] to a second session of the same user (also
// on another worker), renewed while in TRANSACTION, freed at QUIT, on a
// dropped connection, on too many errors and when the master refuses.
#include <doctest/doctest.h>

#include <string>

#include "fixture.h"

using namespace postern;
using postern::pop3d::testing::Client;
using postern::pop3d::testing::FakeHost;
using postern::pop3d::testing::Fixture;

TEST_CASE("pop3 lock: a second login is refused with [IN-USE] until QUIT") {
  Fixture f;
  f.connect();
  f.login();
  CHECK(f.lockHolder() == "pop3d#0/7");
  f.connect(f.c2, 8);
  CHECK(f.c2.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c2.cmd("PASS pw") == "-ERR [IN-USE] Maildrop already locked\r\n");
  // The refused session stays in AUTHORIZATION and the master never heard of it.
  CHECK(f.t.onLoop([&] { return f.host.logins.size(); }) == 1);
  CHECK(f.c2.cmd("AUTH PLAIN AGFsaWNlAHB3") == "-ERR [IN-USE] Maildrop already locked\r\n");
  CHECK(f.c2.cmd("STAT") == "-ERR Not logged in: use USER and PASS\r\n");
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off\r\n");
  // Released before +OK: logging in again at once works.
  CHECK(f.lockHolder().empty());
  f.login(f.c2);
  CHECK(f.lockHolder() == "pop3d#0/8");
}

TEST_CASE("pop3 lock: another worker's session is refused too") {
  Fixture f;
  pop3d::testing::FakeHost other_host(f.t, "pop3d#1");
  auto other = std::make_unique<pop3d::Server>(other_host);
  f.connect();
  f.login();
  int fd = f.c2.open();
  f.t.onLoop([&] {
    other->onConnection(fd, 7, "192.0.2.2");  // the same connection number, another worker
    return 0;
  });
  REQUIRE(f.c2.line() == "+OK Postern POP3 ready.\r\n");
  CHECK(f.c2.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c2.cmd("PASS pw") == "-ERR [IN-USE] Maildrop already locked\r\n");
  f.c.close();
  CHECK(f.eventually([&] { return f.t.store.locks.empty(); }));
  CHECK(f.c2.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c2.cmd("PASS pw") == "+OK Logged in, 2 messages (57 octets)\r\n");
  CHECK(f.lockHolder() == "pop3d#1/7");
  f.c2.close();
  CHECK(f.eventually([&] { return f.t.store.locks.empty(); }));
  f.t.stop();
}

TEST_CASE("pop3 lock: a dropped connection frees it and deletes nothing") {
  Fixture f;
  f.connect();
  f.login();
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  f.c.close();
  CHECK(f.eventually([&] { return f.t.store.locks.empty(); }));
  CHECK(f.t.onLoop([&] { return f.t.store.inbox("alice").size(); }) == 2);
  CHECK(f.t.onLoop([&] { return f.t.store.expunge_calls; }) == 0);
}

TEST_CASE("pop3 lock: refused admission frees it") {
  Fixture f;
  f.connect();
  f.t.onLoop([&] {
    f.host.login_ok = false;
    f.host.login_reason = "licence seats exhausted";
    return 0;
  });
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "-ERR [SYS/TEMP] licence seats exhausted\r\n");
  CHECK(f.lockHolder().empty());
}

TEST_CASE("pop3 lock: a held lock is left alone by a refused login") {
  Fixture f;
  f.t.store.locks[{"alice", pop3d::Session::kLockName}] = {"pop3d#3/1", 1000};
  f.connect();
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "-ERR [IN-USE] Maildrop already locked\r\n");
  CHECK(f.lockHolder() == "pop3d#3/1");
  // Its lease ran out (stored's clock moved on): the maildrop is free.
  f.t.onLoop([&] { return f.t.store.now_ms = 1000; });
  f.login();
  CHECK(f.lockHolder() == "pop3d#0/7");
}

TEST_CASE("pop3 lock: renewed every third of the lease while in TRANSACTION") {
  Fixture f;
  f.server->setLockLease(std::chrono::milliseconds(150));
  f.connect();
  f.login();
  int before = f.t.onLoop([&] { return f.t.store.lock_calls; });
  CHECK(f.eventually([&] { return f.t.store.lock_calls >= before + 3; }));
  CHECK(f.lockHolder() == "pop3d#0/7");
  CHECK(f.t.onLoop([&] { return f.t.store.locks.begin()->second.second; }) == 150);  // lease sent
}

TEST_CASE("pop3 lock: a session whose lock was taken over ends without UPDATE") {
  Fixture f;
  f.server->setLockLease(std::chrono::milliseconds(150));
  f.connect();
  f.login();
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  f.t.onLoop([&] {
    f.t.store.locks[{"alice", pop3d::Session::kLockName}] = {"pop3d#5/9", 1 << 30};
    return 0;
  });
  CHECK(f.c.line() == "-ERR [SYS/TEMP] Maildrop lock lost\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.lockHolder() == "pop3d#5/9");  // not released: it is not ours
  CHECK(f.t.onLoop([&] { return f.t.store.expunge_calls; }) == 0);
}
