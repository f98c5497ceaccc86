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

TEST_CASE("change hub: a filtered subscriber gets only the users it holds, as long as it holds them") {
  auto hub = std::make_shared<ChangeHub>();
  auto all = hub->subscribe();
  auto mine = hub->subscribe(true);
  auto other = hub->subscribe(true);
  CHECK(mine->id() != 0);
  CHECK(mine->id() != all->id());
  CHECK(mine->id() != other->id());
  auto change = [](const std::string& user, uint32_t uid) {
    Change c;
    c.kind = Change::kNew;
    c.user = user;
    c.mailbox_id = 1;
    c.meta.uid = uid;
    return c;
  };
  auto uids = [](const std::vector<Change>& cs) {
    std::vector<std::string> out;
    for (const auto& c : cs) out.push_back(c.user + std::to_string(c.meta.uid));
    return out;
  };
  hub->publish({change("alice", 1), change("bob", 1)});
  hub->addInterest(mine->id(), "alice");
  hub->addInterest(mine->id(), "alice");  // two sessions
  hub->addInterest(other->id(), "bob");
  hub->addInterest(12345, "alice");  // no such subscriber: ignored
  hub->publish({change("alice", 2), change("bob", 2), change("carol", 2)});
  hub->publish({change("carol", 3)});  // nothing for the filtered ones
  hub->dropInterest(mine->id(), "alice", 1);
  hub->publish({change("alice", 4)});  // one hold left
  hub->dropInterest(mine->id(), "alice", 1);
  hub->dropInterest(mine->id(), "alice", 5);  // more than held: nothing left, no harm
  hub->publish({change("alice", 5), change("bob", 5)});
  CHECK(uids(drain(*all)) == std::vector<std::string>{"alice1", "bob1", "alice2", "bob2", "carol2", "carol3",
                                                        "alice4", "alice5", "bob5"});
  CHECK(uids(drain(*mine)) == std::vector<std::string>{"alice2", "alice4"});
  CHECK(uids(drain(*other)) == std::vector<std::string>{"bob2", "bob5"});
  // Sequence numbers stay the hub's: a filtered subscriber sees the gaps.
  hub->addInterest(mine->id(), "dave");
  hub->publish({change("erin", 6)});
  hub->publish({change("dave", 7)});
  ChangeBatch b;
  REQUIRE(mine->next(0ms, &b) == Subscription::Status::kBatch);
  CHECK(b.sequence == hub->lastSequence());
}
