// POP3 sessions over a socketpair against the in-memory FakeStore: the
// exact bytes a client sees.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "fixture.h"
#include "pop3d/proto/dot_stuff.h"

using namespace postern;
using postern::pop3d::testing::Fixture;

TEST_CASE("pop3 session: a whole mail download") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("STAT") == "-ERR Not logged in: use USER and PASS\r\n");
  f.c.write("CAPA\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") ==
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN\r\nRESP-CODES\r\n"
        "PIPELINING\r\nAUTH-RESP-CODE\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\nIMPLEMENTATION Postern\r\n.\r\n");
  f.login();
  CHECK(f.c.cmd("STAT") == "+OK 2 57\r\n");
  f.c.write("LIST\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK\r\n1 23\r\n2 34\r\n.\r\n");
  CHECK(f.c.cmd("LIST 2") == "+OK 2 34\r\n");
  CHECK(f.c.cmd("LIST 3") == "-ERR No such message\r\n");
  f.c.write("UIDL\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK\r\n1 42.1\r\n2 42.2\r\n.\r\n");
  CHECK(f.c.cmd("UIDL 1") == "+OK 1 42.1\r\n");
  f.c.write("RETR 1\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK 23 octets\r\nSubject: one\r\n\r\nhello\r\n.\r\n");
  f.c.write("RETR 2\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") ==
        "+OK 34 octets\r\nSubject: two\r\n\r\n..dot line\r\n...\r\nend\r\n.\r\n");
  f.c.write("TOP 2 1\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") ==
        "+OK Top of message follows\r\nSubject: two\r\n\r\n..dot line\r\n.\r\n");
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  CHECK(f.c.cmd("DELE 1") == "-ERR Message 1 already deleted\r\n");
  CHECK(f.c.cmd("RETR 1") == "-ERR Message 1 already deleted\r\n");
  CHECK(f.c.cmd("STAT") == "+OK 1 34\r\n");
  CHECK(f.c.cmd("RSET") == "+OK 2 messages (57 octets)\r\n");
  CHECK(f.c.cmd("STAT") == "+OK 2 57\r\n");
  CHECK(f.c.cmd("DELE 2") == "+OK Message 2 deleted\r\n");
  CHECK(f.c.cmd("NOOP") == "+OK\r\n");
  CHECK(f.c.cmd("USER bob") == "-ERR Already logged in\r\n");
  // Deletion happens only now, in the UPDATE state.
  CHECK(f.t.onLoop([&] { return f.t.store.inbox("alice").size(); }) == 2);
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off (1 messages deleted)\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.t.onLoop([&] { return f.t.store.inbox("alice").size(); }) == 1);
  CHECK(f.t.onLoop([&] { return f.t.store.inbox("alice")[0].meta.uid; }) == 1);
  CHECK(f.closedConns() == std::vector<uint64_t>{7});
  CHECK(f.t.onLoop([&] { return f.host.logins; }) == std::vector<std::string>{"alice"});
}

TEST_CASE("pop3 session: QUIT without deletions does not expunge") {
  Fixture f;
  f.connect();
  f.login();
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.t.onLoop([&] { return f.t.store.expunge_calls; }) == 0);
}

TEST_CASE("pop3 session: failed expunge answers -ERR [SYS/TEMP]") {
  Fixture f;
  f.connect();
  f.login();
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kUnavailable; });
  CHECK(f.c.cmd("QUIT") == "-ERR [SYS/TEMP] Some deleted messages not removed\r\n");
  CHECK(f.c.closedByPeer());
}

TEST_CASE("pop3 session: authentication failures and refusals") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("PASS pw") == "-ERR USER first\r\n");
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  auto t0 = std::chrono::steady_clock::now();
  CHECK(f.c.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed\r\n");
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));
  CHECK(f.c.cmd("PASS pw") == "-ERR USER first\r\n");

  f.t.onLoop([&] {
    f.host.login_ok = false;
    f.host.login_reason = "in-use: too many sessions for alice";
    return 0;
  });
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "-ERR [IN-USE] too many sessions for alice\r\n");
  f.t.onLoop([&] {
    f.host.login_reason = "licence seats exhausted";
    return 0;
  });
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "-ERR [SYS/TEMP] licence seats exhausted\r\n");

  f.t.onLoop([&] {
    f.host.login_ok = true;
    f.t.store.fail_all = ErrorCode::kUnavailable;
    return 0;
  });
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n");
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kOk; });
  f.login();
}

TEST_CASE("pop3 session: a corrupt message fails only its RETR") {
  Fixture f;
  f.t.store.corrupt_uids.insert(1);
  f.connect();
  f.login();
  CHECK(f.c.cmd("RETR 1") == "-ERR [SYS/PERM] message cannot be read\r\n");
  CHECK(f.c.cmd("NOOP") == "+OK\r\n");
  f.c.write("RETR 2\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n").starts_with("+OK 34 octets\r\n"));
}

TEST_CASE("pop3 session: store unavailable during RETR") {
  Fixture f;
  f.connect();
  f.login();
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kUnavailable; });
  CHECK(f.c.cmd("RETR 1") == "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n");
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kOk; });
  f.c.write("RETR 1\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK 23 octets\r\nSubject: one\r\n\r\nhello\r\n.\r\n");
}

TEST_CASE("pop3 session: pipelined commands are answered in order") {
  Fixture f;
  f.connect();
  f.c.write("USER alice\r\nPASS pw\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nBOGUS\r\nLIST 1\r\nQUIT\r\n");
  CHECK(f.c.readUntil("signing off (1 messages deleted)\r\n") ==
        "+OK Send your password\r\n"
        "+OK Logged in, 2 messages (57 octets)\r\n"
        "+OK 2 57\r\n"
        "+OK 23 octets\r\nSubject: one\r\n\r\nhello\r\n.\r\n"
        "+OK Message 1 deleted\r\n"
        "-ERR Unknown command\r\n"
        "-ERR Message 1 already deleted\r\n"
        "+OK Postern POP3 signing off (1 messages deleted)\r\n");
  CHECK(f.c.closedByPeer());
}

TEST_CASE("pop3 session: bad input gets -ERR and the session goes on") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd(std::string(5000, 'A')) == "-ERR Line too long\r\n");
  CHECK(f.c.cmd("") == "-ERR Empty command\r\n");
  CHECK(f.c.cmd("RETR x") == "-ERR Invalid message number\r\n");
  f.login();
  CHECK(f.c.cmd("RETR 0") == "-ERR Invalid message number\r\n");
  CHECK(f.c.cmd("TOP 1") == "-ERR Missing argument\r\n");
  CHECK(f.c.cmd("NOOP") == "+OK\r\n");
}

TEST_CASE("pop3 session: a large RETR streams with backpressure and exact bytes") {
  Fixture f;
  std::string big;
  for (int i = 0; big.size() < (3u << 20); ++i)
    big += (i % 7 == 0 ? "." : "") + std::string(70, 'a' + i % 26) + "\r\n";
  f.t.store.addMessage("alice", big);
  f.connect();
  REQUIRE(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  REQUIRE(f.c.cmd("PASS pw").starts_with("+OK Logged in, 3 messages"));
  f.c.write("RETR 3\r\nNOOP\r\n");
  std::string expect = "+OK " + std::to_string(big.size()) + " octets\r\n";
  pop3d::appendDotStuffed(big, &expect);
  expect += "+OK\r\n";
  std::string got = f.c.readUntil("\r\n.\r\n+OK\r\n", 20000);
  CHECK(got.size() == expect.size());
  CHECK(got == expect);
  CHECK(f.t.onLoop([&] { return f.t.store.fetch_pauses; }) >= 1);
}

TEST_CASE("pop3 session: autologout closes an idle session without UPDATE") {
  Fixture f;
  f.t.config.pop3_timeout_s = 1;
  f.connect();
  f.login();
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  CHECK(f.c.closedByPeer(4000));
  CHECK(f.c.pending().empty());
  CHECK(f.t.onLoop([&] { return f.t.store.expunge_calls; }) == 0);
  CHECK(f.closedConns() == std::vector<uint64_t>{7});
}

TEST_CASE("pop3 session: shutdown says goodbye and closes") {
  Fixture f;
  f.connect();
  f.login();
  f.t.onLoop([&] {
    f.server->shutdown();
    return 0;
  });
  CHECK(f.c.line() == "-ERR [SYS/TEMP] Server shutting down\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.closedConns() == std::vector<uint64_t>{7});
  CHECK(f.t.onLoop([&] { return f.server->activeConnections(); }) == 0);
}

TEST_CASE("pop3 session: the client hanging up ends the session once") {
  Fixture f;
  f.connect();
  f.login();
  f.c.close();
  for (int i = 0; i < 100 && f.closedConns().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(f.closedConns() == std::vector<uint64_t>{7});
}

// Read-ahead: RETR after RETR is served from one store stream per window.
TEST_CASE("pop3 session: sequential RETRs read ahead, with exact answers whatever the order") {
  Fixture f;
  std::vector<std::string> bodies{"Subject: one\r\n\r\nhello\r\n", "Subject: two\r\n\r\n.dot line\r\n..\r\nend"};
  for (int i = 3; i <= 40; ++i) {
    bodies.push_back("Subject: m" + std::to_string(i) + "\r\n\r\n.line " + std::string(size_t(i) * 10, 'x') + "\r\n");
    f.t.store.addMessage("alice", bodies.back());
  }
  f.t.store.corrupt_uids.insert(9);  // inside a read-ahead window
  f.connect();
  REQUIRE(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  REQUIRE(f.c.cmd("PASS pw").starts_with("+OK Logged in, 40 messages"));
  auto expect = [&](size_t n) {
    std::string e = "+OK " + std::to_string(bodies[n - 1].size()) + " octets\r\n";
    pop3d::appendDotStuffed(bodies[n - 1], &e);
    return e;
  };
  auto retr = [&](size_t n) {
    f.c.write("RETR " + std::to_string(n) + "\r\n");
    if (n == 9) return f.c.line();
    return f.c.readUntil("\r\n.\r\n");
  };
  int before = f.t.onLoop([&] { return f.t.store.fetch_calls; });
  CHECK(f.c.cmd("DELE 6") == "+OK Message 6 deleted\r\n");
  for (size_t n = 1; n <= 40; ++n) {
    if (n == 6) {
      CHECK(f.c.cmd("RETR 6") == "-ERR Message 6 already deleted\r\n");
      continue;
    }
    if (n == 9) {
      CHECK(retr(9) == "-ERR [SYS/PERM] message cannot be read\r\n");
      continue;
    }
    CHECK(retr(n) == expect(n));
  }
  int sequential = f.t.onLoop([&] { return f.t.store.fetch_calls; }) - before;
  CHECK(sequential <= 8);  // windows 1, 2, 4, ... instead of 40 streams (9 refetched alone)
  // Out of order: every answer is still the message asked for.
  for (size_t n : {5, 2, 3, 4, 20, 10, 11, 40, 12, 1}) CHECK(retr(n) == expect(n));
  // TOP in the middle of a sequential run answers from the same bodies.
  CHECK(retr(13) == expect(13));
  CHECK(retr(14) == expect(14));
  f.c.write("TOP 15 0\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK Top of message follows\r\nSubject: m15\r\n\r\n.\r\n");
  CHECK(retr(15) == expect(15));
  CHECK(retr(16) == expect(16));
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off (1 messages deleted)\r\n");
}
