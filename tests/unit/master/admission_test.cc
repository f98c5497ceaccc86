// Admission: the master's decisions, against the counts they rest on.
#include <doctest/doctest.h>

#include "admission.h"

using namespace postern;
using namespace postern::master;

namespace {

struct World {
  ConnTable conns;
  Admission adm{conns};
  uint64_t next = 1;

  // Admits like the master does: decide, then count.
  std::optional<Refusal> connect(const std::string& proto, const std::string& peer, const std::string& listener = "") {
    auto r = adm.admitConnection(proto, listener.empty() ? proto + "0" : listener, peer);
    if (!r) {
      ConnInfo c;
      c.id = next++;
      c.protocol = proto;
      c.peer = peer;
      c.listener = listener.empty() ? proto + "0" : listener;
      conns.add(c);
    }
    return r;
  }
};

Config cfg(const std::string& text) {
  auto c = parseConfig(text, "t.conf");
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  return c.value();
}

}  // namespace

TEST_CASE("admission: the global limit admits exactly N, over every protocol") {
  World w;
  REQUIRE(w.adm.configure(cfg("limits.max_connections = 100\n")).ok());
  int admitted = 0;
  for (int i = 0; i < 500; ++i)
    if (!w.connect(i % 2 ? "imap" : "pop3", "127.0.0.1")) ++admitted;
  CHECK(admitted == 100);
  auto r = w.connect("lmtp", "127.0.0.1");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kMaxConnections);
  CHECK(r->counter == "refused.max_connections");
  w.conns.remove(1);
  CHECK_FALSE(w.connect("imap", "127.0.0.1"));
}

TEST_CASE("admission: per-IP limit per protocol, trusted networks exempt") {
  World w;
  REQUIRE(w.adm.configure(cfg("limits.max_connections_per_ip = 3\npop3.max_connections_per_ip = 1\n")).ok());
  for (int i = 0; i < 3; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  auto r = w.connect("imap", "127.0.0.2");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kPerIp);
  CHECK(r->reason == "Too many connections from your address (limit 3)");
  CHECK_FALSE(w.connect("imap", "127.0.0.3"));
  CHECK_FALSE(w.connect("pop3", "127.0.0.2"));  // counted per protocol
  CHECK(w.connect("pop3", "127.0.0.2"));        // pop3 override: 1
  for (int i = 0; i < 10; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.1"));  // trusted
}

TEST_CASE("admission: per-user limit at login, re-login of the same connection allowed") {
  World w;
  REQUIRE(w.adm.configure(cfg("limits.max_connections_per_user = 2\n")).ok());
  for (int i = 0; i < 3; ++i) w.connect("imap", "127.0.0.1");
  CHECK_FALSE(w.adm.admitLogin(*w.conns.find(1), "demo"));
  w.conns.setUser(1, "demo");
  CHECK_FALSE(w.adm.admitLogin(*w.conns.find(2), "demo"));
  w.conns.setUser(2, "demo");
  auto r = w.adm.admitLogin(*w.conns.find(3), "demo");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kPerUser);
  CHECK_FALSE(w.adm.admitLogin(*w.conns.find(1), "demo"));  // same connection again
  CHECK_FALSE(w.adm.admitLogin(*w.conns.find(3), "other"));
}

TEST_CASE("admission: live overrides validate, apply at once and never drop sessions") {
  World w;
  REQUIRE(w.adm.configure(cfg("")).ok());
  for (int i = 0; i < 5; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  REQUIRE(w.adm.setOverride("limits.max_connections_per_ip", "2").ok());
  CHECK(w.conns.total() == 5);  // nobody dropped
  CHECK(w.connect("imap", "127.0.0.2"));
  Error bad = w.adm.setOverride("limits.max_connections", "30000");
  CHECK(bad.code == ErrorCode::kBadArgs);
  CHECK(bad.message.find("1-25000") != std::string::npos);
  CHECK(w.adm.setOverride("log.level", "debug").code == ErrorCode::kBadArgs);
  CHECK(w.adm.effective().limits.max_connections == 2000);
  std::string saved = w.adm.serialiseOverrides();
  Admission other(w.conns);
  REQUIRE(other.configure(cfg("")).ok());
  REQUIRE(other.loadOverrides(saved).ok());
  CHECK(other.effective().limits.max_connections_per_ip == 2);
  REQUIRE(w.adm.resetOverride("all").ok());
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  // A config reload keeps live overrides on top.
  REQUIRE(w.adm.setOverride("imap.max_connections", "7").ok());
  REQUIRE(w.adm.configure(cfg("limits.max_connections = 50\n")).ok());
  CHECK(w.adm.effective().imap_limits.max_connections == 7);
  CHECK(w.adm.effective().limits.max_connections == 50);
}

TEST_CASE("admission: access rules, deny wins, scoped to protocol and listener") {
  World w;
  REQUIRE(w.adm.configure(cfg("access.allow = 127.0.0.0/8\nlistener.corp.protocol = imap\n"
                              "listener.corp.address = 127.0.0.1:0\nlistener.corp.deny = 127.0.0.5/32\n"
                              "listener.corp.max_connections = 2\n")).ok());
  CHECK(w.connect("imap", "10.1.2.3"));  // not in the allow list
  CHECK_FALSE(w.connect("imap", "127.0.0.5"));
  auto r = w.connect("imap", "127.0.0.5", "corp");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kAccess);
  REQUIRE(w.adm.addRule("deny 127.0.0.6/32 protocol=pop3").ok());
  CHECK(w.connect("pop3", "127.0.0.6"));
  CHECK_FALSE(w.connect("imap", "127.0.0.6"));
  CHECK(w.adm.addRule("deny 10.1.2.3/8").code == ErrorCode::kBadArgs);  // host bits set
  REQUIRE(w.adm.removeRule("deny 127.0.0.6/32 protocol=pop3").ok());
  CHECK_FALSE(w.connect("pop3", "127.0.0.6"));
  // The listener's own cap.
  CHECK_FALSE(w.connect("imap", "127.0.0.8", "corp"));
  CHECK_FALSE(w.connect("imap", "127.0.0.9", "corp"));
  auto full = w.connect("imap", "127.0.0.10", "corp");
  REQUIRE(full);
  CHECK(full->kind == Refusal::kMaxConnections);
  CHECK(w.adm.configure(cfg("trusted_networks = 300.0.0.0/8\n")).code == ErrorCode::kBadArgs);
}

TEST_CASE("admission: domain rules by confirmed DNS name, only when access.dns is on") {
  CHECK(Admission::inDomain("mail.example.com", "example.com"));
  CHECK(Admission::inDomain("Example.COM.", "example.com"));
  CHECK(Admission::inDomain("a.b.example.com", ".example.com"));
  CHECK_FALSE(Admission::inDomain("badexample.com", "example.com"));
  CHECK_FALSE(Admission::inDomain("", "example.com"));
  World w;
  REQUIRE(w.adm.configure(cfg("access.deny_domains = bad.example\n")).ok());
  CHECK_FALSE(w.adm.needsDns());  // off by default
  REQUIRE(w.adm.configure(cfg("access.dns = true\naccess.deny_domains = bad.example\n")).ok());
  CHECK(w.adm.needsDns());
  CHECK(w.adm.admitDomain("host.bad.example"));
  CHECK_FALSE(w.adm.admitDomain("good.example"));
  CHECK_FALSE(w.adm.admitDomain(""));  // unconfirmed: only allow lists refuse it
  REQUIRE(w.adm.configure(cfg("access.dns = true\naccess.allow_domains = corp.example\n")).ok());
  CHECK_FALSE(w.adm.admitDomain("pc1.corp.example"));
  CHECK(w.adm.admitDomain(""));
  CHECK(w.adm.admitDomain("elsewhere.example"));
}

TEST_CASE("admission: pre-authentication limit per IP, IMAP and POP3 together, logins free slots") {
  World w;
  REQUIRE(w.adm.configure(cfg("limits.max_preauth_per_ip = 3\n")).ok());
  CHECK(w.adm.effective().max_preauth_per_ip == 3);
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));  // id 1
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));  // id 2
  CHECK_FALSE(w.connect("pop3", "127.0.0.2"));  // id 3: both protocols count
  auto r = w.connect("imap", "127.0.0.2");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kPreauthPerIp);
  CHECK(r->counter == "refused.preauth_per_ip");
  CHECK(r->reason == "Too many connections from your address that have not logged in (limit 3)");
  auto p = w.connect("pop3", "127.0.0.2");
  REQUIRE(p);
  CHECK(p->kind == Refusal::kPreauthPerIp);
  // Another address, the trusted one and LMTP (never logs in) are unaffected.
  for (int i = 0; i < 3; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.3"));
  for (int i = 0; i < 5; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.1"));
  for (int i = 0; i < 5; ++i) CHECK_FALSE(w.connect("lmtp", "127.0.0.2"));
  // A login frees the slot: the logged-in connection no longer counts.
  w.conns.setUser(1, "demo");
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  CHECK(w.connect("imap", "127.0.0.2"));
  // A closed connection frees it too.
  w.conns.remove(2);
  CHECK_FALSE(w.connect("pop3", "127.0.0.2"));
  CHECK(w.connect("pop3", "127.0.0.2"));
}

TEST_CASE("admission: pre-authentication limit - 0 disables it, the per-IP limit still applies first") {
  World w;
  REQUIRE(w.adm.configure(cfg("limits.max_preauth_per_ip = 0\nlimits.max_connections_per_ip = 4\n")).ok());
  for (int i = 0; i < 4; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  auto r = w.connect("imap", "127.0.0.2");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kPerIp);
  // Per-IP counts per protocol, pre-auth counts both: with 2, the per-IP
  // limit of 4 is never reached when nobody logs in.
  REQUIRE(w.adm.configure(cfg("limits.max_preauth_per_ip = 2\nlimits.max_connections_per_ip = 4\n")).ok());
  auto q = w.connect("pop3", "127.0.0.2");
  REQUIRE(q);
  CHECK(q->kind == Refusal::kPreauthPerIp);
  // Logged-in sessions still count against the per-IP limit.
  for (uint64_t id = 1; id <= 4; ++id) w.conns.setUser(id, "demo");
  CHECK(w.connect("imap", "127.0.0.2").value_or(Refusal{}).kind == Refusal::kPerIp);
  CHECK_FALSE(w.connect("pop3", "127.0.0.2"));
  CHECK_FALSE(w.connect("pop3", "127.0.0.2"));
  CHECK(w.connect("pop3", "127.0.0.2").value_or(Refusal{}).kind == Refusal::kPreauthPerIp);
}

TEST_CASE("admission: pre-authentication limit - a named listener's per-IP override does not bypass it") {
  World w;
  REQUIRE(w.adm.configure(cfg("limits.max_preauth_per_ip = 2\nlistener.corp.protocol = imap\n"
                              "listener.corp.address = 127.0.0.1:0\nlistener.corp.max_connections_per_ip = 50\n"))
              .ok());
  CHECK_FALSE(w.connect("imap", "127.0.0.2", "corp"));
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  auto r = w.connect("imap", "127.0.0.2", "corp");
  REQUIRE(r);
  CHECK(r->kind == Refusal::kPreauthPerIp);
}

TEST_CASE("admission: limits.max_preauth_per_ip is a live key with the config's validation") {
  World w;
  REQUIRE(w.adm.configure(cfg("")).ok());
  CHECK(w.adm.effective().max_preauth_per_ip == 10);  // the default
  CHECK(Admission::isLiveKey("limits.max_preauth_per_ip"));
  for (int i = 0; i < 10; ++i) CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  CHECK(w.connect("imap", "127.0.0.2"));
  REQUIRE(w.adm.setOverride("limits.max_preauth_per_ip", "0").ok());
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));
  Error bad = w.adm.setOverride("limits.max_preauth_per_ip", "1001");
  CHECK(bad.code == ErrorCode::kBadArgs);
  CHECK(bad.message.find("0-1000") != std::string::npos);
  REQUIRE(w.adm.setOverride("limits.max_preauth_per_ip", "5").ok());
  CHECK(w.connect("imap", "127.0.0.2"));  // 11 not logged in: over the lowered limit, nobody dropped
  CHECK(w.conns.total() == 11);
  Admission other(w.conns);
  REQUIRE(other.configure(cfg("")).ok());
  REQUIRE(other.loadOverrides(w.adm.serialiseOverrides()).ok());
  CHECK(other.effective().max_preauth_per_ip == 5);
  // Live trusted_networks exempt an address from it at once.
  REQUIRE(w.adm.setOverride("trusted_networks", "127.0.0.1/32 127.0.0.2/32").ok());
  CHECK_FALSE(w.connect("imap", "127.0.0.2"));
}
