// Per-user settings and POP3 retention (stored/store_pop3.cc): retrieval
// stamps, EXPIRE, and the settings summary CAPA uses before login.
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {
constexpr int64_t kDay = 86400;

}  // namespace

TEST_CASE("retrieval stamp: the first retrieval counts, unknown uids are skipped, no modseq") {
  Fixture f;
  f.append("INBOX", "a\r\n");
  f.append("INBOX", "b\r\n");
  uint32_t inbox = f.mailboxId("INBOX");
  uint64_t modseq = f.store->getMailbox("alice", "INBOX")->highestmodseq;
  CHECK(*f.store->retrievedAt("alice", inbox, 1) == 0);

  int64_t t0 = f.store->retentionNow();
  REQUIRE(f.store->markRetrieved("alice", inbox, {1, 99}).ok());
  int64_t first = *f.store->retrievedAt("alice", inbox, 1);
  CHECK(first >= t0);
  CHECK(first <= f.store->retentionNow());
  CHECK(*f.store->retrievedAt("alice", inbox, 2) == 0);

  // Later retrievals keep the first time.
  f.store->setClockOffset(3 * kDay);
  REQUIRE(f.store->markRetrieved("alice", inbox, {1, 2}).ok());
  CHECK(*f.store->retrievedAt("alice", inbox, 1) == first);
  CHECK(*f.store->retrievedAt("alice", inbox, 2) >= first + 3 * kDay);
  // Not an IMAP-visible change.
  CHECK(f.store->getMailbox("alice", "INBOX")->highestmodseq == modseq);
  CHECK(f.store->markRetrieved("alice", 999, {1}).code == ErrorCode::kNotFound);
}

TEST_CASE("expire: only messages retrieved at least n days ago go; never one not retrieved") {
  Fixture f;
  for (int i = 0; i < 4; ++i) f.append("INBOX", "m" + std::to_string(i) + "\r\n");
  uint32_t inbox = f.mailboxId("INBOX");
  REQUIRE(f.store->markRetrieved("alice", inbox, {1}).ok());  // day 0
  f.store->setClockOffset(2 * kDay);
  REQUIRE(f.store->markRetrieved("alice", inbox, {2}).ok());  // day 2
  // uids 3 and 4 were never retrieved.

  f.store->setClockOffset(3 * kDay - 60);  // uid 1 is 3 days old less a minute
  auto r = f.store->expireRetrieved("alice", "INBOX", 3 * kDay);
  REQUIRE(r.ok());
  CHECK(r->expunged.empty());
  CHECK(f.uidsOf("INBOX") == std::vector<uint32_t>{1, 2, 3, 4});

  f.store->setClockOffset(3 * kDay);
  r = f.store->expireRetrieved("alice", "", 3 * kDay);  // "" = INBOX
  REQUIRE(r.ok());
  CHECK(r->expunged == std::vector<uint32_t>{1});
  CHECK(f.uidsOf("INBOX") == std::vector<uint32_t>{2, 3, 4});

  // EXPIRE 0: every retrieved message, still none that was not.
  r = f.store->expireRetrieved("alice", "INBOX", 0);
  REQUIRE(r.ok());
  CHECK(r->expunged == std::vector<uint32_t>{2});
  CHECK(f.uidsOf("INBOX") == std::vector<uint32_t>{3, 4});

  f.store->setClockOffset(10000 * kDay);
  r = f.store->expireRetrieved("alice", "INBOX", 0);
  REQUIRE(r.ok());
  CHECK(r->expunged.empty());
  CHECK(f.uidsOf("INBOX") == std::vector<uint32_t>{3, 4});

  CHECK(f.store->expireRetrieved("alice", "INBOX", -1).error().code == ErrorCode::kBadArgs);
  CHECK(f.store->expireRetrieved("alice", "Nope", 0).error().code == ErrorCode::kNotFound);
  CHECK(f.store->expireRetrieved("nobody", "INBOX", 0).error().code == ErrorCode::kNotFound);
}

TEST_CASE("expire publishes expunges like any other, so IMAP sessions see them") {
  Fixture f;
  f.append("INBOX", "a\r\n");
  uint32_t inbox = f.mailboxId("INBOX");
  REQUIRE(f.store->markRetrieved("alice", inbox, {1}).ok());
  auto sub = f.store->changes().subscribe();
  auto r = f.store->expireRetrieved("alice", "INBOX", 0);
  REQUIRE(r.ok());
  ChangeBatch batch;
  REQUIRE(sub->next(std::chrono::milliseconds(1000), &batch) == Subscription::Status::kBatch);
  REQUIRE(batch.changes.size() == 1);
  CHECK(batch.changes[0].kind == Change::kExpunged);
  CHECK(batch.changes[0].meta.uid == 1);
}

TEST_CASE("a copy is a new message to POP3: it is not stamped") {
  Fixture f;
  REQUIRE(f.store->createMailbox("alice", "Archive").ok());
  f.append("INBOX", "a\r\n");
  uint32_t inbox = f.mailboxId("INBOX");
  REQUIRE(f.store->markRetrieved("alice", inbox, {1}).ok());
  auto c = f.store->copy("alice", inbox, {1}, "INBOX", false);
  REQUIRE(c.ok());
  REQUIRE(c->dest_uids.size() == 1);
  CHECK(*f.store->retrievedAt("alice", inbox, 1) != 0);
  CHECK(*f.store->retrievedAt("alice", inbox, c->dest_uids[0]) == 0);
}

TEST_CASE("user settings: set, validated like the config file, removed, summarised") {
  Fixture f;
  REQUIRE(f.store->addUser("bob", "pw").ok());
  CHECK(f.store->userSettings("alice")->empty());
  CHECK(f.store->userSettingsSummary()->empty());

  REQUIRE(f.store->setUserSetting("alice", "pop3.expire", "30").ok());
  REQUIRE(f.store->setUserSetting("Alice", "pop3.login_delay", " 900 ").ok());
  REQUIRE(f.store->setUserSetting("bob", "pop3.expire", "never").ok());
  REQUIRE(f.store->setUserSetting("bob", "pop3.mark_seen", "false").ok());
  auto a = f.store->userSettings("alice");
  REQUIRE(a.ok());
  CHECK(*a == std::map<std::string, std::string>{{"pop3.expire", "30"}, {"pop3.login_delay", "900"}});

  auto sum = f.store->userSettingsSummary();
  REQUIRE(sum.ok());
  CHECK((*sum)["pop3.expire"] == std::vector<std::string>{"30", "never"});
  CHECK((*sum)["pop3.login_delay"] == std::vector<std::string>{"900"});
  CHECK((*sum)["pop3.mark_seen"] == std::vector<std::string>{"false"});

  CHECK(f.store->setUserSetting("alice", "pop3.expire", "soon").code == ErrorCode::kBadArgs);
  CHECK(f.store->setUserSetting("alice", "pop3.expire", "36501").code == ErrorCode::kBadArgs);
  CHECK(f.store->setUserSetting("alice", "pop3.login_delay", "-1").code == ErrorCode::kBadArgs);
  CHECK(f.store->setUserSetting("alice", "pop3.timeout", "60").code == ErrorCode::kBadArgs);
  CHECK(f.store->setUserSetting("nobody", "pop3.expire", "1").code == ErrorCode::kNotFound);

  // Removing an override, and deleting a user, leave the summary at once.
  REQUIRE(f.store->setUserSetting("alice", "pop3.expire", "").ok());
  REQUIRE(f.store->deleteUser("bob").ok());
  sum = f.store->userSettingsSummary();
  REQUIRE(sum.ok());
  CHECK(*sum == std::map<std::string, std::vector<std::string>>{{"pop3.login_delay", {"900"}}});
  CHECK(*f.store->userSettings("alice") == std::map<std::string, std::string>{{"pop3.login_delay", "900"}});
}

TEST_CASE("user settings survive a restart; the clock offset does not") {
  TempDir dir;
  {
    auto store = openEngine(dir.path);
    REQUIRE(store->addUser("alice", "pw").ok());
    REQUIRE(store->setUserSetting("alice", "pop3.expire", "7").ok());
    store->setClockOffset(5 * kDay);
    CHECK(store->retentionNow() >= int64_t(time(nullptr)) + 5 * kDay);
  }
  auto store = openEngine(dir.path);
  CHECK(*store->userSettings("alice") == std::map<std::string, std::string>{{"pop3.expire", "7"}});
  CHECK(store->retentionNow() <= int64_t(time(nullptr)) + 1);
}
