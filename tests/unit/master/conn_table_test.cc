// ConnTable: the counts the master's admission decisions rest on.
#include <doctest/doctest.h>

#include "conn_table.h"

using namespace postern::master;

namespace {
ConnInfo conn(uint64_t id, const char* peer, int worker, const char* proto = "imap") {
  ConnInfo c;
  c.id = id;
  c.peer = peer;
  c.worker = worker;
  c.protocol = proto;
  return c;
}
}  // namespace

TEST_CASE("conn table: counts by peer, user, worker and protocol stay exact") {
  ConnTable t;
  t.add(conn(1, "127.0.0.2", 0));
  t.add(conn(2, "127.0.0.2", 1));
  t.add(conn(3, "127.0.0.3", 1, "pop3"));
  CHECK(t.total() == 3);
  CHECK(t.byPeer("127.0.0.2") == 2);
  CHECK(t.byWorker(1) == 2);
  CHECK(t.byProtocol("imap") == 2);
  t.setUser(1, "alice");
  t.setUser(2, "alice");
  CHECK(t.byUser("alice") == 2);
  CHECK(t.authenticated() == 2);
  CHECK(t.remove(1));
  CHECK_FALSE(t.remove(1));  // reported twice: counted once
  CHECK(t.byUser("alice") == 1);
  CHECK(t.byPeer("127.0.0.2") == 1);
}

TEST_CASE("conn table: a dead worker's connections all leave the counts") {
  ConnTable t;
  for (uint64_t i = 1; i <= 100; ++i) {
    t.add(conn(i, i % 2 ? "127.0.0.2" : "127.0.0.3", static_cast<int>(i % 3)));
    t.setUser(i, i % 2 ? "bob" : "carol");
  }
  size_t on0 = t.byWorker(0);
  CHECK(t.removeWorker(0) == on0);
  CHECK(t.byWorker(0) == 0);
  CHECK(t.total() == 100 - on0);
  size_t users = t.byUser("bob") + t.byUser("carol");
  CHECK(users == t.total());
  CHECK(t.authenticated() == t.total());
  t.removeWorker(1);
  t.removeWorker(2);
  CHECK(t.total() == 0);
  CHECK(t.byPeer("127.0.0.2") == 0);
  CHECK(t.byUser("bob") == 0);
  CHECK(t.authenticated() == 0);
}

TEST_CASE("conn table: the pre-authentication count per peer and protocol follows logins and closes") {
  ConnTable t;
  t.add(conn(1, "127.0.0.2", -1));  // pending (DNS check): counts already
  t.add(conn(2, "127.0.0.2", 0));
  t.add(conn(3, "127.0.0.2", 1, "pop3"));
  t.add(conn(4, "127.0.0.3", 0));
  CHECK(t.preauthByPeer("127.0.0.2", "imap") == 2);
  CHECK(t.preauthByPeer("127.0.0.2", "pop3") == 1);
  CHECK(t.preauthByPeer("127.0.0.3", "imap") == 1);
  t.setUser(2, "alice");  // logged in: no longer pre-auth
  CHECK(t.preauthByPeer("127.0.0.2", "imap") == 1);
  t.setUser(2, "bob");  // a second login of the same connection changes nothing here
  CHECK(t.preauthByPeer("127.0.0.2", "imap") == 1);
  CHECK(t.byPeer("127.0.0.2", "imap") == 2);  // still counted as a connection
  CHECK(t.remove(2));  // a logged-in connection closing leaves the pre-auth count alone
  CHECK(t.preauthByPeer("127.0.0.2", "imap") == 1);
  CHECK(t.remove(1));
  CHECK(t.preauthByPeer("127.0.0.2", "imap") == 0);
  CHECK(t.removeWorker(1) == 1);
  CHECK(t.preauthByPeer("127.0.0.2", "pop3") == 0);
  // A connection added with its user already set was never pre-auth.
  ConnInfo c = conn(5, "127.0.0.3", 0);
  c.user = "carol";
  t.add(c);
  CHECK(t.preauthByPeer("127.0.0.3", "imap") == 1);
  CHECK(t.remove(5));
  CHECK(t.preauthByPeer("127.0.0.3", "imap") == 1);
}
