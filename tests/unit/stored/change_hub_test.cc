// The change feed: what the engine publishes, and the hub's backlog limit.
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;
using namespace std::chrono_literals;

static std::vector<Change> drain(Subscription& s) {
  std::vector<Change> out;
  ChangeBatch b;
  while (s.next(0ms, &b) == Subscription::Status::kBatch)
    out.insert(out.end(), b.changes.begin(), b.changes.end());
  return out;
}

TEST_CASE("engine publishes new, flags, expunge and mailbox changes after commit") {
  Fixture f;
  auto sub = f.store->changes().subscribe();
  auto r = f.append("INBOX", "hello\r\n", 0, {"$X"});
  uint32_t id = f.mailboxId("INBOX");
  StoreFlagsArgs s;
  s.user = "alice";
  s.mailbox_id = id;
  s.uids = {r.uid};
  s.op = FlagOp::kAdd;
  s.flags = flag::kSeen;
  REQUIRE(f.store->storeFlags(s).ok());
  REQUIRE(f.store->expunge("alice", id, {}, false).ok());
  REQUIRE(f.store->createMailbox("alice", "New").ok());

  auto ch = drain(*sub);
  REQUIRE(ch.size() == 4);
  CHECK(ch[0].kind == Change::kNew);
  CHECK(ch[0].user == "alice");
  CHECK(ch[0].mailbox_id == id);
  CHECK(ch[0].meta.uid == r.uid);
  CHECK(ch[0].meta.size == 7);
  CHECK(ch[0].meta.modseq == r.modseq);
  CHECK(ch[0].keywords == std::vector<std::string>{"$X"});
  CHECK(ch[1].kind == Change::kFlags);
  CHECK(ch[1].meta.flags == (flag::kSeen | (1u << flag::kKeywordBase)));
  CHECK(ch[2].kind == Change::kExpunged);
  CHECK(ch[2].meta.uid == r.uid);
  CHECK(ch[3].kind == Change::kMailbox);
  CHECK(ch[3].mailbox_id == f.mailboxId("New"));

  // A failed write publishes nothing.
  CHECK_FALSE(f.store->createMailbox("alice", "New").ok());
  CHECK(drain(*sub).empty());
}

TEST_CASE("hub: sequence numbers increase; a slow subscriber is dropped; close wakes") {
  auto hub = std::make_shared<ChangeHub>(5);
  auto fast = hub->subscribe();
  auto slow = hub->subscribe();
  CHECK(hub->subscriberCount() == 2);
  ChangeBatch b;
  uint64_t last = 0;
  for (int i = 0; i < 4; i++) {
    hub->publish(std::vector<Change>(2));
    REQUIRE(fast->next(0ms, &b) == Subscription::Status::kBatch);
    CHECK(b.sequence > last);
    last = b.sequence;
  }
  hub->publish({});  // empty: ignored
  CHECK(hub->lastSequence() == 4);
  CHECK(fast->next(0ms, &b) == Subscription::Status::kTimeout);
  CHECK(slow->next(0ms, &b) == Subscription::Status::kDropped);  // 8 > 5 queued
  hub->close();
  CHECK(fast->next(1000ms, &b) == Subscription::Status::kClosed);
  CHECK(hub->subscribe()->next(0ms, &b) == Subscription::Status::kClosed);
  slow.reset();
  CHECK(hub->subscriberCount() == 1);
}
