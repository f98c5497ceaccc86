// Snapshot semantics against a concurrent IMAP session, the UPDATE state
// (one atomic expunge, \Seen for retrieved messages) and the end of a
// session after too many bad commands: the exact bytes a client sees.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fixture.h"

using namespace postern;
using postern::pop3d::testing::Fixture;

namespace {
// Another session (IMAP) expunges `uid` from alice's INBOX now.
void expungeElsewhere(Fixture& f, uint32_t uid) {
  f.t.onLoop([&] {
    auto& box = f.t.store.inbox("alice");
    std::erase_if(box, [uid](const auto& m) { return m.meta.uid == uid; });
    return 0;
  });
}
uint64_t flagsOf(Fixture& f, uint32_t uid) {
  return f.t.onLoop([&] {
    for (const auto& m : f.t.store.inbox("alice"))
      if (m.meta.uid == uid) return m.meta.flags;
    return uint64_t(~0ull);
  });
}
}  // namespace

TEST_CASE("pop3 snapshot: a message expunged by IMAP fails RETR and TOP, listings keep it") {
  Fixture f;
  f.connect();
  f.login();
  expungeElsewhere(f, 1);
  CHECK(f.c.cmd("RETR 1") == "-ERR [SYS/PERM] Message was deleted by another session\r\n");
  CHECK(f.c.cmd("TOP 1 0") == "-ERR [SYS/PERM] Message was deleted by another session\r\n");
  // The snapshot taken at login still numbers and sizes it.
  CHECK(f.c.cmd("STAT") == "+OK 2 57\r\n");
  CHECK(f.c.cmd("UIDL 2") == "+OK 2 42.2\r\n");
  f.c.write("RETR 2\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n").starts_with("+OK 34 octets\r\n"));
}

TEST_CASE("pop3 UPDATE: QUIT expunges the DELE'd messages that still exist, in one call") {
  Fixture f;
  f.t.store.addMessage("alice", "Subject: three\r\n\r\nx\r\n");
  f.connect();
  REQUIRE(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  REQUIRE(f.c.cmd("PASS pw") == "+OK Logged in, 3 messages (78 octets)\r\n");
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  CHECK(f.c.cmd("DELE 3") == "+OK Message 3 deleted\r\n");
  expungeElsewhere(f, 1);
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off (1 messages deleted)\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.t.onLoop([&] { return f.t.store.expunge_calls; }) == 1);
  CHECK(f.t.onLoop([&] {
    std::vector<uint32_t> uids;
    for (const auto& m : f.t.store.inbox("alice")) uids.push_back(m.meta.uid);
    return uids;
  }) == std::vector<uint32_t>{2});
  CHECK(f.lockHolder().empty());
}

TEST_CASE("pop3 UPDATE: RETR marks \\Seen at QUIT, TOP and deleted messages do not") {
  Fixture f;
  f.t.store.addMessage("alice", "Subject: three\r\n\r\nx\r\n");
  f.connect();
  REQUIRE(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  REQUIRE(f.c.cmd("PASS pw").starts_with("+OK Logged in, 3 messages"));
  f.c.write("RETR 1\r\nTOP 2 0\r\nRETR 3\r\n");
  f.c.readUntil("\r\n.\r\n");
  f.c.readUntil("\r\n.\r\n");
  f.c.readUntil("\r\n.\r\n");
  CHECK(f.c.cmd("DELE 3") == "+OK Message 3 deleted\r\n");
  CHECK(flagsOf(f, 1) == 0);  // not before UPDATE
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off (1 messages deleted)\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(flagsOf(f, 1) == flag::kSeen);
  CHECK(flagsOf(f, 2) == 0);
}

TEST_CASE("pop3 UPDATE: a session that never QUITs marks nothing \\Seen") {
  Fixture f;
  f.connect();
  f.login();
  f.c.write("RETR 1\r\n");
  f.c.readUntil("\r\n.\r\n");
  f.c.close();
  CHECK(f.eventually([&] { return f.t.store.locks.empty(); }));
  CHECK(flagsOf(f, 1) == 0);
}

TEST_CASE("pop3 UIDL values survive other messages' expunge and a new session") {
  Fixture f;
  f.t.store.addMessage("alice", "Subject: three\r\n\r\nx\r\n");
  f.connect();
  REQUIRE(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  REQUIRE(f.c.cmd("PASS pw").starts_with("+OK Logged in, 3 messages"));
  CHECK(f.c.cmd("DELE 2") == "+OK Message 2 deleted\r\n");
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off (1 messages deleted)\r\n");
  f.connect(f.c2, 8);
  REQUIRE(f.c2.cmd("USER alice") == "+OK Send your password\r\n");
  REQUIRE(f.c2.cmd("PASS pw") == "+OK Logged in, 2 messages (44 octets)\r\n");
  f.c2.write("UIDL\r\n");
  CHECK(f.c2.readUntil("\r\n.\r\n") == "+OK\r\n1 42.1\r\n2 42.3\r\n.\r\n");
}

TEST_CASE("pop3 too many bad commands end the session, without UPDATE") {
  Fixture f;
  f.connect();
  for (int i = 0; i < pop3d::Session::kMaxBadCommands - 1; ++i)
    CHECK(f.c.cmd("BOGUS") == "-ERR Unknown command\r\n");
  // A valid command resets the count.
  f.login();
  CHECK(f.c.cmd("DELE 1") == "+OK Message 1 deleted\r\n");
  // Unknown, malformed, wrong state and over-long lines all count.
  for (int i = 0; i < pop3d::Session::kMaxBadCommands - 1; ++i) {
    const char* bad[] = {"BOGUS", "RETR x", "USER bob", ""};
    CHECK(f.c.cmd(bad[i % 4]).starts_with("-ERR "));
  }
  CHECK(f.c.cmd(std::string(3000, 'x')) == "-ERR Too many errors, closing connection\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.t.onLoop([&] { return f.t.store.expunge_calls; }) == 0);
  CHECK(f.eventually([&] { return f.t.store.locks.empty(); }));
}

TEST_CASE("pop3 errors about messages are not bad commands") {
  Fixture f;
  f.connect();
  f.login();
  for (int i = 0; i < 30; ++i) CHECK(f.c.cmd("RETR 9") == "-ERR No such message\r\n");
  CHECK(f.c.cmd("NOOP") == "+OK\r\n");
}
