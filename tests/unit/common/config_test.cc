#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config.h"

using namespace postern;

TEST_CASE("config: built-in defaults are the tools/run appliance") {
  auto c = loadConfig("");
  REQUIRE(c.ok());
  CHECK(c->imap_listen.at(0).str() == "127.0.0.1:1143");
  CHECK(c->pop3_listen.at(0).str() == "127.0.0.1:1110");
  CHECK(c->lmtp_listen.at(0).str() == "127.0.0.1:2424");
  CHECK(c->data_dir == "var");
  CHECK(c->adminSocket() == "var/run/admin.sock");
  CHECK(c->storeTarget() == "unix:var/run/stored.sock");
  CHECK(c->demo_user);
}

TEST_CASE("config: values are parsed and ranges enforced with file:line") {
  auto c = parseConfig("# comment\nimap.workers = 3\nimap.listen = 127.0.0.1:0, [::1]:143\n", "t.conf");
  REQUIRE(c.ok());
  CHECK(c->imap_workers == 3);
  REQUIRE(c->imap_listen.size() == 2);
  CHECK(c->imap_listen[1].host == "::1");
  CHECK(c->imap_listen[1].str() == "[::1]:143");

  auto bad = parseConfig("\nimap.workers = 99\n", "t.conf");
  REQUIRE(!bad.ok());
  CHECK(bad.error().message == "t.conf:2: imap.workers: value 99 is out of range 0-64");

  auto unknown = parseConfig("a = 1\nfrobnicate = 2\n", "t.conf");
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().message == "t.conf:1: unknown key 'a'");

  auto notnum = parseConfig("pop3.timeout = soon\n", "t.conf");
  REQUIRE(!notnum.ok());
  CHECK(notnum.error().message == "t.conf:1: pop3.timeout: 'soon' is not a whole number");

  auto badlisten = parseConfig("lmtp.listen = 127.0.0.1\n", "t.conf");
  REQUIRE(!badlisten.ok());

  auto dup = parseConfig("log.level = info\nlog.level = debug\n", "t.conf");
  REQUIRE(!dup.ok());
  CHECK(dup.error().message == "t.conf:2: key 'log.level' already set on line 1");

  auto noeq = parseConfig("just words\n", "t.conf");
  REQUIRE(!noeq.ok());
}

TEST_CASE("config: empty listen disables a protocol") {
  auto c = parseConfig("pop3.listen =\n", "t.conf");
  REQUIRE(c.ok());
  CHECK(c->pop3_listen.empty());
}

TEST_CASE("config: the reference lists every key") {
  std::string ref = configReference();
  CHECK(ref.find("`imap.listen`") != std::string::npos);
  CHECK(ref.find("`message_size_limit`") != std::string::npos);
}

TEST_CASE("config: the shipped conf/postern.conf is valid") {
  auto c = loadConfig(std::string(POSTERN_SOURCE_DIR) + "/conf/postern.conf");
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  CHECK_FALSE(c->demo_user);
  CHECK(c->log_target == "syslog");
  CHECK(c->imap_listen.at(0).port == 143);
}

TEST_CASE("config: docs/config.md carries the current key table") {
  std::ifstream in(std::string(POSTERN_SOURCE_DIR) + "/docs/config.md");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK_MESSAGE(ss.str().find(configReference()) != std::string::npos,
                "regenerate the table: build/master/postern-master --config-reference");
}

TEST_CASE("config: named listeners (virtual servers)") {
  auto c = parseConfig(
      "listener.corp.protocol = imap\n"
      "listener.corp.address = 127.0.0.1:0\n"
      "listener.corp.max_connections = 50\n"
      "listener.corp.max_connections_per_ip = 5\n"
      "listener.corp.allow = 10.0.0.0/8, 127.0.0.0/8\n",
      "t.conf");
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  REQUIRE(c->listeners.size() == 1);
  CHECK(c->listeners[0].name == "corp");
  CHECK(c->listeners[0].protocol == "imap");
  CHECK(c->listeners[0].max_connections == 50);
  CHECK(c->listeners[0].allow.size() == 2);

  auto noproto = parseConfig("\nlistener.x.address = 127.0.0.1:1\n", "t.conf");
  REQUIRE_FALSE(noproto.ok());
  CHECK(noproto.error().message == "t.conf:2: listener.x: protocol (imap, pop3, lmtp) is required");
  auto badfield = parseConfig("listener.x.colour = red\n", "t.conf");
  REQUIRE_FALSE(badfield.ok());
  CHECK(badfield.error().message.find("unknown listener field 'colour'") != std::string::npos);
  auto badname = parseConfig("listener.X.protocol = imap\n", "t.conf");
  REQUIRE_FALSE(badname.ok());
  auto range = parseConfig("listener.x.protocol = imap\nlistener.x.address = 127.0.0.1:1\nlistener.x.max_connections_per_ip = 5000\n", "t.conf");
  REQUIRE_FALSE(range.ok());
  CHECK(range.error().message == "t.conf:3: listener.x.max_connections_per_ip: value 5000 is out of range 0-1000");
}

TEST_CASE("config: conf.d/*.conf beside the file are read in name order, later keys win") {
  char tmpl[] = "/tmp/postern-confd-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
  };
  write(dir + "/postern.conf", "imap.workers = 1\npop3.workers = 1\n");
  std::filesystem::create_directory(dir + "/conf.d");
  write(dir + "/conf.d/20-b.conf", "imap.workers = 3\n");
  write(dir + "/conf.d/10-a.conf", "imap.workers = 2\nlmtp.workers = 4\n");
  write(dir + "/conf.d/README", "not a config file = ignored\n");
  auto c = loadConfig(dir + "/postern.conf");
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  CHECK(c->imap_workers == 3);
  CHECK(c->pop3_workers == 1);
  CHECK(c->lmtp_workers == 4);
  CHECK(c->source == dir + "/postern.conf + 2 file(s) in conf.d");
  write(dir + "/conf.d/30-bad.conf", "\nimap.workers = 99\n");
  auto bad = loadConfig(dir + "/postern.conf");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == dir + "/conf.d/30-bad.conf:2: imap.workers: value 99 is out of range 0-64");
  std::filesystem::remove_all(dir);
}

TEST_CASE("config: hostile-client limits - the RFC minimum timeouts and the pre-auth limit per address") {
  auto c = parseConfig("", "t.conf");
  REQUIRE(c.ok());
  CHECK(c->max_preauth_per_ip == 10);
  CHECK(c->imap_timeout_s == 1800);
  CHECK(c->pop3_timeout_s == 600);
  auto imap = parseConfig("imap.timeout = 1799\n", "t.conf");
  REQUIRE_FALSE(imap.ok());  // RFC 3501 5.4: at least 30 minutes
  CHECK(imap.error().message == "t.conf:1: imap.timeout: value 1799 is out of range 1800-86400");
  auto pop3 = parseConfig("pop3.timeout = 599\n", "t.conf");
  REQUIRE_FALSE(pop3.ok());  // RFC 1939: at least 10 minutes
  CHECK(pop3.error().message == "t.conf:1: pop3.timeout: value 599 is out of range 600-86400");
  auto off = parseConfig("limits.max_preauth_per_ip = 0\n", "t.conf");
  REQUIRE(off.ok());
  CHECK(off->max_preauth_per_ip == 0);
  CHECK_FALSE(parseConfig("limits.max_preauth_per_ip = 1001\n", "t.conf").ok());
}
