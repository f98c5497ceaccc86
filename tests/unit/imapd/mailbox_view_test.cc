// MailboxView: what a session announces, and when (RFC 3501 7.4.1).
#include <doctest/doctest.h>

#include "mailbox_view.h"
#include "view_util.h"

using namespace postern;
using namespace postern::imapd;
using postern::imapd::test::box;

namespace {

Change change(Change::Kind k, uint32_t uid, uint64_t modseq, uint64_t flags = 0) {
  Change c;
  c.kind = k;
  c.mailbox_id = 7;
  c.meta.uid = uid;
  c.meta.modseq = modseq;
  c.meta.flags = flags;
  return c;
}

}  // namespace

TEST_CASE("view: new messages are announced as EXISTS") {
  MailboxView v(box({1, 2}), false);
  v.queue(change(Change::kNew, 3, 10));
  v.queue(change(Change::kNew, 2, 11));  // already known: ignored
  CHECK(v.flush(true, false) == "* 3 EXISTS\r\n* 0 RECENT\r\n");
  CHECK(v.count() == 3);
  CHECK(v.flush(true, false).empty());
}

TEST_CASE("view: expunges wait while FETCH/STORE/SEARCH run") {
  MailboxView v(box({1, 2, 3}), false);
  v.queue(change(Change::kExpunged, 2, 20));
  v.queue(change(Change::kFlags, 3, 21, flag::kSeen));
  CHECK(v.flush(false, false) == "* 3 FETCH (FLAGS (\\Seen))\r\n");
  CHECK(v.count() == 3);
  CHECK(v.flush(true, false) == "* 2 EXPUNGE\r\n");
  CHECK(v.count() == 2);
  CHECK(v.seqOf(3) == 2);
}

TEST_CASE("view: our own flag changes are not announced twice") {
  MailboxView v(box({1}), false);
  v.applyFlags({MessageMeta{1, flag::kFlagged, 30, 0, 0, 0}}, {});
  v.queue(change(Change::kFlags, 1, 30, flag::kFlagged));
  CHECK(v.flush(true, true).empty());
  v.queue(change(Change::kFlags, 1, 31, 0));
  CHECK(v.flush(true, true) == "* 1 FETCH (UID 1 FLAGS ())\r\n");
}

TEST_CASE("view: EXISTS before EXPUNGE keeps counts consistent") {
  MailboxView v(box({1, 2}), false);
  v.queue(change(Change::kNew, 3, 5));
  v.queue(change(Change::kExpunged, 1, 6));
  CHECK(v.flush(true, false) == "* 3 EXISTS\r\n* 1 EXPUNGE\r\n");
  CHECK(v.count() == 2);
}

TEST_CASE("view: resync diffs a fresh snapshot") {
  MailboxView v(box({1, 2, 3}), false);
  auto fresh = box({1, 3, 4});
  fresh.messages[0].flags = flag::kSeen;
  fresh.messages[0].modseq = 50;
  REQUIRE(v.resync(fresh));
  CHECK(v.flush(true, false) == "* 1 FETCH (FLAGS (\\Seen))\r\n* 4 EXISTS\r\n* 2 EXPUNGE\r\n");
  CHECK(v.count() == 3);
  auto other = box({1});
  other.mailbox.uidvalidity = 101;
  CHECK_FALSE(v.resync(other));
}

TEST_CASE("view: keywords and flag lists") {
  auto s = box({1});
  s.mailbox.keywords = {"$Junk", "Work"};
  s.messages[0].flags = flag::kSeen | flag::kDeleted | (1ull << (flag::kKeywordBase + 1));
  MailboxView v(s, false);
  CHECK(v.flagList(v.at(1).flags) == "(\\Seen \\Deleted Work)");
  CHECK(v.allFlags(true) == "(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk Work \\*)");
  MailboxView ro(s, true);
  CHECK(ro.allFlags(true) == "()");
  CHECK(v.firstUnseen() == 0);
}

TEST_CASE("view: expungeNow reports sequence numbers as they shift") {
  MailboxView v(box({1, 2, 3, 4}), false);
  CHECK(v.expungeNow({2, 3}) == "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  CHECK(v.count() == 2);
  CHECK(v.at(2).uid == 4);
}

TEST_CASE("view: PERMANENTFLAGS offers \\* only while keywords can still be created") {
  SelectedMailbox s = box({1});
  for (int i = 0; i + 1 < flag::kMaxKeywords; ++i) s.mailbox.keywords.push_back("$k" + std::to_string(i));
  MailboxView almost(s, false);
  CHECK(almost.allFlags(true).ends_with(" \\*)"));
  s.mailbox.keywords.push_back("$last");
  MailboxView full(s, false);
  CHECK(full.allFlags(true).ends_with(" $last)"));
  CHECK(full.allFlags(false).ends_with(" $last)"));
  MailboxView examined(box({1}), true);
  CHECK(examined.allFlags(true) == "()");
}

TEST_CASE("view: claiming before the flush gives EXISTS and the right RECENT together") {
  MailboxView v(box({1, 2}), false);
  CHECK_FALSE(v.unclaimedNewPending());
  v.queue(change(Change::kNew, 3, 10));
  v.queue(change(Change::kNew, 4, 11));
  CHECK(v.unclaimedNewPending());
  v.addRecent(3, 5);  // what ClaimRecent handed this session
  CHECK_FALSE(v.unclaimedNewPending());
  CHECK(v.flush(true, false) == "* 4 EXISTS\r\n* 2 RECENT\r\n");
  CHECK_FALSE(v.unclaimedNewPending());
  // Read-only views never claim.
  MailboxView ro(box({1}), true);
  ro.queue(change(Change::kNew, 2, 5));
  CHECK_FALSE(ro.unclaimedNewPending());
}
