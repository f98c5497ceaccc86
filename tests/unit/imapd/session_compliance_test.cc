// Behaviours the IMAP compliance cases (tests/integration/imap_compliance)
// found missing, pinned at the session level against the FakeStore: one
// TEST_CASE per fix, with the RFC 3501 rule it follows.
#include "imap_harness.h"

using namespace postern;
using namespace postern::imapd;
using namespace postern::imapd::testing;

namespace {

std::unique_ptr<Client> selectedSession(World& w) {
  auto c = w.connect();
  login(*c);
  REQUIRE(selectInbox(*c).ends_with("S OK [READ-WRITE] SELECT completed\r\n"));
  return c;
}

std::string litPlus(const std::string& s) { return "{" + std::to_string(s.size()) + "+}\r\n" + s; }

}  // namespace

TEST_CASE("compliance: FETCH of a section the message lacks is an empty string and OK") {
  World w;
  auto c = selectedSession(w);
  // kMsg1 is a single text part: it has part 1 only, and no 1.HEADER (not message/rfc822).
  CHECK(run(*c, "a", "FETCH 1 (BODY.PEEK[2] BODY.PEEK[1.HEADER] BODY.PEEK[1]<0.5>)") ==
        "* 1 FETCH (BODY[2] {0}\r\n BODY[1.HEADER] {0}\r\n BODY[1]<0> {5}\r\nFirst)\r\na OK FETCH completed\r\n");
}

TEST_CASE("compliance: APPEND takes its message only as a literal (RFC 3501 append syntax)") {
  World w;
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "APPEND INBOX \"Subject: x\"") == "a BAD APPEND message must be a literal\r\n");
  CHECK(run(*c, "b", "APPEND INBOX \"01-Feb-2020 00:00:00 +0000\"") == "b BAD APPEND message must be a literal\r\n");
  CHECK(w.onLoop([&] { return w.store->inbox("alice").size(); }) == 3);
}

TEST_CASE("compliance: APPEND, COPY and MOVE into the selected mailbox announce EXISTS before the tagged OK") {
  World w;
  auto c = selectedSession(w);
  const std::string msg = "Subject: a copy\r\n\r\nx\r\n";
  CHECK(run(*c, "a", "APPEND INBOX " + litPlus(msg)) ==
        "* 4 EXISTS\r\n* 0 RECENT\r\na OK [APPENDUID 42 4] APPEND completed\r\n");
  std::string copied = run(*c, "b", "COPY 1 INBOX");
  CHECK(copied.rfind("* 5 EXISTS\r\n", 0) == 0);
  CHECK(copied.ends_with("b OK [COPYUID 42 1 5] COPY completed\r\n"));
  std::string moved = run(*c, "m", "MOVE 2 INBOX");
  CHECK(moved.rfind("* OK [COPYUID 42 2 6] Moved\r\n* 2 EXPUNGE\r\n* 5 EXISTS\r\n", 0) == 0);
  CHECK(moved.ends_with("m OK MOVE completed\r\n"));
  // With the change feed broken the command still completes, without the EXISTS (the
  // session's resync catches up later).
  w.onLoop([&] { return w.store->drop_changes = true; });
  CHECK(run(*c, "c", "APPEND INBOX " + litPlus(msg)) == "c OK [APPENDUID 42 7] APPEND completed\r\n");
}

TEST_CASE("compliance: CREATE a/b/c lists a and a/b as \\Noselect hierarchy names (RFC 3501 6.3.3)") {
  World w;
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "CREATE a/b/c") == "a OK CREATE completed\r\n");
  CHECK(run(*c, "b", "LIST \"\" a*") ==
        "* LIST (\\Noselect \\HasChildren) \"/\" a\r\n* LIST (\\Noselect \\HasChildren) \"/\" a/b\r\n"
        "* LIST (\\HasNoChildren) \"/\" a/b/c\r\nb OK LIST completed\r\n");
  // Declaring the name with the delimiter makes it a mailbox of its own.
  CHECK(run(*c, "c", "CREATE a/") == "c OK CREATE completed\r\n");
  CHECK(run(*c, "d", "LIST \"\" a") == "* LIST (\\HasChildren) \"/\" a\r\nd OK LIST completed\r\n");
}

TEST_CASE("compliance: SEARCH ignores sequence numbers past EXISTS; n:* past the end is the last message") {
  World w;
  auto c = selectedSession(w);
  CHECK(run(*c, "a", "SEARCH 9:*") == "* SEARCH 3\r\na OK SEARCH completed\r\n");
  CHECK(run(*c, "b", "SEARCH 2:9") == "* SEARCH 2 3\r\nb OK SEARCH completed\r\n");
  CHECK(run(*c, "c", "SEARCH 7") == "* SEARCH\r\nc OK SEARCH completed\r\n");
  CHECK(run(*c, "d", "SEARCH 0") == "d BAD Unknown search key 0\r\n");
  // FETCH keeps refusing them (RFC 3501 9: "should respond with a tagged BAD").
  CHECK(run(*c, "e", "FETCH 9:* UID") == "e BAD Invalid message sequence number\r\n");
}

TEST_CASE("compliance: STORE .SILENT reports a flag change made by another session") {
  World w;
  auto a = selectedSession(w);
  auto b = selectedSession(w);
  CHECK(run(*b, "b1", "STORE 1 +FLAGS.SILENT (\\Flagged)") == "b1 OK STORE completed\r\n");
  CHECK(run(*a, "a1", "STORE 1 +FLAGS.SILENT (\\Answered)") ==
        "* 1 FETCH (FLAGS (\\Answered \\Flagged))\r\na1 OK STORE completed\r\n");
  // Only its own change: silent.
  CHECK(run(*a, "a2", "STORE 1 -FLAGS.SILENT (\\Answered)") == "a2 OK STORE completed\r\n");
  CHECK(run(*a, "a3", "UID STORE 3 FLAGS.SILENT ($Mine)").find("* 3 FETCH") == std::string::npos);
  CHECK(run(*a, "a4", "NOOP") == "a4 OK NOOP completed\r\n");
}
