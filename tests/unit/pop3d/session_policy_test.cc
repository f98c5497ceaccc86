// The per-user POP3 policy (RFC 2449 EXPIRE and LOGIN-DELAY in CAPA, the
// retrieval stamps and expiry of pop3.expire, pop3.mark_seen per user) and
// the pre-authentication timeout: the exact bytes a client sees, and what
// the FakeStore holds afterwards.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

using namespace postern;
using postern::pop3d::testing::Fixture;

namespace {
constexpr int64_t kDay = 86400;

// The EXPIRE and LOGIN-DELAY lines of a CAPA answer (the rest is other
// tests' business), after checking the answer is a whole capability list.
std::string capa(Fixture& f) {
  f.c.write("CAPA\r\n");
  std::string all = f.c.readUntil("\r\n.\r\n");
  REQUIRE(all.rfind("+OK Capability list follows\r\n", 0) == 0);
  REQUIRE(all.find("IMPLEMENTATION Postern\r\n.\r\n") != std::string::npos);
  std::string out;
  for (size_t pos = 0; pos < all.size();) {
    size_t end = all.find("\r\n", pos) + 2;
    std::string line = all.substr(pos, end - pos);
    if (line.rfind("EXPIRE ", 0) == 0 || line.rfind("LOGIN-DELAY ", 0) == 0) out += line;
    pos = end;
  }
  return out;
}
std::string capaWith(const std::string& policy) { return policy; }
void setting(Fixture& f, const std::string& user, const std::string& key, const std::string& value) {
  f.t.store.users[user].settings[key] = value;
}
// The retrieval stamp of alice's INBOX message `uid` (-1: no such message).
int64_t stampOf(Fixture& f, uint32_t uid) {
  return f.t.onLoop([&] {
    for (const auto& m : f.t.store.inbox("alice"))
      if (m.meta.uid == uid) return m.retrieved;
    return int64_t(-1);
  });
}
std::vector<uint32_t> inboxUids(Fixture& f) {
  return f.t.onLoop([&] {
    std::vector<uint32_t> out;
    for (const auto& m : f.t.store.inbox("alice")) out.push_back(m.meta.uid);
    return out;
  });
}
}  // namespace

TEST_CASE("pop3 CAPA: EXPIRE and LOGIN-DELAY are the server's when no user differs") {
  Fixture f;
  f.t.config.pop3_expire_days = 30;
  f.t.config.pop3_login_delay_s = 300;
  f.connect();
  CHECK(capa(f) == capaWith("EXPIRE 30\r\nLOGIN-DELAY 300\r\n"));
  f.login();
  CHECK(capa(f) == capaWith("EXPIRE 30\r\nLOGIN-DELAY 300\r\n"));
  CHECK(f.t.onLoop([&] { return f.host.login_delays; }) == std::vector<uint32_t>{300});
}

TEST_CASE("pop3 CAPA: values that differ per user are announced with USER, the user's after login") {
  Fixture f;
  f.t.config.pop3_expire_days = 30;
  f.t.config.pop3_login_delay_s = 300;
  setting(f, "alice", "pop3.expire", "7");
  setting(f, "alice", "pop3.login_delay", "900");
  setting(f, "bob", "pop3.login_delay", "60");
  setting(f, "carol", "pop3.expire", "never");
  f.connect();
  // RFC 2449: the least any user has, then USER; the client asks again after login.
  CHECK(capa(f) == capaWith("EXPIRE 7 USER\r\nLOGIN-DELAY 60 USER\r\n"));
  f.login();
  CHECK(capa(f) == capaWith("EXPIRE 7\r\nLOGIN-DELAY 900\r\n"));
  // The master enforces alice's own delay.
  CHECK(f.t.onLoop([&] { return f.host.login_delays; }) == std::vector<uint32_t>{900});
}

TEST_CASE("pop3 CAPA: a user set to the server's value does not make it vary; NEVER is the longest") {
  Fixture f;
  setting(f, "bob", "pop3.expire", "never");   // the server's default
  setting(f, "bob", "pop3.login_delay", "0");  // the same
  f.connect();
  CHECK(capa(f) == capaWith("EXPIRE NEVER\r\nLOGIN-DELAY 0\r\n"));
  setting(f, "carol", "pop3.expire", "0");
  CHECK(capa(f) == capaWith("EXPIRE 0 USER\r\nLOGIN-DELAY 0\r\n"));
}

TEST_CASE("pop3 CAPA: pipelined after CAPA, commands wait for its answer") {
  Fixture f;
  f.connect();
  f.c.write("CAPA\r\nNOOP\r\n");
  std::string answer = f.c.readUntil("\r\n.\r\n");
  CHECK(answer.find("EXPIRE NEVER\r\nLOGIN-DELAY 0\r\n") != std::string::npos);
  CHECK(f.c.line() == "-ERR Not logged in: use USER and PASS\r\n");
}

TEST_CASE("pop3 retrieval: RETR is stamped at QUIT; TOP and a dropped session stamp nothing") {
  Fixture f;
  f.t.store.now = 1000 * kDay;
  f.connect();
  f.login();
  f.c.write("RETR 1\r\n");
  f.c.readUntil("\r\n.\r\n");
  f.c.write("TOP 2 0\r\n");
  f.c.readUntil("\r\n.\r\n");
  CHECK(stampOf(f, 1) == 0);  // nothing before UPDATE
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(stampOf(f, 1) == 1000 * kDay);
  CHECK(stampOf(f, 2) == 0);

  // A later retrieval keeps the first time; a session that drops records nothing.
  f.t.onLoop([&] {
    f.t.store.now = 1001 * kDay;
    return 0;
  });
  f.connect(f.c2, 8);
  f.login(f.c2);
  f.c2.write("RETR 1\r\nRETR 2\r\n");
  f.c2.readUntil("end\r\n.\r\n");
  f.c2.close();
  CHECK(f.eventually([&] { return f.host.closed.size() == 2; }));
  CHECK(stampOf(f, 1) == 1000 * kDay);
  CHECK(stampOf(f, 2) == 0);
  CHECK(f.t.onLoop([&] { return f.t.store.mark_retrieved_calls; }) == 1);
}

TEST_CASE("pop3 EXPIRE: at login, before the snapshot, messages retrieved n days ago are gone") {
  Fixture f;
  f.t.config.pop3_expire_days = 2;
  f.t.store.addMessage("alice", "Subject: three\r\n\r\nx\r\n");
  f.t.store.inbox("alice")[0].retrieved = 100 * kDay;         // retrieved 3 days before "now"
  f.t.store.inbox("alice")[1].retrieved = 102 * kDay + 3600;  // 2 days less an hour
  f.t.store.now = 103 * kDay;                                 // uid 3: never retrieved
  f.connect();
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "+OK Logged in, 2 messages (55 octets)\r\n");
  CHECK(inboxUids(f) == std::vector<uint32_t>{2, 3});
  f.c.write("UIDL\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK\r\n1 42.2\r\n2 42.3\r\n.\r\n");
  CHECK(f.t.onLoop([&] { return f.t.store.expire_calls; }) == 1);
}

TEST_CASE("pop3 EXPIRE NEVER: nothing is expired, however old") {
  Fixture f;
  f.t.store.inbox("alice")[0].retrieved = 1;
  f.t.store.now = 100000 * kDay;
  f.connect();
  f.login();
  CHECK(f.t.onLoop([&] { return f.t.store.expire_calls; }) == 0);
  CHECK(inboxUids(f) == std::vector<uint32_t>{1, 2});
}

TEST_CASE("pop3 EXPIRE: the user's own value wins over the server's") {
  Fixture f;
  f.t.config.pop3_expire_days = -1;  // NEVER for everyone else
  setting(f, "alice", "pop3.expire", "1");
  f.t.store.inbox("alice")[0].retrieved = 10 * kDay;
  f.t.store.now = 12 * kDay;
  f.connect();
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "+OK Logged in, 1 messages (34 octets)\r\n");
}

TEST_CASE("pop3 EXPIRE 0: what was retrieved goes at QUIT, with what was deleted; TOP keeps") {
  Fixture f;
  f.t.config.pop3_expire_days = 0;
  f.t.store.addMessage("alice", "Subject: three\r\n\r\nx\r\n");
  f.connect();
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "+OK Logged in, 3 messages (78 octets)\r\n");
  f.c.write("RETR 1\r\n");
  f.c.readUntil("\r\n.\r\n");
  f.c.write("TOP 2 0\r\n");
  f.c.readUntil("\r\n.\r\n");
  CHECK(f.c.cmd("DELE 3") == "+OK Message 3 deleted\r\n");
  CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off (2 messages deleted)\r\n");
  CHECK(inboxUids(f) == std::vector<uint32_t>{2});
}

TEST_CASE("pop3 EXPIRE 0: a dropped session deletes nothing, retrieved or not") {
  Fixture f;
  f.t.config.pop3_expire_days = 0;
  f.connect();
  f.login();
  f.c.write("RETR 1\r\n");
  f.c.readUntil("\r\n.\r\n");
  f.c.close();
  CHECK(f.eventually([&] { return f.host.closed.size() == 1; }));
  CHECK(inboxUids(f) == std::vector<uint32_t>{1, 2});
  CHECK(stampOf(f, 1) == 0);
}

TEST_CASE("pop3 mark_seen: the user's override decides whether RETR sets \\Seen") {
  for (bool server : {true, false}) {
    Fixture f;
    f.t.config.pop3_mark_seen = server;
    setting(f, "alice", "pop3.mark_seen", server ? "false" : "true");
    f.connect();
    f.login();
    f.c.write("RETR 1\r\n");
    f.c.readUntil("\r\n.\r\n");
    CHECK(f.c.cmd("QUIT") == "+OK Postern POP3 signing off\r\n");
    bool seen = f.t.onLoop([&] { return (f.t.store.inbox("alice")[0].meta.flags & flag::kSeen) != 0; });
    CHECK(seen == !server);
    CHECK(stampOf(f, 1) != 0);  // stamped either way
  }
}

TEST_CASE("pop3 user settings: unreadable, the login is refused and nothing is locked") {
  Fixture f;
  f.t.store.settings_error = ErrorCode::kUnavailable;
  f.connect();
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n");
  CHECK(f.lockHolder().empty());
  CHECK(f.t.onLoop([&] { return f.host.logins.size(); }) == 0);
  // Still in AUTHORIZATION: the client may try again.
  f.t.onLoop([&] {
    f.t.store.settings_error = ErrorCode::kOk;
    return 0;
  });
  CHECK(f.c.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(f.c.cmd("PASS pw") == "+OK Logged in, 2 messages (57 octets)\r\n");
}

TEST_CASE("pop3 pre-authentication timeout: no login in time closes without a word") {
  Fixture f;
  f.t.config.auth_preauth_timeout_s = 1;
  auto start = std::chrono::steady_clock::now();
  f.connect();
  // Activity does not extend it: it counts from the connection.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(f.c.cmd("NOOP") == "-ERR Not logged in: use USER and PASS\r\n");
  CHECK(f.c.closedByPeer(4000));
  CHECK(f.c.pending().empty());
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(900));
  CHECK(f.closedConns() == std::vector<uint64_t>{7});
}

TEST_CASE("pop3 pre-authentication timeout: stops at login") {
  Fixture f;
  f.t.config.auth_preauth_timeout_s = 1;
  f.connect();
  f.login();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(f.c.cmd("STAT") == "+OK 2 57\r\n");
  CHECK(f.closedConns().empty());
}
