// SELECT's list cache (stored/list_cache.h): the bound and LRU order of the
// cache itself, and that StoreEngine::selectMailbox never answers from an
// entry older than the mailbox (every kind of change, every reader).
#include <memory>
#include <vector>

#include "list_cache.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {

ListCache::List listOf(size_t n, uint32_t first_uid = 1) {
  auto v = std::make_shared<std::vector<MessageMeta>>();
  for (size_t i = 0; i < n; i++) v->push_back(MessageMeta{uint32_t(first_uid + i), 0, 1, 10, 0, 0});
  return v;
}

ListCache::Key keyOf(uint32_t id, uint64_t modseq = 1) { return ListCache::Key{id, 7, 100, 10, modseq}; }

}  // namespace

TEST_CASE("list cache: a hit needs the same key; a changed key drops the entry") {
  ListCache c(1 << 20, 1);
  auto l = listOf(10);
  c.put(keyOf(1), l);
  CHECK(c.get(keyOf(1)) == l);
  CHECK(c.hits() == 1);
  CHECK(c.get(keyOf(2)) == nullptr);  // another mailbox
  CHECK(c.get(keyOf(1, 2)) == nullptr);  // the mailbox moved on
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
  CHECK(c.get(keyOf(1)) == nullptr);
}

TEST_CASE("list cache: bounded in bytes, least recently used out first, short lists never kept") {
  ListCache c(ListCache::cost(25), 5);
  c.put(keyOf(1), listOf(4));  // below min_messages
  CHECK(c.entries() == 0);
  c.put(keyOf(1), listOf(10));
  c.put(keyOf(2), listOf(10));
  REQUIRE(c.get(keyOf(1)) != nullptr);  // 1 is now the most recent
  c.put(keyOf(3), listOf(10));          // 30 > 25: 2 goes
  CHECK(c.get(keyOf(2)) == nullptr);
  CHECK(c.get(keyOf(1)) != nullptr);
  CHECK(c.get(keyOf(3)) != nullptr);
  CHECK(c.bytes() == ListCache::cost(20));
  c.put(keyOf(4), listOf(26));  // larger than the whole cache
  CHECK(c.get(keyOf(4)) == nullptr);
  CHECK(c.bytes() <= ListCache::cost(25));
  c.put(keyOf(1, 2), listOf(12));  // a newer list replaces the older
  CHECK(c.entries() == 2);
  CHECK(c.bytes() == ListCache::cost(22));
  ListCache off(0, 1);
  off.put(keyOf(1), listOf(10));
  CHECK(off.get(keyOf(1)) == nullptr);
}

TEST_CASE("list cache: SELECT answers from the cache only while the mailbox is unchanged") {
  Fixture f;  // test options: every list is cached
  REQUIRE(f.store->createMailbox("alice", "Other").ok());
  for (int i = 0; i < 5; i++) f.append("INBOX", "Subject: m\r\n\r\nx\r\n");
  const uint32_t id = f.mailboxId("INBOX");
  auto s1 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s1.ok());
  CHECK(uids(*s1) == std::vector<uint32_t>{1, 2, 3, 4, 5});
  uint64_t hits = f.store->listCache().hits();
  auto s2 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s2.ok());
  CHECK(f.store->listCache().hits() == hits + 1);
  CHECK(uids(*s2) == uids(*s1));

  // A new message.
  f.append("INBOX", "Subject: m\r\n\r\nx\r\n");
  auto s3 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s3.ok());
  CHECK(uids(*s3) == std::vector<uint32_t>{1, 2, 3, 4, 5, 6});

  // A flag change: the flags and the modseq are the new ones.
  StoreFlagsArgs a;
  a.user = "alice";
  a.mailbox_id = id;
  a.uids = {2};
  a.op = FlagOp::kAdd;
  a.flags = flag::kSeen;
  REQUIRE(f.store->storeFlags(a).ok());
  auto s4 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s4.ok());
  CHECK((s4->messages[1].flags & flag::kSeen) != 0);
  CHECK(s4->messages[1].modseq > s3->messages[1].modseq);
  // Removing it again (back to the same flags, a newer modseq).
  a.op = FlagOp::kRemove;
  REQUIRE(f.store->storeFlags(a).ok());
  auto s5 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s5.ok());
  CHECK((s5->messages[1].flags & flag::kSeen) == 0);

  // Expunge, copy in, move out.
  REQUIRE(f.store->expunge("alice", id, {3}, false).ok());
  auto s6 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s6.ok());
  CHECK(uids(*s6) == std::vector<uint32_t>{1, 2, 4, 5, 6});
  REQUIRE(f.store->copy("alice", f.mailboxId("Other"), {}, "INBOX", false).ok());  // empty: copies nothing
  f.append("Other", "Subject: o\r\n\r\ny\r\n");
  REQUIRE(f.store->copy("alice", f.mailboxId("Other"), {1}, "INBOX", false).ok());
  auto s7 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s7.ok());
  CHECK(uids(*s7) == std::vector<uint32_t>{1, 2, 4, 5, 6, 7});
  REQUIRE(f.store->copy("alice", id, {1, 2}, "Other", true).ok());
  auto s8 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s8.ok());
  CHECK(uids(*s8) == std::vector<uint32_t>{4, 5, 6, 7});
  auto o = f.store->selectMailbox("alice", "Other");
  REQUIRE(o.ok());
  CHECK(o->messages.size() == 3);

  // Renaming INBOX moves its messages out; a new mailbox of an old name
  // starts empty.
  REQUIRE(f.store->renameMailbox("alice", "INBOX", "Old").ok());
  auto s9 = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(s9.ok());
  CHECK(s9->messages.empty());
  auto old = f.store->selectMailbox("alice", "Old");
  REQUIRE(old.ok());
  CHECK(uids(*old) == std::vector<uint32_t>{1, 2, 3, 4});  // new uids in the new mailbox
  REQUIRE(f.store->deleteMailbox("alice", "Other").ok());
  REQUIRE(f.store->createMailbox("alice", "Other").ok());
  auto o2 = f.store->selectMailbox("alice", "Other");
  REQUIRE(o2.ok());
  CHECK(o2->messages.empty());
}

TEST_CASE("list cache: off, SELECT reads the records every time") {
  TempDir dir;
  EngineOptions o = testOptions(dir.path);
  o.list_cache_bytes = 0;
  auto s = openWithAlice(o);
  REQUIRE(s->selectMailbox("alice", "INBOX").ok());
  REQUIRE(s->selectMailbox("alice", "INBOX").ok());
  CHECK(s->listCache().hits() == 0);
}
