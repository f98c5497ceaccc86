// Privilege separation: who the children become, who may use the admin
// socket, and the TLS memfd (the switch itself is checked as root by
// tests/integration/test_privileges.py).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "privileges.h"

using namespace postern;
using namespace postern::master;

namespace {

Config cfgWith(const std::string& user, const std::string& worker, const std::string& group) {
  Config c;
  c.user = user;
  c.worker_user = worker;
  c.group = group;
  return c;
}

bool userExists(const char* name) { return getpwnam(name) != nullptr; }

}  // namespace

TEST_CASE("privileges: nothing switches unless the master is root and user is set") {
  auto p = Privileges::resolve(cfgWith("no-such-user-x", "no-such-user-y", "no-such-group"), 1000);
  REQUIRE(p.ok());
  CHECK_FALSE(p->root);
  CHECK_FALSE(p->drop);
  CHECK_FALSE(p->forKind("imapd").switch_user);
  CHECK_FALSE(p->forKind("stored").set_umask);

  auto empty = Privileges::resolve(cfgWith("", "postern-worker", "postern"), 0);
  REQUIRE(empty.ok());
  CHECK(empty->root);
  CHECK_FALSE(empty->drop);
}

TEST_CASE("privileges: as root, a missing account is an error naming it") {
  auto p = Privileges::resolve(cfgWith("no-such-user-x", "nobody", "root"), 0);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message.find("'no-such-user-x' (user) does not exist") != std::string::npos);
  if (userExists("daemon")) {
    auto w = Privileges::resolve(cfgWith("daemon", "no-such-user-y", "root"), 0);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message.find("worker_user") != std::string::npos);
    auto g = Privileges::resolve(cfgWith("daemon", "nobody", "no-such-group-z"), 0);
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().message.find("group 'no-such-group-z'") != std::string::npos);
  }
}

TEST_CASE("privileges: the workers' user must differ from stored's, and neither may be root") {
  if (!userExists("daemon")) return;
  auto same = Privileges::resolve(cfgWith("daemon", "daemon", "root"), 0);
  REQUIRE_FALSE(same.ok());
  CHECK(same.error().message.find("must differ") != std::string::npos);
  auto root = Privileges::resolve(cfgWith("root", "daemon", "root"), 0);
  REQUIRE_FALSE(root.ok());
  CHECK(root.error().message.find("must not be root") != std::string::npos);
}

TEST_CASE("privileges: stored and the workers get their own users, one group, their umask") {
  if (!userExists("daemon") || !userExists("nobody")) return;
  auto p = Privileges::resolve(cfgWith("daemon", "nobody", "root"), 0);
  REQUIRE(p.ok());
  CHECK(p->drop);
  ChildCredentials s = p->forKind("stored");
  CHECK(s.switch_user);
  CHECK(s.uid == getpwnam("daemon")->pw_uid);
  CHECK(s.gid == 0);
  CHECK(s.umask == 007);  // stored.sock reachable by the group
  for (const char* kind : {"imapd", "pop3d", "lmtpd"}) {
    ChildCredentials w = p->forKind(kind);
    CHECK(w.switch_user);
    CHECK(w.uid == getpwnam("nobody")->pw_uid);
    CHECK(w.gid == 0);
    CHECK(w.umask == 077);
  }
}

TEST_CASE("admin access: root, the master's user and admin_group members; never the children's users") {
  AdminAccess a;
  a.own_uid = 0;
  CHECK(a.check(0, 0, {}) == "");
  CHECK(a.check(1000, 1000, {}).find("permission denied") == 0);
  CHECK(a.check(1000, 1000, {}).find("set admin_group") != std::string::npos);

  a.admin_group = "postern-admin";
  a.admin_gid = 4242;
  a.denied = {998, 999};
  CHECK(a.check(1000, 4242, {}) == "");         // primary group
  CHECK(a.check(1000, 100, {27, 4242}) == "");  // supplementary group
  CHECK(a.check(1000, 100, {27}) != "");
  CHECK(a.check(998, 4242, {4242}).find("Postern process user") != std::string::npos);
  CHECK(a.check(999, 4242, {}) != "");
  CHECK(a.check(0, 0, {}) == "");

  AdminAccess dev;  // a developer's master: its own uid is enough
  dev.own_uid = 1000;
  CHECK(dev.check(1000, 1000, {}) == "");
  CHECK(dev.check(1001, 1000, {}) != "");
}

TEST_CASE("tls memfd: certificate then key, sealed against writes") {
  char dir[] = "/tmp/postern-priv-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string cert = std::string(dir) + "/c.pem", key = std::string(dir) + "/k.pem";
  std::ofstream(cert) << "CERT";
  std::ofstream(key) << "KEY\n";
  auto fd = makeTlsMemfd(cert, key);
  REQUIRE(fd.ok());
  char buf[64] = {0};
  ssize_t n = pread(fd.value(), buf, sizeof buf - 1, 0);
  CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "CERT\nKEY\n");
  CHECK(pwrite(fd.value(), "x", 1, 0) < 0);
  CHECK((fcntl(fd.value(), F_GETFD) & FD_CLOEXEC) != 0);
  close(fd.value());

  auto one = makeTlsMemfd(cert, cert);  // a key inside the certificate file: once
  REQUIRE(one.ok());
  n = pread(one.value(), buf, sizeof buf - 1, 0);
  CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "CERT\n");
  close(one.value());

  CHECK_FALSE(makeTlsMemfd(std::string(dir) + "/missing.pem", key).ok());
  unlink(cert.c_str());
  unlink(key.c_str());
  rmdir(dir);
}
