// AUTH PLAIN (RFC 5034 with RFC 4616) and CAPA over the wire: the exact
// bytes a client sees.
#include <doctest/doctest.h>

#include <string>

#include "fixture.h"

using namespace postern;
using postern::pop3d::testing::Fixture;

namespace {
const char* kLoggedIn = "+OK Logged in, 2 messages (57 octets)\r\n";
}

TEST_CASE("pop3 AUTH PLAIN with an initial response") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNlAHB3") == kLoggedIn);  // "\0alice\0pw"
  CHECK(f.c.cmd("STAT") == "+OK 2 57\r\n");
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNlAHB3") == "-ERR Already logged in\r\n");
  CHECK(f.t.onLoop([&] { return f.host.logins; }) == std::vector<std::string>{"alice"});
}

TEST_CASE("pop3 AUTH PLAIN with a continuation, any case, authzid = authcid") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("auth plain") == "+ \r\n");
  CHECK(f.c.cmd("YWxpY2UAYWxpY2UAcHc=") == kLoggedIn);  // "alice\0alice\0pw"
}

TEST_CASE("pop3 AUTH PLAIN: the user name is matched without case") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("AUTH PLAIN AEFMSUNFAHB3") == kLoggedIn);  // "\0ALICE\0pw"
}

TEST_CASE("pop3 AUTH: cancel, bad base64, malformed and wrong credentials") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("AUTH PLAIN") == "+ \r\n");
  CHECK(f.c.cmd("*") == "-ERR Authentication cancelled\r\n");
  CHECK(f.c.cmd("AUTH PLAIN") == "+ \r\n");
  CHECK(f.c.cmd("not base64!") == "-ERR Invalid base64 in authentication response\r\n");
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNlAHB") == "-ERR Invalid base64 in authentication response\r\n");
  CHECK(f.c.cmd("AUTH PLAIN =") == "-ERR [AUTH] Malformed PLAIN credentials\r\n");
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNl") == "-ERR [AUTH] Malformed PLAIN credentials\r\n");    // "\0alice"
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNlAHdyb25n") == "-ERR [AUTH] Authentication failed\r\n");  // wrong pw
  // Acting as somebody else is not offered.
  CHECK(f.c.cmd("AUTH PLAIN Ym9iAGFsaWNlAHB3") == "-ERR [AUTH] Authentication failed\r\n");
  CHECK(f.c.cmd("AUTH PLAIN") == "+ \r\n");
  CHECK(f.c.cmd(std::string(2000, 'A')) == "-ERR [AUTH] Authentication response too long\r\n");
  CHECK(f.t.onLoop([&] { return f.host.logins.size(); }) == 0);
  // After all that the session still works.
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNlAHB3") == kLoggedIn);
}

TEST_CASE("pop3 AUTH: mechanisms list and unknown mechanisms") {
  Fixture f;
  f.connect();
  f.c.write("AUTH\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == "+OK\r\nSCRAM-SHA-256\r\nSCRAM-SHA-1\r\nPLAIN\r\nLOGIN\r\n.\r\n");
  CHECK(f.c.cmd("AUTH CRAM-MD5") == "-ERR Unsupported authentication mechanism\r\n");
  CHECK(f.c.cmd("AUTH PLAIN a b") == "-ERR Too many arguments\r\n");
}

TEST_CASE("pop3 AUTH LOGIN: Username: and Password: challenges, initial response, cancel") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n");
  CHECK(f.c.cmd("YWxpY2U=") == "+ UGFzc3dvcmQ6\r\n");
  CHECK(f.c.cmd("cHc=") == kLoggedIn);

  Fixture g;
  g.connect();
  CHECK(g.c.cmd("AUTH LOGIN YWxpY2U=") == "+ UGFzc3dvcmQ6\r\n");
  CHECK(g.c.cmd("*") == "-ERR Authentication cancelled\r\n");
  CHECK(g.c.cmd("AUTH LOGIN YWxpY2U=") == "+ UGFzc3dvcmQ6\r\n");
  CHECK(g.c.cmd("cHc=") == kLoggedIn);
}

TEST_CASE("pop3 AUTH: the store down answers [SYS/TEMP]") {
  Fixture f;
  f.connect();
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kUnavailable; });
  CHECK(f.c.cmd("AUTH PLAIN AGFsaWNlAHB3") ==
        "-ERR [SYS/TEMP] Temporary server failure, try again later\r\n");
}

TEST_CASE("pop3 AUTH PLAIN pipelined with the commands after it") {
  Fixture f;
  f.connect();
  f.c.write("AUTH PLAIN\r\nAGFsaWNlAHB3\r\nSTAT\r\nQUIT\r\n");
  CHECK(f.c.readUntil("signing off\r\n") ==
        std::string("+ \r\n") + kLoggedIn + "+OK 2 57\r\n+OK Postern POP3 signing off\r\n");
  CHECK(f.c.closedByPeer());
}

TEST_CASE("pop3 CAPA lists what is implemented, in both states") {
  Fixture f;
  f.connect();
  const std::string capa =
      "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN\r\nRESP-CODES\r\nPIPELINING\r\n"
      "AUTH-RESP-CODE\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\nIMPLEMENTATION Postern\r\n.\r\n";
  f.c.write("CAPA\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == capa);
  f.login();
  f.c.write("CAPA\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n") == capa);
}
