// IMAP sessions over a socketpair against the in-memory FakeStore: the
// exact bytes a client sees for the connection-level behaviour (greeting,
// authentication, states, literals, limits, pipelining, logout, timeouts)
// and the mailbox-list commands.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "imap_harness.h"
#include "session.h"

using namespace postern;
using namespace postern::imapd::testing;

TEST_CASE("imap session: greeting and CAPABILITY before and after login") {
  World w;
  auto c = w.connect(true);
  CHECK(c->line() ==
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE "
        "AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN] Postern IMAP4rev1 ready.\r\n");
  CHECK(run(*c, "a1", "CAPABILITY") ==
        "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE "
        "AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN\r\n"
        "a1 OK CAPABILITY completed\r\n");
  CHECK(run(*c, "a2", "CAPABILITY now") == "a2 BAD CAPABILITY takes no arguments\r\n");
  CHECK(run(*c, "a3", "LOGIN alice pw") ==
        "a3 OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE] Logged in\r\n");
  CHECK(run(*c, "a4", "capability") ==
        "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN MOVE\r\n"
        "a4 OK CAPABILITY completed\r\n");
  CHECK(run(*c, "a5", "NAMESPACE") == "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\na5 OK NAMESPACE completed\r\n");
  CHECK(run(*c, "a6", "ID (\"name\" \"test\")") ==
        "* ID (\"name\" \"Postern\" \"version\" \"0.1.0\")\r\na6 OK ID completed\r\n");
  CHECK(run(*c, "a7", "NOOP") == "a7 OK NOOP completed\r\n");
}

TEST_CASE("imap session: LOGIN") {
  World w;
  SUBCASE("ok, user name case-folded by the store") {
    auto c = w.connect();
    CHECK(run(*c, "a", "LOGIN ALICE pw") == "a OK " + kLoggedIn);
    CHECK(run(*c, "b", "SELECT INBOX").ends_with("b OK [READ-WRITE] SELECT completed\r\n"));
  }
  SUBCASE("bad password: NO after about a second, then a retry works") {
    auto c = w.connect();
    auto t0 = std::chrono::steady_clock::now();
    CHECK(run(*c, "a", "LOGIN alice wrong") == "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(ms >= 900);
    CHECK(ms < 3000);
    CHECK(run(*c, "b", "LOGIN nobody pw") == "b NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    CHECK(run(*c, "c", "SELECT INBOX") == "c BAD Please log in first\r\n");
    CHECK(run(*c, "d", "LOGIN alice pw") == "d OK " + kLoggedIn);
  }
  SUBCASE("store down: NO [UNAVAILABLE] at once") {
    w.onLoop([&] { return w.store->fail_all = ErrorCode::kUnavailable; });
    auto c = w.connect();
    CHECK(run(*c, "a", "LOGIN alice pw") ==
          "a NO [UNAVAILABLE] Login: mail store temporarily unavailable, try again\r\n");
    w.onLoop([&] { return w.store->fail_all = ErrorCode::kOk; });
    CHECK(run(*c, "b", "LOGIN alice pw") == "b OK " + kLoggedIn);
  }
  SUBCASE("quoted and literal arguments") {
    auto c = w.connect();
    CHECK(run(*c, "a", "LOGIN \"alice\" \"pw\"") == "a OK " + kLoggedIn);
  }
  SUBCASE("missing arguments") {
    auto c = w.connect();
    CHECK(run(*c, "a", "LOGIN alice") == "a BAD LOGIN needs a user name and a password\r\n");
  }
}

TEST_CASE("imap session: AUTHENTICATE PLAIN") {
  World w;
  SUBCASE("SASL-IR") {
    auto c = w.connect();
    CHECK(run(*c, "a", "AUTHENTICATE PLAIN AGFsaWNlAHB3") == "a OK " + kLoggedIn);
    CHECK(run(*c, "b", "AUTHENTICATE PLAIN AGFsaWNlAHB3") == "b BAD Already authenticated\r\n");
  }
  SUBCASE("continuation") {
    auto c = w.connect();
    c->write("a AUTHENTICATE PLAIN\r\n");
    CHECK(c->line() == "+ \r\n");
    c->write("AGFsaWNlAHB3\r\n");
    CHECK(readTagged(*c, "a") == "a OK " + kLoggedIn);
  }
  SUBCASE("continuation with a wrong password") {
    auto c = w.connect();
    c->write("a authenticate plain\r\n");
    CHECK(c->line() == "+ \r\n");
    c->write("AGFsaWNlAGJhZA==\r\n");
    CHECK(readTagged(*c, "a") == "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  }
  SUBCASE("\"*\" cancels, and the session goes on") {
    auto c = w.connect();
    c->write("a AUTHENTICATE PLAIN\r\n");
    CHECK(c->line() == "+ \r\n");
    c->write("*\r\n");
    CHECK(readTagged(*c, "a") == "a BAD AUTHENTICATE cancelled\r\n");
    CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
  }
  SUBCASE("bad base64, other mechanisms, acting as someone else") {
    auto c = w.connect();
    CHECK(run(*c, "a", "AUTHENTICATE PLAIN !!!") == "a BAD Invalid base64 in AUTHENTICATE response\r\n");
    CHECK(run(*c, "b", "AUTHENTICATE CRAM-MD5") == "b NO [CANNOT] Unsupported authentication mechanism\r\n");
    CHECK(run(*c, "c", "AUTHENTICATE PLAIN Ym9iAGFsaWNlAHB3") ==
          "c NO [AUTHORIZATIONFAILED] Acting as another user is not allowed\r\n");
  }
}

TEST_CASE("imap session: AUTHENTICATE LOGIN and the SCRAM mechanisms' store failure") {
  World w;
  SUBCASE("LOGIN: Username: and Password: challenges") {
    auto c = w.connect();
    c->write("a AUTHENTICATE LOGIN\r\n");
    CHECK(c->line() == "+ VXNlcm5hbWU6\r\n");  // "Username:"
    c->write("YWxpY2U=\r\n");                  // "alice"
    CHECK(c->line() == "+ UGFzc3dvcmQ6\r\n");  // "Password:"
    c->write("cHc=\r\n");                      // "pw"
    CHECK(readTagged(*c, "a") == "a OK " + kLoggedIn);
  }
  SUBCASE("LOGIN with the user name as initial response") {
    auto c = w.connect();
    c->write("a AUTHENTICATE LOGIN YWxpY2U=\r\n");
    CHECK(c->line() == "+ UGFzc3dvcmQ6\r\n");
    c->write("*\r\n");
    CHECK(readTagged(*c, "a") == "a BAD AUTHENTICATE cancelled\r\n");
  }
  SUBCASE("SCRAM when the store cannot give keys: NO, not a login") {
    auto c = w.connect();
    c->write("a AUTHENTICATE SCRAM-SHA-256 biwsbj1hbGljZSxyPWFiYw==\r\n");  // "n,,n=alice,r=abc"
    std::string r = readTagged(*c, "a");
    CHECK(r.rfind("a NO ", 0) == 0);
    CHECK(r.find("AUTHENTICATIONFAILED") == std::string::npos);
  }
  SUBCASE("malformed SCRAM is BAD") {
    auto c = w.connect();
    CHECK(run(*c, "a", "AUTHENTICATE SCRAM-SHA-1 eCwsbj1hLHI9Yg==") ==  // "x,,n=a,r=b"
          "a BAD Invalid AUTHENTICATE response\r\n");
  }
}

TEST_CASE("imap session: commands in the wrong state are BAD") {
  World w;
  auto c = w.connect();
  CHECK(run(*c, "a", "SELECT INBOX") == "a BAD Please log in first\r\n");
  CHECK(run(*c, "b", "FETCH 1 FLAGS") == "b BAD Please log in first\r\n");
  CHECK(run(*c, "c", "LIST \"\" *") == "c BAD Please log in first\r\n");
  CHECK(run(*c, "d", "FROBNICATE") == "d BAD Unknown command FROBNICATE\r\n");
  login(*c);
  CHECK(run(*c, "e", "FETCH 1 FLAGS") == "e BAD No mailbox selected\r\n");
  CHECK(run(*c, "f", "UID STORE 1 +FLAGS \\Seen") == "f BAD No mailbox selected\r\n");
  CHECK(run(*c, "g", "EXPUNGE") == "g BAD No mailbox selected\r\n");
  CHECK(run(*c, "h", "LOGIN alice pw") == "h BAD Already authenticated\r\n");
  CHECK(run(*c, "i", "UID NOOP") == "i BAD Unknown command UID NOOP\r\n");
  CHECK(run(*c, "j", "UID") == "j BAD UID needs a command\r\n");
}

TEST_CASE("imap session: synchronising literals and LITERAL+") {
  World w;
  SUBCASE("synchronising: one continuation per literal") {
    auto c = w.connect();
    c->write("a LOGIN {5}\r\n");
    CHECK(c->line() == "+ Ready for literal data\r\n");
    c->write("alice {2}\r\n");
    CHECK(c->line() == "+ Ready for literal data\r\n");
    c->write("pw\r\n");
    CHECK(readTagged(*c, "a") == "a OK " + kLoggedIn);
  }
  SUBCASE("LITERAL+: no continuation") {
    auto c = w.connect();
    c->write("a LOGIN {5+}\r\nalice {2+}\r\npw\r\n");
    CHECK(readTagged(*c, "a") == "a OK " + kLoggedIn);
  }
}

TEST_CASE("imap session: limits - over-long line and over-size literals") {
  World w;
  auto c = w.connect();
  login(*c);
  SUBCASE("a line longer than imap_max_line is BAD, the next command works") {
    std::string junk(9000, 'x');
    CHECK(run(*c, "a", "NOOP " + junk) == "a BAD Line too long\r\n");
    CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
  }
  SUBCASE("a synchronising APPEND literal over message_size_limit: BAD, never \"+\"") {
    c->write("a APPEND INBOX {100001}\r\n");
    CHECK(c->line() == "a BAD Literal too large\r\n");
    CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
    CHECK(w.onLoop([&] { return w.store->inbox("alice").size(); }) == 3);
  }
  SUBCASE("a non-synchronising one is skipped, the stream stays in step") {
    c->write("a APPEND INBOX {100001+}\r\n" + std::string(100001, 'y') + "\r\n");
    CHECK(readTagged(*c, "a") == "a BAD Literal too large\r\n");
    CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
    CHECK(w.onLoop([&] { return w.store->inbox("alice").size(); }) == 3);
  }
  SUBCASE("a literal over 64 KiB in another command") {
    c->write("a LOGIN {70000}\r\n");
    CHECK(c->line() == "a BAD Literal too large\r\n");
    CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
  }
  SUBCASE("syntax errors") {
    CHECK(run(*c, "a", "LIST (\"\" *") == "a BAD Missing ')'\r\n");
    c->write(" NOOP\r\n");
    CHECK(c->line() == "* BAD Missing tag\r\n");
    CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
  }
}

TEST_CASE("imap session: before login no literal may be message-sized") {
  World w;  // message_size_limit 100000
  auto c = w.connect();
  c->write("a APPEND INBOX {70000}\r\n");
  CHECK(c->line() == "a BAD Literal too large\r\n");
  c->write("b APPEND INBOX {70000+}\r\n" + std::string(70000, 'y') + "\r\n");
  CHECK(readTagged(*c, "b") == "b BAD Literal too large\r\n");
  // After login the full limit applies, even to a LOGIN and APPEND sent together.
  c->write("c LOGIN alice pw\r\nd APPEND INBOX {70000+}\r\nSubject: big\r\n\r\n" + std::string(69984, 'y') + "\r\n");
  CHECK(readTagged(*c, "c") == "c OK " + kLoggedIn);
  CHECK(readTagged(*c, "d").rfind("d OK [APPENDUID 42 4] ", 0) == 0);
}

TEST_CASE("imap session: pipelined commands are answered in order") {
  World w;
  auto c = w.connect();
  c->write("p1 NOOP\r\np2 LOGIN alice pw\r\np3 SELECT INBOX\r\np4 FETCH 1:* (UID FLAGS)\r\n"
           "p5 STORE 1 +FLAGS (\\Flagged)\r\np6 FETCH 1 FLAGS\r\np7 LOGOUT\r\n");
  std::string all = readTagged(*c, "p7");
  CHECK(all ==
        "p1 OK NOOP completed\r\n"
        "p2 OK " + kLoggedIn +
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
        "* 3 EXISTS\r\n"
        "* 0 RECENT\r\n"
        "* OK [UNSEEN 1] First unseen.\r\n"
        "* OK [UIDVALIDITY 42] UIDs valid\r\n"
        "* OK [UIDNEXT 4] Predicted next UID\r\n"
        "p3 OK [READ-WRITE] SELECT completed\r\n"
        "* 1 FETCH (UID 1 FLAGS ())\r\n"
        "* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n"
        "* 3 FETCH (UID 3 FLAGS ())\r\n"
        "p4 OK FETCH completed\r\n"
        "* 1 FETCH (FLAGS (\\Flagged))\r\n"
        "p5 OK STORE completed\r\n"
        "* 1 FETCH (FLAGS (\\Flagged))\r\n"
        "p6 OK FETCH completed\r\n"
        "* BYE Postern IMAP4rev1 server logging out\r\n"
        "p7 OK LOGOUT completed\r\n");
  CHECK(c->closedByPeer());
}

TEST_CASE("imap session: LOGOUT says BYE, then OK, then closes") {
  World w;
  auto c = w.connect();
  CHECK(run(*c, "z", "LOGOUT") == "* BYE Postern IMAP4rev1 server logging out\r\nz OK LOGOUT completed\r\n");
  CHECK(c->closedByPeer());
  CHECK(c->pending().empty());
  CHECK(w.onLoop([&] { return w.server->sessions(); }) == 0);
}

TEST_CASE("imap session: autologout after imap_timeout_s without input") {
  Config cfg = testConfig();
  cfg.imap_timeout_s = 1;
  World w(cfg);
  auto c = w.connect();
  login(*c);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c->readUntil("\r\n", 4000) == "* BYE Autologout; idle for too long\r\n");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms >= 800);
  CHECK(c->closedByPeer());
  CHECK(w.onLoop([&] { return w.server->sessions(); }) == 0);
}

TEST_CASE("imap session: a connection that does not log in is closed after auth.preauth_timeout") {
  Config cfg = testConfig();
  cfg.auth_preauth_timeout_s = 1;
  cfg.imap_timeout_s = 3600;
  World w(cfg);
  auto c = w.connect();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c->readUntil("\r\n", 4000) == "* BYE Autologout; no login in time\r\n");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms >= 800);
  CHECK(c->closedByPeer());
  // Commands do not extend it: the time counts from the connection.
  auto e = w.connect();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(run(*e, "n1", "NOOP") == "n1 OK NOOP completed\r\n");
  CHECK(e->readUntil("\r\n", 2000) == "* BYE Autologout; no login in time\r\n");
  // Logged in, the longer imap.timeout applies: the same second of silence is fine.
  auto d = w.connect();
  login(*d);
  CHECK(quiet(*d, 1600) == "");
  CHECK(run(*d, "n", "NOOP") == "n OK NOOP completed\r\n");
}

TEST_CASE("imap session: input keeps the session alive") {
  Config cfg = testConfig();
  cfg.imap_timeout_s = 1;
  World w(cfg);
  auto c = w.connect();
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    CHECK(run(*c, "n" + std::to_string(i), "NOOP") == "n" + std::to_string(i) + " OK NOOP completed\r\n");
  }
}

TEST_CASE("imap session: server shutdown says BYE") {
  World w;
  auto c = w.connect();
  login(*c);
  w.onLoop([&] {
    w.server->shutdown();
    return 0;
  });
  CHECK(c->line() == "* BYE Server shutting down\r\n");
  CHECK(c->closedByPeer());
}

// ---- mailbox list commands ------------------------------------------------

namespace {

void makeFolders(World& w) {
  w.onLoop([&] {
    for (const char* n : {"Archive", "Lists", "Lists.old", "Lists/ietf", "Work/Projects/2024"})
      w.store->folder("alice", n);
    return 0;
  });
}

}  // namespace

TEST_CASE("imap session: LIST with \\HasChildren and implicit parents") {
  World w;
  makeFolders(w);
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "LIST \"\" *") ==
        "* LIST (\\HasNoChildren) \"/\" Archive\r\n"
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
        "* LIST (\\HasChildren) \"/\" Lists\r\n"
        "* LIST (\\HasNoChildren) \"/\" Lists.old\r\n"
        "* LIST (\\HasNoChildren) \"/\" Lists/ietf\r\n"
        "* LIST (\\Noselect \\HasChildren) \"/\" Work\r\n"
        "* LIST (\\Noselect \\HasChildren) \"/\" Work/Projects\r\n"
        "* LIST (\\HasNoChildren) \"/\" Work/Projects/2024\r\n"
        "a OK LIST completed\r\n");
  CHECK(run(*c, "b", "LIST \"\" %") ==
        "* LIST (\\HasNoChildren) \"/\" Archive\r\n"
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
        "* LIST (\\HasChildren) \"/\" Lists\r\n"
        "* LIST (\\HasNoChildren) \"/\" Lists.old\r\n"
        "* LIST (\\Noselect \\HasChildren) \"/\" Work\r\n"
        "b OK LIST completed\r\n");
  CHECK(run(*c, "c", "LIST Work/ %") ==
        "* LIST (\\Noselect \\HasChildren) \"/\" Work/Projects\r\nc OK LIST completed\r\n");
  CHECK(run(*c, "d", "LIST \"\" inbox") == "* LIST (\\HasNoChildren) \"/\" INBOX\r\nd OK LIST completed\r\n");
  CHECK(run(*c, "e", "LIST \"\" \"\"") == "* LIST (\\Noselect) \"/\" \"\"\r\ne OK LIST completed\r\n");
  CHECK(run(*c, "f", "LIST \"\" Nothing*") == "f OK LIST completed\r\n");
}

TEST_CASE("imap session: SUBSCRIBE and LSUB") {
  World w;
  makeFolders(w);
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "SUBSCRIBE Lists/ietf") == "a OK SUBSCRIBE completed\r\n");
  CHECK(run(*c, "b", "SUBSCRIBE inbox") == "b OK SUBSCRIBE completed\r\n");
  // A name with no mailbox may be subscribed; LSUB shows it \Noselect (RFC 3501 6.3.6).
  CHECK(run(*c, "c", "SUBSCRIBE Nope") == "c OK SUBSCRIBE completed\r\n");
  CHECK(run(*c, "d", "LSUB \"\" *") ==
        "* LSUB (\\HasNoChildren) \"/\" INBOX\r\n"
        "* LSUB (\\HasNoChildren) \"/\" Lists/ietf\r\n"
        "* LSUB (\\Noselect \\HasNoChildren) \"/\" Nope\r\n"
        "d OK LSUB completed\r\n");
  CHECK(run(*c, "e", "UNSUBSCRIBE INBOX") == "e OK UNSUBSCRIBE completed\r\n");
  CHECK(run(*c, "e2", "UNSUBSCRIBE Nope") == "e2 OK UNSUBSCRIBE completed\r\n");
  CHECK(run(*c, "f", "LSUB \"\" *") == "* LSUB (\\HasNoChildren) \"/\" Lists/ietf\r\nf OK LSUB completed\r\n");
  // "%" stops at the first level: the unsubscribed parent shows as \Noselect (RFC 3501 6.3.9).
  CHECK(run(*c, "g", "LSUB \"\" %") == "* LSUB (\\Noselect \\HasChildren) \"/\" Lists\r\ng OK LSUB completed\r\n");
  // DELETE keeps the subscription; LIST does not show the name.
  CHECK(run(*c, "h", "DELETE Lists/ietf") == "h OK DELETE completed\r\n");
  CHECK(run(*c, "i", "LSUB \"\" Lists/*") ==
        "* LSUB (\\Noselect \\HasNoChildren) \"/\" Lists/ietf\r\ni OK LSUB completed\r\n");
  CHECK(run(*c, "j", "LIST \"\" Lists/ietf") == "j OK LIST completed\r\n");
  // The store is down: a clear NO, not a hang.
  w.onLoop([&] { return w.store->fail_all = ErrorCode::kUnavailable; });
  CHECK(run(*c, "k", "LSUB \"\" *").rfind("k NO ", 0) == 0);
}

TEST_CASE("imap session: CREATE, DELETE, RENAME") {
  World w;
  makeFolders(w);
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "CREATE Drafts/") == "a OK CREATE completed\r\n");
  CHECK(run(*c, "b", "CREATE Archive") == "b NO [ALREADYEXISTS] CREATE: mailbox already exists\r\n");
  CHECK(run(*c, "c", "CREATE inbox") == "c NO [ALREADYEXISTS] INBOX always exists\r\n");
  CHECK(run(*c, "d", "CREATE \"a*b\"") == "d NO [CANNOT] Mailbox name contains a character that is not allowed\r\n");
  CHECK(run(*c, "e", "DELETE Nope") == "e NO [NONEXISTENT] DELETE: no such mailbox\r\n");
  CHECK(run(*c, "f", "DELETE INBOX") == "f NO [CANNOT] INBOX cannot be deleted\r\n");
  CHECK(run(*c, "g", "RENAME Lists Groups") == "g OK RENAME completed\r\n");
  CHECK(run(*c, "h", "DELETE Archive") == "h OK DELETE completed\r\n");
  CHECK(run(*c, "i", "LIST \"\" *") ==
        "* LIST (\\HasNoChildren) \"/\" Drafts\r\n"
        "* LIST (\\HasChildren) \"/\" Groups\r\n"
        "* LIST (\\HasNoChildren) \"/\" Groups/ietf\r\n"
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
        "* LIST (\\HasNoChildren) \"/\" Lists.old\r\n"
        "* LIST (\\Noselect \\HasChildren) \"/\" Work\r\n"
        "* LIST (\\Noselect \\HasChildren) \"/\" Work/Projects\r\n"
        "* LIST (\\HasNoChildren) \"/\" Work/Projects/2024\r\n"
        "i OK LIST completed\r\n");
}

TEST_CASE("imap session: STATUS") {
  World w;
  makeFolders(w);
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)") ==
        "* STATUS INBOX (MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY 42 UNSEEN 2)\r\na OK STATUS completed\r\n");
  CHECK(run(*c, "b", "STATUS inbox (SIZE)") ==
        "* STATUS INBOX (SIZE " + std::to_string(kMsg1.size() + kMsg2.size() + kMsg3.size()) +
            ")\r\nb OK STATUS completed\r\n");
  CHECK(run(*c, "c", "STATUS Archive (MESSAGES UIDVALIDITY)") ==
        "* STATUS Archive (MESSAGES 0 UIDVALIDITY 43)\r\nc OK STATUS completed\r\n");
  CHECK(run(*c, "d", "STATUS Nope (MESSAGES)") == "d NO [NONEXISTENT] STATUS: no such mailbox\r\n");
  CHECK(run(*c, "e", "STATUS INBOX (BOGUS)") == "e BAD Unknown STATUS item BOGUS\r\n");
  CHECK(run(*c, "f", "STATUS INBOX ()") == "f BAD STATUS needs a mailbox name and a list of items\r\n");
}

TEST_CASE("imap session: a client that goes away mid-command leaves nothing behind") {
  World w;
  SUBCASE("during the failed-login delay") {
    auto c = w.connect();
    c->write("a LOGIN alice wrong\r\n");
    c->close();
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  }
  SUBCASE("during IDLE") {
    auto c = w.connect();
    login(*c);
    c->write("i IDLE\r\n");
    CHECK(c->line() == "+ idling\r\n");
    c->close();
  }
  SUBCASE("during a FETCH whose body stream is held") {
    auto c = w.connect();
    login(*c);
    CHECK(selectInbox(*c).ends_with("S OK [READ-WRITE] SELECT completed\r\n"));
    w.onLoop([&] { return w.store->hold_fetch_after = 1; });
    c->write("f FETCH 1:3 BODY.PEEK[]\r\n");
    CHECK(c->readUntil(")\r\n") == "* 1 FETCH (BODY[] " + lit(kMsg1) + ")\r\n");
    c->close();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    w.onLoop([&] {
      w.store->releaseFetches();
      return 0;
    });
  }
  for (int i = 0; i < 50 && w.onLoop([&] { return w.server->sessions() + imapd::Session::alive(); }) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(w.onLoop([&] { return w.server->sessions(); }) == 0);
  // Not only forgotten by the server: gone (no cycle of callbacks keeps it).
  CHECK(w.onLoop([&] { return imapd::Session::alive(); }) == 0);
}

TEST_CASE("imap session: DONE and the next command in one packet") {
  World w;
  auto c = w.connect();
  login(*c);
  c->write("i IDLE\r\n");
  CHECK(c->line() == "+ idling\r\n");
  c->write("DONE\r\nn NOOP\r\n");
  CHECK(readTagged(*c, "n") == "i OK IDLE terminated\r\nn OK NOOP completed\r\n");
}

TEST_CASE("imap session: too many invalid commands in a row end with BYE") {
  World w;
  auto c = w.connect();
  // A good command in between resets the count.
  for (int i = 0; i < imapd::Session::kMaxBadCommands - 1; ++i) CHECK(run(*c, "x" + std::to_string(i), "BOGUS").find("BAD") != std::string::npos);
  CHECK(run(*c, "n", "NOOP") == "n OK NOOP completed\r\n");
  for (int i = 0; i < imapd::Session::kMaxBadCommands - 1; ++i) run(*c, "y" + std::to_string(i), "BOGUS");
  c->write("z BOGUS\r\n");
  std::string tail = c->readUntil("* BYE Too many invalid IMAP commands.\r\n");
  CHECK(tail == "z BAD Unknown command BOGUS\r\n* BYE Too many invalid IMAP commands.\r\n");
  CHECK(c->closedByPeer());
}
