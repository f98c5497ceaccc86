// IMAP sessions in the selected state against the in-memory FakeStore:
// SELECT, FETCH, STORE, EXPUNGE, COPY/MOVE, APPEND, SEARCH, IDLE, two
// sessions on one mailbox, and a message that cannot be read.
#include <doctest/doctest.h>

#include <string>

#include "bodystructure.h"
#include "imap_harness.h"
#include "mime/mime.h"

using namespace postern;
using namespace postern::imapd::testing;

namespace {

const std::string kSelectInbox =
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
    "* 3 EXISTS\r\n"
    "* 0 RECENT\r\n"
    "* OK [UNSEEN 1] First unseen.\r\n"
    "* OK [UIDVALIDITY 42] UIDs valid\r\n"
    "* OK [UIDNEXT 4] Predicted next UID\r\n"
    "S OK [READ-WRITE] SELECT completed\r\n";

std::string header(const std::string& m) { return m.substr(0, m.find("\r\n\r\n") + 4); }
std::string text(const std::string& m) { return m.substr(m.find("\r\n\r\n") + 4); }

// A logged-in client with INBOX selected.
std::unique_ptr<Client> selected(World& w) {
  auto c = w.connect();
  login(*c);
  CHECK(selectInbox(*c) == kSelectInbox);
  return c;
}

uint64_t storedFlags(World& w, uint32_t uid, const std::string& box = "INBOX") {
  return w.onLoop([&]() -> uint64_t {
    for (const auto& m : w.store->folder("alice", box).msgs)
      if (m.meta.uid == uid) return m.meta.flags;
    return ~0ull;
  });
}

}  // namespace

TEST_CASE("imap select: SELECT and EXAMINE responses") {
  World w;
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "S", "SELECT inbox") == kSelectInbox);
  CHECK(run(*c, "a", "EXAMINE INBOX") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        "* OK [PERMANENTFLAGS ()] Flags permitted.\r\n"
        "* 3 EXISTS\r\n"
        "* 0 RECENT\r\n"
        "* OK [UNSEEN 1] First unseen.\r\n"
        "* OK [UIDVALIDITY 42] UIDs valid\r\n"
        "* OK [UIDNEXT 4] Predicted next UID\r\n"
        "a OK [READ-ONLY] EXAMINE completed\r\n");
  CHECK(run(*c, "b", "STORE 1 +FLAGS (\\Deleted)") == "b NO [READ-ONLY] Mailbox is read-only\r\n");
  // BODY[] in a read-only mailbox does not set \Seen.
  CHECK(run(*c, "c", "FETCH 1 BODY[TEXT]") == "* 1 FETCH (BODY[TEXT] " + lit(text(kMsg1)) + ")\r\nc OK FETCH completed\r\n");
  CHECK(storedFlags(w, 1) == 0);
  CHECK(run(*c, "d", "SELECT Nope") == "d NO [NONEXISTENT] SELECT: no such mailbox\r\n");
  // A failed SELECT leaves nothing selected.
  CHECK(run(*c, "e", "FETCH 1 FLAGS") == "e BAD No mailbox selected\r\n");
  w.onLoop([&] { return w.store->fail_all = ErrorCode::kUnavailable; });
  CHECK(run(*c, "f", "SELECT INBOX") ==
        "f NO [UNAVAILABLE] SELECT: mail store temporarily unavailable, try again\r\n");
}

TEST_CASE("imap select: an empty mailbox and UNSELECT") {
  World w;
  w.onLoop([&] { return w.store->folder("alice", "Empty").id; });
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "a", "SELECT Empty") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
        "* 0 EXISTS\r\n"
        "* 0 RECENT\r\n"
        "* OK [UIDVALIDITY 43] UIDs valid\r\n"
        "* OK [UIDNEXT 1] Predicted next UID\r\n"
        "a OK [READ-WRITE] SELECT completed\r\n");
  CHECK(run(*c, "b", "FETCH 1:* FLAGS") == "b BAD Invalid message sequence number\r\n");
  CHECK(run(*c, "c", "UID FETCH 1:* FLAGS") == "c OK UID FETCH completed\r\n");
  CHECK(run(*c, "d", "SEARCH ALL") == "* SEARCH\r\nd OK SEARCH completed\r\n");
  CHECK(run(*c, "e", "UNSELECT") == "e OK UNSELECT completed\r\n");
  CHECK(run(*c, "f", "NOOP") == "f OK NOOP completed\r\n");
  CHECK(run(*c, "g", "CHECK") == "g BAD No mailbox selected\r\n");
}

TEST_CASE("imap fetch: metadata items") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "FETCH 1:3 (FLAGS UID RFC822.SIZE INTERNALDATE)") ==
        "* 1 FETCH (FLAGS () UID 1 RFC822.SIZE " + std::to_string(kMsg1.size()) +
            " INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")\r\n"
            "* 2 FETCH (FLAGS (\\Seen) UID 2 RFC822.SIZE " + std::to_string(kMsg2.size()) +
            " INTERNALDATE \" 7-Nov-2023 00:00:00 +0000\")\r\n"
            "* 3 FETCH (FLAGS () UID 3 RFC822.SIZE " + std::to_string(kMsg3.size()) +
            " INTERNALDATE \"14-Nov-2023 23:13:20 +0100\")\r\n"
            "a OK FETCH completed\r\n");
  CHECK(run(*c, "b", "FETCH 2 FLAGS") == "* 2 FETCH (FLAGS (\\Seen))\r\nb OK FETCH completed\r\n");
  CHECK(run(*c, "c", "FETCH 3,1 UID") == "* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\nc OK FETCH completed\r\n");
  CHECK(run(*c, "d", "FETCH 4 FLAGS") == "d BAD Invalid message sequence number\r\n");
  CHECK(run(*c, "e", "FETCH 1 (FLAGS BOGUS)").rfind("e BAD ", 0) == 0);
  CHECK(run(*c, "f", "FETCH 1") == "f BAD FETCH needs a sequence set and data items\r\n");
}

TEST_CASE("imap fetch: body sections and partials") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "FETCH 1 BODY.PEEK[HEADER]") ==
        "* 1 FETCH (BODY[HEADER] " + lit(header(kMsg1)) + ")\r\na OK FETCH completed\r\n");
  CHECK(run(*c, "b", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]") ==
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Hello world\r\n\r\n)\r\nb OK FETCH completed\r\n");
  CHECK(run(*c, "c", "FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT TO)]") ==
        "* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT TO)] " + lit("From: Ann <ann@example.com>\r\n\r\n") + ")\r\n"
        "c OK FETCH completed\r\n");
  CHECK(run(*c, "d", "FETCH 2 BODY.PEEK[]<0.10>") == "* 2 FETCH (BODY[]<0> {10}\r\nFrom: carl)\r\nd OK FETCH completed\r\n");
  CHECK(run(*c, "e", "FETCH 2 BODY.PEEK[]<6.4>") == "* 2 FETCH (BODY[]<6> {4}\r\ncarl)\r\ne OK FETCH completed\r\n");
  CHECK(run(*c, "f", "FETCH 2 BODY.PEEK[]<5000.10>") == "* 2 FETCH (BODY[]<5000> {0}\r\n)\r\nf OK FETCH completed\r\n");
  CHECK(run(*c, "g", "FETCH 2 BODY.PEEK[TEXT]<4.100>") == "* 2 FETCH (BODY[TEXT]<4> {6}\r\noon.\r\n)\r\ng OK FETCH completed\r\n");
  CHECK(run(*c, "h", "FETCH 2 (RFC822.SIZE BODY.PEEK[1])") ==
        "* 2 FETCH (RFC822.SIZE " + std::to_string(kMsg2.size()) + " BODY[1] " + lit(text(kMsg2)) +
            ")\r\nh OK FETCH completed\r\n");
  // Nothing above set \Seen.
  CHECK(run(*c, "i", "FETCH 1:3 FLAGS") ==
        "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 3 FETCH (FLAGS ())\r\ni OK FETCH completed\r\n");
}

TEST_CASE("imap fetch: BODY[] sets \\Seen and reports it in the same response") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "FETCH 1 BODY[]") ==
        "* 1 FETCH (BODY[] " + lit(kMsg1) + " FLAGS (\\Seen))\r\na OK FETCH completed\r\n");
  CHECK(storedFlags(w, 1) == flag::kSeen);
  // Already seen: no FLAGS added.
  CHECK(run(*c, "b", "FETCH 1 BODY[]") == "* 1 FETCH (BODY[] " + lit(kMsg1) + ")\r\nb OK FETCH completed\r\n");
  CHECK(run(*c, "c", "FETCH 3 (FLAGS BODY[TEXT])") ==
        "* 3 FETCH (FLAGS (\\Seen) BODY[TEXT] " + lit(text(kMsg3)) + ")\r\nc OK FETCH completed\r\n");
  CHECK(run(*c, "d", "FETCH 1:3 FLAGS") ==
        "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 3 FETCH (FLAGS (\\Seen))\r\n"
        "d OK FETCH completed\r\n");
  CHECK(run(*c, "e", "NOOP") == "e OK NOOP completed\r\n");  // our own changes are not repeated
}

TEST_CASE("imap fetch: RFC822 items") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "FETCH 2 (RFC822.HEADER RFC822.TEXT)") ==
        "* 2 FETCH (RFC822.HEADER " + lit(header(kMsg2)) + " RFC822.TEXT " + lit(text(kMsg2)) +
            ")\r\na OK FETCH completed\r\n");
  CHECK(run(*c, "b", "FETCH 3 RFC822") ==
        "* 3 FETCH (RFC822 " + lit(kMsg3) + " FLAGS (\\Seen))\r\nb OK FETCH completed\r\n");
}

TEST_CASE("imap fetch: UID FETCH always includes UID") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "UID FETCH 2:3 FLAGS") ==
        "* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n* 3 FETCH (UID 3 FLAGS ())\r\na OK UID FETCH completed\r\n");
  CHECK(run(*c, "b", "UID FETCH 3 (UID RFC822.SIZE)") ==
        "* 3 FETCH (UID 3 RFC822.SIZE " + std::to_string(kMsg3.size()) + ")\r\nb OK UID FETCH completed\r\n");
  CHECK(run(*c, "c", "UID FETCH 99 FLAGS") == "c OK UID FETCH completed\r\n");
  CHECK(run(*c, "d", "UID FETCH 2:* BODY[HEADER.FIELDS (SUBJECT)]") ==
        "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {19}\r\nSubject: Lunch?\r\n\r\n)\r\n"
        "* 3 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: Re: hello\r\n\r\n FLAGS (\\Seen))\r\n"
        "d OK UID FETCH completed\r\n");
}

TEST_CASE("imap fetch: a corrupt message costs only its own response") {
  // The Exchange bug Postern must not have: one unreadable message must
  // neither abort the others nor the session.
  World w;
  w.onLoop([&] { return w.store->corrupt_uids.insert(2).second; });
  auto c = selected(w);
  CHECK(run(*c, "a", "FETCH 1:3 BODY[]") ==
        "* 1 FETCH (BODY[] " + lit(kMsg1) + " FLAGS (\\Seen))\r\n"
        "* 3 FETCH (BODY[] " + lit(kMsg3) + " FLAGS (\\Seen))\r\n"
        "a NO [CORRUPTION] Some messages could not be read; the others were sent\r\n");
  CHECK(run(*c, "b", "NOOP") == "b OK NOOP completed\r\n");
  CHECK(run(*c, "c", "FETCH 2 FLAGS") == "* 2 FETCH (FLAGS (\\Seen))\r\nc OK FETCH completed\r\n");
  CHECK(run(*c, "d", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]") ==
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Hello world\r\n\r\n)\r\nd OK FETCH completed\r\n");
  // SEARCH skips what it cannot read.
  CHECK(run(*c, "e", "SEARCH TEXT e") == "* SEARCH 1 3\r\ne OK SEARCH completed\r\n");
}

TEST_CASE("imap fetch: store down while fetching bodies") {
  World w;
  auto c = selected(w);
  w.onLoop([&] { return w.store->fail_all = ErrorCode::kUnavailable; });
  CHECK(run(*c, "a", "FETCH 1 BODY.PEEK[]") ==
        "a NO [UNAVAILABLE] FETCH: mail store temporarily unavailable, try again\r\n");
  w.onLoop([&] { return w.store->fail_all = ErrorCode::kOk; });
  CHECK(run(*c, "b", "FETCH 2 BODY.PEEK[]<0.4>") == "* 2 FETCH (BODY[]<0> {4}\r\nFrom)\r\nb OK FETCH completed\r\n");
}

TEST_CASE("imap fetch: a large FETCH pauses the body stream and still arrives whole") {
  World w;
  std::string big = "Subject: big\r\n\r\n" + std::string(90000, 'z') + "\r\n";
  w.onLoop([&] {
    for (int i = 0; i < 30; ++i) w.store->addMessage("alice", big);
    return 0;
  });
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "S", "SELECT INBOX").ends_with("S OK [READ-WRITE] SELECT completed\r\n"));
  c->write("a FETCH 4:* BODY.PEEK[]\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the output back up
  std::string all = readTagged(*c, "a", 10000);
  std::string want;
  for (int seq = 4; seq <= 33; ++seq) want += "* " + std::to_string(seq) + " FETCH (BODY[] " + lit(big) + ")\r\n";
  want += "a OK FETCH completed\r\n";
  CHECK(all.size() == want.size());
  CHECK(all == want);
  CHECK(w.onLoop([&] { return w.store->fetch_pauses; }) >= 1);
}

TEST_CASE("imap store: flags and keywords") {
  World w;
  auto c = selected(w);
  // A new keyword is announced (FLAGS, PERMANENTFLAGS) before it is used.
  CHECK(run(*c, "a", "STORE 1 +FLAGS (\\Flagged $Work)") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted.\r\n"
        "* 1 FETCH (FLAGS (\\Flagged $Work))\r\n"
        "a OK STORE completed\r\n");
  CHECK(storedFlags(w, 1) == (flag::kFlagged | (1ull << flag::kKeywordBase)));
  CHECK(run(*c, "b", "STORE 1 -FLAGS.SILENT ($work)") == "b OK STORE completed\r\n");
  CHECK(run(*c, "c", "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS (\\Flagged))\r\nc OK FETCH completed\r\n");
  CHECK(run(*c, "d", "STORE 1:2 FLAGS (\\Answered)") ==
        "* 1 FETCH (FLAGS (\\Answered))\r\n* 2 FETCH (FLAGS (\\Answered))\r\nd OK STORE completed\r\n");
  CHECK(run(*c, "e", "STORE 2 +FLAGS.SILENT \\Seen $Work") == "e OK STORE completed\r\n");
  CHECK(run(*c, "f", "FETCH 2 FLAGS") == "* 2 FETCH (FLAGS (\\Seen \\Answered $Work))\r\nf OK FETCH completed\r\n");
  // Storing what is already there still answers with the flags.
  CHECK(run(*c, "g", "STORE 2 +FLAGS (\\Seen)") == "* 2 FETCH (FLAGS (\\Seen \\Answered $Work))\r\ng OK STORE completed\r\n");
  CHECK(run(*c, "h", "UID STORE 3 +FLAGS (\\Deleted)") == "* 3 FETCH (UID 3 FLAGS (\\Deleted))\r\nh OK STORE completed\r\n");
  CHECK(run(*c, "i", "UID STORE 9 +FLAGS (\\Deleted)") == "i OK STORE completed\r\n");
  CHECK(run(*c, "j", "STORE 1 +FLAGS (\\Recent)").rfind("j BAD ", 0) == 0);
  CHECK(run(*c, "k", "STORE 1 FROB (\\Seen)") ==
        "k BAD Invalid STORE action; expected FLAGS, +FLAGS or -FLAGS[.SILENT]\r\n");
  CHECK(run(*c, "l", "NOOP") == "l OK NOOP completed\r\n");
}

TEST_CASE("imap expunge: EXPUNGE, UID EXPUNGE and CLOSE") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "EXPUNGE") == "a OK EXPUNGE completed\r\n");
  CHECK(run(*c, "b", "STORE 2:3 +FLAGS.SILENT (\\Deleted)") == "b OK STORE completed\r\n");
  CHECK(run(*c, "c", "EXPUNGE") == "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nc OK EXPUNGE completed\r\n");
  CHECK(run(*c, "d", "FETCH 1:* UID") == "* 1 FETCH (UID 1)\r\nd OK FETCH completed\r\n");
  CHECK(w.onLoop([&] { return w.store->inbox("alice").size(); }) == 1);
  CHECK(run(*c, "e", "NOOP") == "e OK NOOP completed\r\n");

  w.onLoop([&] {
    w.store->addMessage("alice", kMsg2, flag::kDeleted);  // uid 4
    w.store->addMessage("alice", kMsg3, flag::kDeleted);  // uid 5
    return 0;
  });
  CHECK(run(*c, "f", "NOOP") == "* 3 EXISTS\r\n* 0 RECENT\r\nf OK NOOP completed\r\n");
  CHECK(run(*c, "g", "UID EXPUNGE 5") == "* 3 EXPUNGE\r\ng OK EXPUNGE completed\r\n");
  CHECK(run(*c, "h", "UID EXPUNGE 1") == "h OK EXPUNGE completed\r\n");  // not \Deleted
  CHECK(run(*c, "i", "CLOSE") == "i OK CLOSE completed\r\n");           // silently expunges uid 4
  CHECK(w.onLoop([&] { return w.store->inbox("alice").size(); }) == 1);
  CHECK(run(*c, "j", "FETCH 1 FLAGS") == "j BAD No mailbox selected\r\n");
}

TEST_CASE("imap copy and move") {
  World w;
  w.onLoop([&] { return w.store->folder("alice", "Archive").id; });  // UIDVALIDITY 43
  auto c = selected(w);
  CHECK(run(*c, "a", "STORE 1 +FLAGS.SILENT ($Work)") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted.\r\n"
        "a OK STORE completed\r\n");
  CHECK(run(*c, "b", "COPY 1:2 Archive") == "b OK [COPYUID 43 1:2 1:2] COPY completed\r\n");
  CHECK(run(*c, "c", "COPY 1 Nope") == "c NO [TRYCREATE] Mailbox does not exist\r\n");
  CHECK(run(*c, "d", "UID COPY 3,99 Archive") == "d OK [COPYUID 43 3 3] COPY completed\r\n");
  CHECK(run(*c, "e", "UID COPY 99 Archive") == "e OK COPY completed\r\n");
  CHECK(run(*c, "f", "STATUS Archive (MESSAGES UIDNEXT UNSEEN)") ==
        "* STATUS Archive (MESSAGES 3 UIDNEXT 4 UNSEEN 2)\r\nf OK STATUS completed\r\n");
  CHECK(run(*c, "g", "MOVE 2 Archive") == "* OK [COPYUID 43 2 4] Moved\r\n* 2 EXPUNGE\r\ng OK MOVE completed\r\n");
  CHECK(run(*c, "h", "UID MOVE 3 Archive") ==
        "* OK [COPYUID 43 3 5] Moved\r\n* 2 EXPUNGE\r\nh OK MOVE completed\r\n");
  CHECK(run(*c, "i", "MOVE 1 Nope") == "i NO [TRYCREATE] Mailbox does not exist\r\n");
  CHECK(run(*c, "j", "FETCH 1:* UID") == "* 1 FETCH (UID 1)\r\nj OK FETCH completed\r\n");
  // The keyword travelled with the copy.
  CHECK(run(*c, "k", "SELECT Archive") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted.\r\n"
        "* 5 EXISTS\r\n"
        "* 0 RECENT\r\n"
        "* OK [UNSEEN 1] First unseen.\r\n"
        "* OK [UIDVALIDITY 43] UIDs valid\r\n"
        "* OK [UIDNEXT 6] Predicted next UID\r\n"
        "k OK [READ-WRITE] SELECT completed\r\n");
  CHECK(run(*c, "l", "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS ($Work))\r\nl OK FETCH completed\r\n");
}

TEST_CASE("imap append: APPENDUID, TRYCREATE, LITERAL+, into the selected mailbox") {
  World w;
  w.onLoop([&] { return w.store->folder("alice", "Archive").id; });  // UIDVALIDITY 43
  auto c = w.connect();
  login(*c);
  const std::string msg = "Subject: appended\r\n\r\nhi\r\n";
  c->write("a APPEND Archive (\\Seen $Todo) \"14-Nov-2023 22:13:20 +0100\" {" + std::to_string(msg.size()) + "}\r\n");
  CHECK(c->line() == "+ Ready for literal data\r\n");
  c->write(msg + "\r\n");
  CHECK(readTagged(*c, "a") == "a OK [APPENDUID 43 1] APPEND completed\r\n");
  auto m = w.onLoop([&] { return w.store->folder("alice", "Archive").msgs.at(0); });
  CHECK(m.body == msg);
  CHECK(m.meta.flags == (flag::kSeen | (1ull << flag::kKeywordBase)));
  CHECK(m.meta.internaldate == 1700000000 - 3600);
  CHECK(m.meta.tzoffset == 60);

  c->write("b APPEND Nope {" + std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n");
  CHECK(readTagged(*c, "b") == "b NO [TRYCREATE] Mailbox does not exist\r\n");
  // Bare LF line ends are stored as CRLF.
  c->write("c APPEND Archive {8+}\r\nX: y\n\nz\n\r\n");
  CHECK(readTagged(*c, "c") == "c OK [APPENDUID 43 2] APPEND completed\r\n");
  CHECK(w.onLoop([&] { return w.store->folder("alice", "Archive").msgs.at(1).body; }) == "X: y\r\n\r\nz\r\n");
  CHECK(run(*c, "d", "APPEND Archive (\\Bogus) {1+}\r\nx").rfind("d BAD ", 0) == 0);
  CHECK(run(*c, "e", "APPEND Archive \"bad date\" {1+}\r\nx") == "e BAD Invalid date-time in APPEND\r\n");
  CHECK(run(*c, "f", "APPEND Archive {0+}\r\n") == "f NO [CANNOT] Empty message\r\n");

  CHECK(selectInbox(*c) == kSelectInbox);
  CHECK(run(*c, "g", "APPEND INBOX {" + std::to_string(msg.size()) + "+}\r\n" + msg) ==
        "* 4 EXISTS\r\n* 0 RECENT\r\ng OK [APPENDUID 42 4] APPEND completed\r\n");
  CHECK(run(*c, "h", "FETCH 4 (UID FLAGS INTERNALDATE)") ==
        "* 4 FETCH (UID 4 FLAGS () INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")\r\nh OK FETCH completed\r\n");
}

TEST_CASE("imap search") {
  World w;
  auto c = selected(w);
  CHECK(run(*c, "a", "SEARCH UNSEEN") == "* SEARCH 1 3\r\na OK SEARCH completed\r\n");
  CHECK(run(*c, "b", "SEARCH SEEN") == "* SEARCH 2\r\nb OK SEARCH completed\r\n");
  CHECK(run(*c, "c", "SEARCH NOT SEEN") == "* SEARCH 1 3\r\nc OK SEARCH completed\r\n");
  CHECK(run(*c, "d", "STORE 1 +FLAGS.SILENT (\\Flagged)") == "d OK STORE completed\r\n");
  CHECK(run(*c, "e", "STORE 3 +FLAGS.SILENT (\\Deleted)") == "e OK STORE completed\r\n");
  CHECK(run(*c, "f", "SEARCH OR FLAGGED DELETED") == "* SEARCH 1 3\r\nf OK SEARCH completed\r\n");
  CHECK(run(*c, "g", "SEARCH UNSEEN NOT DELETED") == "* SEARCH 1\r\ng OK SEARCH completed\r\n");
  CHECK(run(*c, "h", "SEARCH (OR SEEN FLAGGED) UNDELETED") == "* SEARCH 1 2\r\nh OK SEARCH completed\r\n");
  CHECK(run(*c, "i", "SEARCH UID 2:3") == "* SEARCH 2 3\r\ni OK SEARCH completed\r\n");
  CHECK(run(*c, "j", "UID SEARCH UID 2:*") == "* SEARCH 2 3\r\nj OK UID SEARCH completed\r\n");
  CHECK(run(*c, "k", "SEARCH 2:3 UNSEEN") == "* SEARCH 3\r\nk OK SEARCH completed\r\n");
  CHECK(run(*c, "l", "SEARCH SUBJECT hello") == "* SEARCH 1 3\r\nl OK SEARCH completed\r\n");
  CHECK(run(*c, "m", "UID SEARCH SUBJECT \"LUNCH\"") == "* SEARCH 2\r\nm OK UID SEARCH completed\r\n");
  CHECK(run(*c, "n", "SEARCH FROM nobody") == "* SEARCH\r\nn OK SEARCH completed\r\n");
  CHECK(run(*c, "o", "SEARCH BODY noon") == "* SEARCH 2\r\no OK SEARCH completed\r\n");
  CHECK(run(*c, "p", "SEARCH SUBJECT hello NOT DELETED") == "* SEARCH 1\r\np OK SEARCH completed\r\n");
  CHECK(run(*c, "q", "SEARCH LARGER 70") == "* SEARCH 1\r\nq OK SEARCH completed\r\n");
  CHECK(run(*c, "r", "SEARCH SINCE 14-Nov-2023") == "* SEARCH 1 3\r\nr OK SEARCH completed\r\n");
  CHECK(run(*c, "s", "SEARCH CHARSET KOI8-R ALL") == "s NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n");
  CHECK(run(*c, "t", "SEARCH FROBNICATE") == "t BAD Unknown search key FROBNICATE\r\n");
  CHECK(run(*c, "u", "SEARCH") == "u BAD SEARCH needs at least one key\r\n");
  CHECK(run(*c, "v", "SEARCH CHARSET UTF-8 KEYWORD $Nothing") == "* SEARCH\r\nv OK SEARCH completed\r\n");
}

TEST_CASE("imap search: header keys fetch header blocks only, BODY / TEXT fetch bodies") {
  World w;
  auto c = selected(w);
  auto calls = [&] {
    return w.onLoop([&] { return std::make_pair(w.store->fetch_calls, w.store->header_fetch_calls); });
  };
  // A header-looking line in the body is not part of the header.
  const std::string msg = "Subject: =?utf-8?q?Caf=C3=A9_menu?=\r\nDate: 2 Jan 2024 10:00:00 +0100\r\n\r\n"
                          "X-Fake: inbody\r\nSubject: bodysubject\r\n";
  CHECK(run(*c, "a", "APPEND INBOX {" + std::to_string(msg.size()) + "+}\r\n" + msg).ends_with("a OK [APPENDUID 42 4] APPEND completed\r\n"));
  auto before = calls();
  CHECK(run(*c, "b", "SEARCH SUBJECT \"CAFÉ MENU\"") == "* SEARCH 4\r\nb OK SEARCH completed\r\n");
  CHECK(run(*c, "c", "SEARCH SUBJECT bodysubject") == "* SEARCH\r\nc OK SEARCH completed\r\n");
  CHECK(run(*c, "d", "SEARCH HEADER X-Fake \"\"") == "* SEARCH\r\nd OK SEARCH completed\r\n");
  CHECK(run(*c, "e", "SEARCH HEADER Date \"\" SENTON 2-Jan-2024") == "* SEARCH 4\r\ne OK SEARCH completed\r\n");
  CHECK(run(*c, "f", "SEARCH OR FROM nobody (TO nobody CC x BCC y)") == "* SEARCH\r\nf OK SEARCH completed\r\n");
  auto after = calls();
  CHECK(after.first == before.first);         // no body was asked for
  CHECK(after.second == before.second + 5);  // one header stream per SEARCH
  CHECK(run(*c, "g", "SEARCH SUBJECT menu BODY bodysubject") == "* SEARCH 4\r\ng OK SEARCH completed\r\n");
  CHECK(run(*c, "h", "SEARCH TEXT inbody") == "* SEARCH 4\r\nh OK SEARCH completed\r\n");
  CHECK(calls() == std::make_pair(after.first + 2, after.second));
}

TEST_CASE("imap search: BODY / TEXT / header keys from the store's search texts, the unindexed messages scanned") {
  World w;
  w.onLoop([&] {
    w.store->search_texts = true;
    w.store->unindexed_uids = {2};  // as if stored before search texts: scanned here
    return 0;
  });
  auto c = selected(w);
  auto calls = [&] {
    return w.onLoop([&] {
      return std::vector<int>{w.store->search_text_calls, w.store->fetch_calls, w.store->header_fetch_calls};
    });
  };
  auto before = calls();
  CHECK(run(*c, "a", "SEARCH BODY noon") == "* SEARCH 2\r\na OK SEARCH completed\r\n");
  CHECK(calls() == std::vector<int>{before[0] + 1, before[1] + 1, before[2]});  // uid 2's body only
  CHECK(run(*c, "b", "SEARCH TEXT HELLO") == "* SEARCH 1 3\r\nb OK SEARCH completed\r\n");
  CHECK(run(*c, "c", "SEARCH OR (BODY first) (BODY yes)") == "* SEARCH 1 3\r\nc OK SEARCH completed\r\n");
  CHECK(run(*c, "d", "SEARCH OR (BODY yes) (TEXT lunch)") == "* SEARCH 2 3\r\nd OK SEARCH completed\r\n");
  CHECK(run(*c, "e", "SEARCH (NOT BODY first) (TEXT hello)") == "* SEARCH 3\r\ne OK SEARCH completed\r\n");
  CHECK(run(*c, "f", "SEARCH (BODY first (TEXT ann)) NOT (BODY noon)") == "* SEARCH 1\r\nf OK SEARCH completed\r\n");
  // Header keys are needles too: the body for the unindexed only.
  before = calls();
  CHECK(run(*c, "g", "UID SEARCH SUBJECT hello BODY yes") == "* SEARCH 3\r\ng OK UID SEARCH completed\r\n");
  CHECK(run(*c, "h", "SEARCH SUBJECT lunch TEXT noon") == "* SEARCH 2\r\nh OK SEARCH completed\r\n");
  CHECK(calls() == std::vector<int>{before[0] + 2, before[1] + 2, before[2]});
  // Header keys alone: header blocks for the unindexed.
  before = calls();
  CHECK(run(*c, "g2", "SEARCH OR FROM carl SUBJECT HELLO") == "* SEARCH 1 2 3\r\ng2 OK SEARCH completed\r\n");
  CHECK(run(*c, "g3", "SEARCH HEADER \"\" \"to: bob\"") == "* SEARCH 1\r\ng3 OK SEARCH completed\r\n");
  CHECK(calls() == std::vector<int>{before[0] + 2, before[1], before[2] + 2});
  // SENT* and an odd field name read header blocks of the indexed as well.
  before = calls();
  // (no Date: field: INTERNALDATE, 2023)
  CHECK(run(*c, "g4", "SEARCH SENTSINCE 1-Jan-2000 SUBJECT hello") == "* SEARCH 1 3\r\ng4 OK SEARCH completed\r\n");
  CHECK(run(*c, "g5", "SEARCH HEADER \"Two Words\" x TEXT first") == "* SEARCH\r\ng5 OK SEARCH completed\r\n");
  // g4: header blocks of the indexed, then of uid 2; g5: of the indexed, uid 2's body
  CHECK(calls() == std::vector<int>{before[0] + 2, before[1] + 1, before[2] + 3});
  // Everything indexed: no message crosses at all.
  w.onLoop([&] {
    w.store->unindexed_uids.clear();
    return 0;
  });
  before = calls();
  CHECK(run(*c, "i", "SEARCH BODY noon") == "* SEARCH 2\r\ni OK SEARCH completed\r\n");
  CHECK(run(*c, "j", "SEARCH TEXT \"\" UNSEEN") == "* SEARCH 1 3\r\nj OK SEARCH completed\r\n");
  CHECK(calls() == std::vector<int>{before[0] + 2, before[1], before[2]});
  // More strings than one answer carries: a plain scan, the same answer.
  std::string many = "k SEARCH";
  for (size_t i = 0; i <= kMaxTextNeedles; ++i) many += " BODY " + std::string(i % 2 ? "e" : "s");
  before = calls();
  CHECK(run(*c, "k", many.substr(2)) == "* SEARCH 1 3\r\nk OK SEARCH completed\r\n");
  CHECK(calls() == std::vector<int>{before[0], before[1] + 1, before[2]});
  // The store failing: NO, the session goes on.
  w.onLoop([&] {
    w.store->fail_all = ErrorCode::kUnavailable;
    return 0;
  });
  CHECK(run(*c, "l", "SEARCH BODY noon").starts_with("l NO "));
  w.onLoop([&] {
    w.store->fail_all = ErrorCode::kOk;
    return 0;
  });
  CHECK(run(*c, "m", "SEARCH BODY noon") == "* SEARCH 2\r\nm OK SEARCH completed\r\n");
}

TEST_CASE("imap idle: another session's changes arrive at once, DONE ends it") {
  World w;
  auto a = selected(w);
  auto b = w.connect();
  login(*b);
  a->write("i IDLE\r\n");
  CHECK(a->line() == "+ idling\r\n");
  const std::string msg = "Subject: new\r\n\r\nnew\r\n";
  CHECK(run(*b, "b", "APPEND INBOX {" + std::to_string(msg.size()) + "+}\r\n" + msg) ==
        "b OK [APPENDUID 42 4] APPEND completed\r\n");
  CHECK(a->readUntil("RECENT\r\n") == "* 4 EXISTS\r\n* 0 RECENT\r\n");
  CHECK(run(*b, "S", "SELECT INBOX").ends_with("S OK [READ-WRITE] SELECT completed\r\n"));
  CHECK(run(*b, "c", "STORE 1 +FLAGS.SILENT (\\Flagged)") == "c OK STORE completed\r\n");
  CHECK(a->line() == "* 1 FETCH (FLAGS (\\Flagged))\r\n");
  CHECK(run(*b, "d", "STORE 2 +FLAGS.SILENT (\\Deleted)") == "d OK STORE completed\r\n");
  CHECK(run(*b, "e", "EXPUNGE") == "* 2 EXPUNGE\r\ne OK EXPUNGE completed\r\n");
  CHECK(a->readUntil("EXPUNGE\r\n") == "* 2 FETCH (FLAGS (\\Seen \\Deleted))\r\n* 2 EXPUNGE\r\n");
  CHECK(quiet(*a).empty());
  a->write("DONE\r\n");
  CHECK(readTagged(*a, "i") == "i OK IDLE terminated\r\n");
  CHECK(run(*a, "j", "FETCH 1:* UID") ==
        "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 4)\r\nj OK FETCH completed\r\n");
}

TEST_CASE("imap idle: without a selected mailbox, and a wrong terminator") {
  World w;
  auto a = w.connect();
  login(*a);
  a->write("i IDLE\r\n");
  CHECK(a->line() == "+ idling\r\n");
  a->write("done\r\n");
  CHECK(readTagged(*a, "i") == "i OK IDLE terminated\r\n");
  a->write("j IDLE\r\n");
  CHECK(a->line() == "+ idling\r\n");
  a->write("STOP\r\n");
  CHECK(readTagged(*a, "j") == "j BAD Expected DONE to end IDLE\r\n");
  CHECK(run(*a, "k", "NOOP") == "k OK NOOP completed\r\n");
}

TEST_CASE("imap two sessions: flags from another session arrive at NOOP") {
  World w;
  auto a = selected(w);
  auto b = selected(w);
  CHECK(run(*b, "b1", "STORE 1 +FLAGS (\\Flagged $Later)") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Later)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Later \\*)] Flags permitted.\r\n"
        "* 1 FETCH (FLAGS (\\Flagged $Later))\r\n"
        "b1 OK STORE completed\r\n");
  CHECK(quiet(*a).empty());  // not idling: nothing unsolicited
  CHECK(run(*a, "a1", "NOOP") ==
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Later)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Later \\*)] Flags permitted.\r\n"
        "* 1 FETCH (FLAGS (\\Flagged $Later))\r\n"
        "a1 OK NOOP completed\r\n");
  CHECK(run(*a, "a2", "NOOP") == "a2 OK NOOP completed\r\n");
  CHECK(run(*b, "b2", "NOOP") == "b2 OK NOOP completed\r\n");
  // During UID FETCH the FETCH update carries the UID.
  CHECK(run(*b, "b3", "STORE 3 FLAGS.SILENT (\\Answered)") == "b3 OK STORE completed\r\n");
  CHECK(run(*a, "a3", "UID FETCH 1 UID") == "* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3 FLAGS (\\Answered))\r\na3 OK UID FETCH completed\r\n");
}

TEST_CASE("imap two sessions: no EXPUNGE during FETCH, STORE or SEARCH; at NOOP") {
  World w;
  auto a = selected(w);
  auto b = selected(w);
  CHECK(run(*b, "b1", "STORE 2 +FLAGS.SILENT (\\Deleted)") == "b1 OK STORE completed\r\n");
  CHECK(run(*b, "b2", "EXPUNGE") == "* 2 EXPUNGE\r\nb2 OK EXPUNGE completed\r\n");
  CHECK(run(*a, "a1", "FETCH 1:3 FLAGS") ==
        "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 3 FETCH (FLAGS ())\r\n"
        "* 2 FETCH (FLAGS (\\Seen \\Deleted))\r\n"
        "a1 OK FETCH completed\r\n");
  CHECK(run(*a, "a2", "STORE 3 +FLAGS (\\Flagged)") == "* 3 FETCH (FLAGS (\\Flagged))\r\na2 OK STORE completed\r\n");
  CHECK(run(*a, "a3", "SEARCH ALL") == "* SEARCH 1 2 3\r\na3 OK SEARCH completed\r\n");
  CHECK(run(*a, "a4", "NOOP") == "* 2 EXPUNGE\r\na4 OK NOOP completed\r\n");
  CHECK(run(*a, "a5", "FETCH 1:* UID") == "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\na5 OK FETCH completed\r\n");
  // UID commands may carry EXPUNGE (RFC 3501 7.4.1).
  CHECK(run(*b, "b3", "STORE 1 +FLAGS.SILENT (\\Deleted)") ==
        "* 2 FETCH (FLAGS (\\Flagged))\r\nb3 OK STORE completed\r\n");  // a2's
  CHECK(run(*b, "b4", "EXPUNGE") == "* 1 EXPUNGE\r\nb4 OK EXPUNGE completed\r\n");
  CHECK(run(*a, "a6", "UID FETCH 3 UID") ==
        "* 2 FETCH (UID 3)\r\n* 1 FETCH (UID 1 FLAGS (\\Deleted))\r\n* 1 EXPUNGE\r\na6 OK UID FETCH completed\r\n");
}

TEST_CASE("imap two sessions: a message expunged while its FETCH streams") {
  World w;
  auto a = selected(w);
  auto b = selected(w);
  w.onLoop([&] { return w.store->hold_fetch_after = 1; });
  a->write("a1 FETCH 1:3 BODY.PEEK[]\r\n");
  CHECK(a->readUntil(")\r\n") == "* 1 FETCH (BODY[] " + lit(kMsg1) + ")\r\n");
  CHECK(run(*b, "b1", "STORE 3 +FLAGS.SILENT (\\Deleted)") == "b1 OK STORE completed\r\n");
  CHECK(run(*b, "b2", "EXPUNGE") == "* 3 EXPUNGE\r\nb2 OK EXPUNGE completed\r\n");
  w.onLoop([&] {
    w.store->releaseFetches();
    return 0;
  });
  CHECK(readTagged(*a, "a1") ==
        "* 2 FETCH (BODY[] " + lit(kMsg2) + ")\r\n"
        "* 3 FETCH (FLAGS (\\Deleted))\r\n"
        "a1 NO [EXPUNGEISSUED] Some messages were expunged before they could be fetched\r\n");
  CHECK(run(*a, "a2", "NOOP") == "* 3 EXPUNGE\r\na2 OK NOOP completed\r\n");
}

TEST_CASE("imap two sessions: a broken change feed is caught up by a resync") {
  World w;
  auto a = selected(w);
  auto b = selected(w);
  w.onLoop([&] { return w.store->drop_changes = true; });
  CHECK(run(*b, "b1", "STORE 1 +FLAGS.SILENT (\\Flagged)") == "b1 OK STORE completed\r\n");
  CHECK(run(*b, "b2", "STORE 2 +FLAGS.SILENT (\\Deleted)") == "b2 OK STORE completed\r\n");
  CHECK(run(*b, "b3", "EXPUNGE") == "* 2 EXPUNGE\r\nb3 OK EXPUNGE completed\r\n");
  CHECK(run(*a, "a1", "NOOP") == "a1 OK NOOP completed\r\n");  // missed
  w.onLoop([&] {
    w.store->drop_changes = false;
    w.store->resyncWatchers();
    return 0;
  });
  CHECK(run(*a, "a2", "NOOP") == "* 1 FETCH (FLAGS (\\Flagged))\r\n* 2 EXPUNGE\r\na2 OK NOOP completed\r\n");
  CHECK(run(*a, "a3", "FETCH 1:* UID") == "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\na3 OK FETCH completed\r\n");
}

TEST_CASE("imap two sessions: delivery through LMTP shows up at NOOP") {
  World w;
  auto a = selected(w);
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: x\r\n\r\ny\r\n"); });
  CHECK(run(*a, "a1", "NOOP") == "* 4 EXISTS\r\n* 0 RECENT\r\na1 OK NOOP completed\r\n");
  CHECK(run(*a, "a2", "UID FETCH 4 FLAGS") == "* 4 FETCH (UID 4 FLAGS ())\r\na2 OK UID FETCH completed\r\n");
}

TEST_CASE("imap fetch: ENVELOPE, BODYSTRUCTURE and nested sections through the MIME engine") {
  World w;
  const std::string mime =
      "From: Joe <joe@example.com>\r\n"
      "Subject: =?ISO-8859-1?Q?Caf=E9?=\r\n"
      "Content-Type: multipart/mixed; boundary=XX\r\n"
      "\r\n"
      "--XX\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Hello caf\xc3\xa9\r\n"
      "--XX\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "Subject: inner\r\n"
      "\r\n"
      "inner body\r\n"
      "--XX--\r\n";
  uint32_t uid = w.onLoop([&] { return w.store->addMessage("alice", mime); });
  auto c = w.connect();
  login(*c);
  run(*c, "S", "SELECT INBOX");
  std::string seq = std::to_string(uid);
  CHECK(run(*c, "a", "UID FETCH " + seq + " (BODYSTRUCTURE)") ==
        "* 4 FETCH (UID " + seq + " BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 11 0 NIL "
        "NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 28 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"mixed\" "
        "(\"boundary\" \"XX\") NIL NIL NIL))\r\na OK UID FETCH completed\r\n");
  CHECK(run(*c, "b", "UID FETCH " + seq + " (BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT])") ==
        "* 4 FETCH (UID " + seq + " BODY[2.HEADER] {18}\r\nSubject: inner\r\n\r\n BODY[2.TEXT] {10}\r\ninner body)\r\n"
        "b OK UID FETCH completed\r\n");
  // A section the message does not have: an empty string, and OK (as Dovecot answers).
  CHECK(run(*c, "c", "UID FETCH " + seq + " (BODY.PEEK[3] BODY.PEEK[1.HEADER])") ==
        "* 4 FETCH (UID " + seq + " BODY[3] {0}\r\n BODY[1.HEADER] {0}\r\n)\r\nc OK UID FETCH completed\r\n");
  // SEARCH matches decoded text: the encoded Subject and the UTF-8 body.
  CHECK(run(*c, "d", "SEARCH SUBJECT caf\xc3\xa9") == "d BAD Invalid characters in atom\r\n");
  CHECK(run(*c, "e", "SEARCH CHARSET UTF-8 SUBJECT {5+}\r\ncaf\xc3\xa9") == "* SEARCH 4\r\ne OK SEARCH completed\r\n");
  CHECK(run(*c, "f", "SEARCH CHARSET UTF-8 BODY {5+}\r\nCAF\xc3\x89") == "* SEARCH 4\r\nf OK SEARCH completed\r\n");
  CHECK(run(*c, "g", "SEARCH TEXT inner") == "* SEARCH 4\r\ng OK SEARCH completed\r\n");
}

TEST_CASE("imap fetch: ENVELOPE / BODY / BODYSTRUCTURE from the renderings stored keeps, the same bytes") {
  World w;
  const std::string msg =
      "From: Joe <joe@example.com>\r\nTo: a@b.c, d@e.f\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n"
      "Content-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nx\r\n"
      "--B\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--B--\r\n";
  w.onLoop([&] { return w.store->addMessage("alice", msg); });
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: damaged\r\n\r\nx\r\n"); });
  auto c = w.connect();
  login(*c);
  run(*c, "S", "SELECT INBOX");
  const std::string cmd = "FETCH 4:5 (UID ENVELOPE BODY BODYSTRUCTURE)";
  const std::string parsed = run(*c, "a", cmd);  // parsed here from the body
  REQUIRE(parsed.find("* 4 FETCH (UID") != std::string::npos);
  w.onLoop([&] {
    w.store->imap_renderer = [](const std::string& body) {
      return body.find("damaged") == std::string::npos ? imap::renderAll(mime::parse(body))
                                                        : std::string("\0\0\0\5(x)", 8);
    };
    return true;
  });
  // 4 the same bytes; 5's rendering is damaged: NO, and 4 still sent.
  const std::string kept = run(*c, "a", cmd);
  CHECK(kept.substr(0, kept.find("\r\n")) == parsed.substr(0, parsed.find("\r\n")));
  CHECK(parsed.find("* 5 FETCH") != std::string::npos);
  CHECK(kept.find("* 5 FETCH") == std::string::npos);
  CHECK(kept.find("a NO [CORRUPTION]") != std::string::npos);
  CHECK(run(*c, "b", "FETCH 4 (BODY.PEEK[1])") == "* 4 FETCH (BODY[1] {1}\r\nx)\r\nb OK FETCH completed\r\n");
  // A rendering asked for but not sent is damage too, never an empty item.
  w.onLoop([&] {
    w.store->imap_renderer = [](const std::string& body) {
      return *imap::selectRendered(imap::renderAll(mime::parse(body)), imap::kRenderedEnvelope);
    };
    return true;
  });
  CHECK(run(*c, "d", "FETCH 4 (ENVELOPE)").find("d OK FETCH completed") != std::string::npos);
  CHECK(run(*c, "e", "FETCH 4 (BODYSTRUCTURE)") ==
        "e NO [CORRUPTION] Some messages could not be read; the others were sent\r\n");
}

TEST_CASE("imap recent: exactly one session sees a message as \\Recent") {
  World w;
  w.onLoop([&] { return w.store->recent_enabled = true; });
  auto a = w.connect();
  login(*a);
  std::string sel = run(*a, "S", "SELECT INBOX");
  CHECK(sel.find("* 3 RECENT\r\n") != std::string::npos);
  CHECK(run(*a, "f", "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS (\\Recent))\r\nf OK FETCH completed\r\n");
  auto b = w.connect();
  login(*b);
  CHECK(run(*b, "S", "SELECT INBOX").find("* 0 RECENT\r\n") != std::string::npos);
  CHECK(run(*b, "f", "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n");
  // A new message: the first session to learn of it claims it, before it
  // announces it, so EXISTS and RECENT go out together (as Dovecot does).
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: new\r\n\r\nx\r\n"); });
  CHECK(run(*a, "n1", "NOOP") == "* 4 EXISTS\r\n* 4 RECENT\r\nn1 OK NOOP completed\r\n");
  CHECK(run(*a, "n2", "NOOP") == "n2 OK NOOP completed\r\n");
  CHECK(run(*b, "n1", "NOOP") == "* 4 EXISTS\r\n* 0 RECENT\r\nn1 OK NOOP completed\r\n");
  w.onLoop([] { return 0; });
  CHECK(run(*b, "n2", "NOOP") == "n2 OK NOOP completed\r\n");
  // While IDLE too.
  CHECK(run(*b, "u", "UNSELECT") == "u OK UNSELECT completed\r\n");
  a->write("i IDLE\r\n");
  CHECK(a->readUntil("\r\n") == "+ idling\r\n");
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: new 2\r\n\r\nx\r\n"); });
  // EXISTS at once (with the count known so far), RECENT again once the
  // claim is answered.
  CHECK(a->readUntil("RECENT\r\n") == "* 5 EXISTS\r\n* 4 RECENT\r\n");
  CHECK(a->readUntil("RECENT\r\n") == "* 5 RECENT\r\n");
  a->write("DONE\r\n");
  CHECK(readTagged(*a, "i") == "i OK IDLE terminated\r\n");
  CHECK(run(*b, "S2", "SELECT INBOX").find("* 0 RECENT\r\n") != std::string::npos);
  CHECK(run(*a, "s1", "SEARCH RECENT") == "* SEARCH 1 2 3 4 5\r\ns1 OK SEARCH completed\r\n");
  CHECK(run(*b, "s2", "SEARCH RECENT") == "* SEARCH\r\ns2 OK SEARCH completed\r\n");
  CHECK(run(*b, "s3", "SEARCH OLD") == "* SEARCH 1 2 3 4 5\r\ns3 OK SEARCH completed\r\n");
  CHECK(run(*a, "s4", "STORE 4 +FLAGS (\\Seen)") == "* 4 FETCH (FLAGS (\\Recent \\Seen))\r\ns4 OK STORE completed\r\n");
  CHECK(run(*a, "s5", "SEARCH NEW") == "* SEARCH 1 3 5\r\ns5 OK SEARCH completed\r\n");  // 2, 4 are \\Seen
  // EXAMINE never claims.
  auto c = w.connect();
  login(*c);
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: more\r\n\r\ny\r\n"); });
  CHECK(run(*c, "E", "EXAMINE INBOX").find("* 0 RECENT\r\n") != std::string::npos);
}

TEST_CASE("imap recent: sessions idling in one mailbox share one claim; exactly one gets the message") {
  World w;
  w.onLoop([&] { return w.store->recent_enabled = true; });
  constexpr int kSessions = 5;
  std::vector<std::unique_ptr<Client>> cs;
  for (int i = 0; i < kSessions; i++) {
    auto c = w.connect();
    login(*c);
    CHECK(run(*c, "S", "SELECT INBOX").find(i == 0 ? "* 3 RECENT\r\n" : "* 0 RECENT\r\n") != std::string::npos);
    c->write("i IDLE\r\n");
    CHECK(c->readUntil("\r\n") == "+ idling\r\n");
    cs.push_back(std::move(c));
  }
  const uint64_t claims_before = w.onLoop([&] { return w.store->claim_calls; });
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: to all\r\n\r\nx\r\n"); });
  // Every session hears of it at once, with the RECENT count it had.
  for (int i = 0; i < kSessions; i++)
    CHECK(cs[i]->readUntil("RECENT\r\n") == std::string("* 4 EXISTS\r\n* ") + (i == 0 ? "3" : "0") + " RECENT\r\n");
  for (int k = 0; k < 4; k++) w.onLoop([] { return 0; });  // the claim and its answer
  CHECK(w.onLoop([&] { return w.store->claim_calls; }) == claims_before + 1);
  int holders = 0;
  for (int i = 0; i < kSessions; i++) {
    cs[i]->write("DONE\r\n");
    std::string done = readTagged(*cs[i], "i");
    std::string recent = run(*cs[i], "r", "SEARCH RECENT");
    bool holds = recent.find(" 4\r\n") != std::string::npos;
    holders += holds;
    // The holder was told its new count before IDLE ended; nobody else was.
    CHECK(done == (holds ? std::string("* ") + (i == 0 ? "4" : "1") + " RECENT\r\n" : std::string()) +
                      "i OK IDLE terminated\r\n");
  }
  CHECK(holders == 1);
  // The next message: one more claim, again for all of them.
  for (auto& c : cs) {
    c->write("j IDLE\r\n");
    CHECK(c->readUntil("\r\n") == "+ idling\r\n");
  }
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: again\r\n\r\ny\r\n"); });
  for (auto& c : cs) CHECK(c->readUntil("EXISTS\r\n").find("* 5 EXISTS\r\n") != std::string::npos);
  for (int k = 0; k < 4; k++) w.onLoop([] { return 0; });
  CHECK(w.onLoop([&] { return w.store->claim_calls; }) == claims_before + 2);
}

TEST_CASE("imap recent: a shared claim is not taken by a session that has since EXAMINEd the mailbox") {
  World w;
  w.onLoop([&] { return w.store->recent_enabled = true; });
  auto a = w.connect();
  login(*a);
  CHECK(run(*a, "S", "SELECT INBOX").find("* 3 RECENT\r\n") != std::string::npos);
  auto b = w.connect();
  login(*b);
  CHECK(run(*b, "S", "SELECT INBOX").find("* 0 RECENT\r\n") != std::string::npos);
  for (auto* c : {a.get(), b.get()}) {
    c->write("i IDLE\r\n");
    CHECK(c->readUntil("\r\n") == "+ idling\r\n");
  }
  // The claim for the new message is asked for and held while both leave:
  // a closes the mailbox, b looks at it read-only (same mailbox id).
  w.onLoop([&] { return w.store->hold_claims = true; });
  w.onLoop([&] { return w.store->addMessage("alice", "Subject: held\r\n\r\nx\r\n"); });
  CHECK(a->readUntil("RECENT\r\n") == "* 4 EXISTS\r\n* 3 RECENT\r\n");
  CHECK(b->readUntil("RECENT\r\n") == "* 4 EXISTS\r\n* 0 RECENT\r\n");
  CHECK(w.onLoop([&] { return w.store->held_claims.size(); }) == 1);
  a->write("DONE\r\n");
  CHECK(readTagged(*a, "i") == "i OK IDLE terminated\r\n");
  CHECK(run(*a, "u", "UNSELECT") == "u OK UNSELECT completed\r\n");
  b->write("DONE\r\n");
  CHECK(readTagged(*b, "i") == "i OK IDLE terminated\r\n");
  CHECK(run(*b, "E", "EXAMINE INBOX").find("E OK [READ-ONLY]") != std::string::npos);
  w.onLoop([&] {
    w.store->releaseClaims();
    return 0;
  });
  for (int k = 0; k < 4; k++) w.onLoop([] { return 0; });
  // Nobody could show it: a read-only view never holds \Recent.
  CHECK(run(*b, "s", "SEARCH RECENT") == "* SEARCH\r\ns OK SEARCH completed\r\n");
}

TEST_CASE("imap recent: SELECT and APPEND into the selected mailbox claim in the same store call") {
  World w;
  w.onLoop([&] {
    w.store->folder("alice", "Archive");
    return w.store->recent_enabled = true;
  });
  auto a = w.connect();
  login(*a);
  CHECK(run(*a, "S", "SELECT INBOX").find("* 3 RECENT\r\n") != std::string::npos);
  CHECK(w.onLoop([&] { return w.store->select_claims; }) == 1);
  CHECK(w.onLoop([&] { return w.store->claim_calls; }) == 0);
  const std::string msg = "Subject: mine\r\n\r\nhi\r\n";
  const std::string lit = "{" + std::to_string(msg.size()) + "+}\r\n" + msg;
  // The new message is this session's \Recent with no claim round trip.
  CHECK(run(*a, "A", "APPEND INBOX " + lit) == "* 4 EXISTS\r\n* 4 RECENT\r\nA OK [APPENDUID 42 4] APPEND completed\r\n");
  CHECK(run(*a, "f", "FETCH 4 FLAGS") == "* 4 FETCH (FLAGS (\\Recent))\r\nf OK FETCH completed\r\n");
  CHECK(run(*a, "n", "NOOP") == "n OK NOOP completed\r\n");
  CHECK(w.onLoop([&] { return w.store->append_claims; }) == 1);
  CHECK(w.onLoop([&] { return w.store->claim_calls; }) == 0);
  // A second session selecting INBOX finds nothing left to claim.
  auto b = w.connect();
  login(*b);
  CHECK(run(*b, "S", "SELECT INBOX").find("* 0 RECENT\r\n") != std::string::npos);
  // Into another mailbox: nothing is claimed (whoever selects it gets it).
  CHECK(run(*a, "B", "APPEND Archive " + lit).find("B OK [APPENDUID") != std::string::npos);
  CHECK(w.onLoop([&] { return w.store->append_claims; }) == 1);
  // From b (INBOX selected) into INBOX: b claims it; a is told, not given it.
  CHECK(run(*b, "C", "APPEND INBOX " + lit) == "* 5 EXISTS\r\n* 1 RECENT\r\nC OK [APPENDUID 42 5] APPEND completed\r\n");
  CHECK(run(*a, "n2", "NOOP") == "* 5 EXISTS\r\n* 4 RECENT\r\nn2 OK NOOP completed\r\n");
  CHECK(run(*a, "s", "SEARCH RECENT") == "* SEARCH 1 2 3 4\r\ns OK SEARCH completed\r\n");
  CHECK(run(*b, "s", "SEARCH RECENT") == "* SEARCH 5\r\ns OK SEARCH completed\r\n");
  // Read-only (EXAMINE) sessions never claim, not even their own APPEND.
  auto c = w.connect();
  login(*c);
  CHECK(run(*c, "E", "EXAMINE INBOX").find("* 0 RECENT\r\n") != std::string::npos);
  CHECK(run(*c, "D", "APPEND INBOX " + lit).find("D OK [APPENDUID 42 6]") != std::string::npos);
  CHECK(w.onLoop([&] { return w.store->append_claims; }) == 2);
}

TEST_CASE("imap search: SENT* keys use the Date: header, BEFORE/ON/SINCE the INTERNALDATE") {
  World w;
  uint32_t uid = w.onLoop([&] {
    return w.store->addMessage("alice", "Date: Tue, 1 Jul 2003 23:52:37 -0700\r\nSubject: old\r\n\r\nx\r\n", 0,
                               "INBOX", 1600000000 /* 13-Sep-2020 */, 0);
  });
  auto c = w.connect();
  login(*c);
  run(*c, "S", "SELECT INBOX");
  std::string seq = std::to_string(uid);
  CHECK(run(*c, "a", "UID SEARCH SENTON 1-Jul-2003") == "* SEARCH " + seq + "\r\na OK UID SEARCH completed\r\n");
  CHECK(run(*c, "b", "UID SEARCH SENTBEFORE 2-Jul-2003") == "* SEARCH " + seq + "\r\nb OK UID SEARCH completed\r\n");
  CHECK(run(*c, "c", "UID SEARCH ON 13-Sep-2020") == "* SEARCH " + seq + "\r\nc OK UID SEARCH completed\r\n");
  CHECK(run(*c, "d", "UID SEARCH SENTSINCE 13-Sep-2020 UID " + seq) == "* SEARCH\r\nd OK UID SEARCH completed\r\n");
}

TEST_CASE("imap select: the change feed holds a user while a session has a mailbox of it selected") {
  World w;
  auto holds = [&] { return w.onLoop([&] { return w.store->feed_holds["alice"]; }); };
  auto calls = [&] { return w.onLoop([&] { return w.store->unwatch_calls; }); };
  auto c1 = selected(w);
  auto c2 = selected(w);
  CHECK(holds() == 2);
  CHECK(run(*c1, "a", "EXAMINE INBOX").find("a OK") != std::string::npos);  // re-select: one more
  CHECK(run(*c2, "b", "CLOSE") == "b OK CLOSE completed\r\n");
  // Released together once no session of the user has a mailbox here, not one call per deselect.
  CHECK(holds() == 3);
  CHECK(calls() == 0);
  CHECK(run(*c1, "c", "LOGOUT").find("c OK") != std::string::npos);
  CHECK(calls() == 0);
  for (int i = 0; i < 100 && calls() == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(calls() == 1);
  CHECK(holds() == 0);
  // A session that selects again holds again.
  auto c3 = selected(w);
  CHECK(holds() == 1);
}

TEST_CASE("imap select: answered after the client left, the select installs nothing and gives its hold back") {
  World w;
  auto holds = [&] { return w.onLoop([&] { return w.store->feed_holds["alice"]; }); };
  auto c = w.connect();
  login(*c);
  w.onLoop([&] { return w.store->hold_selects = true; });
  c->write("S SELECT INBOX\r\n");
  for (int i = 0; i < 100 && w.onLoop([&] { return w.store->held_selects.size(); }) == 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  c.reset();  // gone before the store answers
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  w.onLoop([&] {
    w.store->releaseSelects();
    return 0;
  });
  CHECK(holds() == 1);
  for (int i = 0; i < 100 && holds() != 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(holds() == 0);
  // The worker goes on.
  auto d = selected(w);
  CHECK(run(*d, "n", "NOOP") == "n OK NOOP completed\r\n");
}

TEST_CASE("imap select: a select whose feed broke meanwhile re-reads the mailbox before the next command") {
  World w;
  auto c = w.connect();
  login(*c);
  w.onLoop([&] { return w.store->select_feed_stale = true; });
  CHECK(selectInbox(*c) == kSelectInbox);
  w.onLoop([&] { return w.store->select_feed_stale = false; });
  const int before = w.onLoop([&] { return w.store->select_calls; });
  CHECK(run(*c, "n", "NOOP") == "n OK NOOP completed\r\n");
  CHECK(w.onLoop([&] { return w.store->select_calls; }) == before + 1);
  CHECK(run(*c, "o", "NOOP") == "o OK NOOP completed\r\n");  // once
  CHECK(w.onLoop([&] { return w.store->select_calls; }) == before + 1);
}

TEST_CASE("imap idle: a re-read that fails after the feed broke is tried again while the client idles") {
  World w;
  auto c = selected(w);
  c->write("i IDLE\r\n");
  CHECK(c->line() == "+ idling\r\n");
  const int before = w.onLoop([&] { return w.store->select_calls; });
  w.onLoop([&] {
    w.store->fail_all = ErrorCode::kUnavailable;
    w.store->resyncWatchers();
    return 0;
  });
  for (int i = 0; i < 100 && w.onLoop([&] { return w.store->select_calls; }) == before; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(w.onLoop([&] { return w.store->select_calls; }) == before + 1);  // failed
  w.onLoop([&] { return w.store->fail_all = ErrorCode::kOk; });
  for (int i = 0; i < 60 && w.onLoop([&] { return w.store->select_calls; }) == before + 1; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(w.onLoop([&] { return w.store->select_calls; }) == before + 2);  // tried again, no client input
  c->write("DONE\r\n");
  CHECK(readTagged(*c, "i") == "i OK IDLE terminated\r\n");
}

TEST_CASE("imap idle: a re-read that finds the mailbox gone ends the session instead of retrying") {
  World w;
  auto c = selected(w);
  c->write("i IDLE\r\n");
  CHECK(c->line() == "+ idling\r\n");
  w.onLoop([&] {
    w.store->fail_all = ErrorCode::kNotFound;
    w.store->resyncWatchers();
    return 0;
  });
  CHECK(c->line() == "* BYE Selected mailbox was deleted or renamed\r\n");
}
