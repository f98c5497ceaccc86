// stored's lock table (stored/store_locks.h), the server side of the POP3
// maildrop lock, on an injected clock.
#include <doctest/doctest.h>

#include <memory>

#include "store_locks.h"

using postern::ErrorCode;
using postern::stored::LockTable;

namespace {
struct Clocked {
  std::shared_ptr<int64_t> now = std::make_shared<int64_t>(1000);
  LockTable locks{[n = now] { return *n; }};
};
}  // namespace

TEST_CASE("lock table: one owner at a time, renewals, release") {
  Clocked c;
  auto& t = c.locks;
  CHECK(t.acquire("alice", "pop3-maildrop", "pop3d#0/1/7", 60000).ok());
  auto e = t.acquire("alice", "pop3-maildrop", "pop3d#1/2/3", 60000);
  CHECK(e.code == ErrorCode::kInUse);
  CHECK(e.message == "locked by pop3d#0/1/7");
  CHECK(t.acquire("bob", "pop3-maildrop", "pop3d#1/2/3", 60000).ok());    // another user
  CHECK(t.acquire("alice", "other", "pop3d#1/2/3", 60000).ok());          // another lock name
  CHECK(t.acquire("alice", "pop3-maildrop", "pop3d#0/1/7", 60000).ok());  // renewal
  t.release("alice", "pop3-maildrop", "pop3d#1/2/3");                     // not the holder: no-op
  CHECK(t.acquire("alice", "pop3-maildrop", "pop3d#1/2/3", 60000).code == ErrorCode::kInUse);
  t.release("alice", "pop3-maildrop", "pop3d#0/1/7");
  CHECK(t.acquire("alice", "pop3-maildrop", "pop3d#1/2/3", 60000).ok());
  CHECK(t.size() == 3);
  CHECK(t.acquire("", "pop3-maildrop", "x", 1000).code == ErrorCode::kBadArgs);
  CHECK(t.acquire("alice", "pop3-maildrop", "", 1000).code == ErrorCode::kBadArgs);
}

TEST_CASE("lock table: a lease runs out unless renewed") {
  Clocked c;
  auto& t = c.locks;
  CHECK(t.acquire("alice", "m", "a", 60000).ok());
  *c.now += 40000;
  CHECK(t.acquire("alice", "m", "a", 60000).ok());  // renewed at 41 s, now runs to 101 s
  *c.now += 59999;
  CHECK(t.acquire("alice", "m", "b", 60000).code == ErrorCode::kInUse);
  *c.now += 1;
  CHECK(t.size() == 0);
  CHECK(t.acquire("alice", "m", "b", 60000).ok());
  // The old holder's late renewal fails now: another owner has it.
  CHECK(t.acquire("alice", "m", "a", 60000).code == ErrorCode::kInUse);
  // An expired lease nobody took is re-taken by its old owner.
  *c.now += 60000;
  CHECK(t.acquire("alice", "m", "a", 60000).ok());
}

TEST_CASE("lock table: leases are clamped") {
  Clocked c;
  auto& t = c.locks;
  CHECK(t.acquire("alice", "m", "a", 0).ok());
  *c.now += LockTable::kMinLeaseMs - 1;
  CHECK(t.acquire("alice", "m", "b", 0).code == ErrorCode::kInUse);
  *c.now += 1;
  CHECK(t.acquire("alice", "m", "b", 0xffffffffu).ok());
  *c.now += LockTable::kMaxLeaseMs;
  CHECK(t.acquire("alice", "m", "a", 1000).ok());
}

TEST_CASE("lock table: a restarted worker frees its predecessors' locks, not its own") {
  Clocked c;
  auto& t = c.locks;
  CHECK(t.acquire("alice", "m", "pop3d#0/100/7", 60000).ok());
  CHECK(t.acquire("bob", "m", "pop3d#0/100/8", 60000).ok());
  CHECK(t.acquire("carol", "m", "pop3d#0/200/1", 60000).ok());  // the new incarnation's
  CHECK(t.acquire("dave", "m", "pop3d#10/100/7", 60000).ok());  // another worker
  CHECK(t.acquire("erin", "m", "pop3d#1/100/7", 60000).ok());   // another worker
  CHECK(t.releaseOwners("pop3d#0/", "pop3d#0/200/") == 2);
  CHECK(t.size() == 3);
  CHECK(t.acquire("alice", "m", "x", 1000).ok());
  CHECK(t.acquire("carol", "m", "x", 1000).code == ErrorCode::kInUse);
  CHECK(t.acquire("dave", "m", "x", 1000).code == ErrorCode::kInUse);
  CHECK(t.releaseOwners("", "") == 0);  // never everything
  CHECK(t.size() == 4);
}

TEST_CASE("lock table: expired entries are swept as calls go by") {
  Clocked c;
  auto& t = c.locks;
  for (int i = 0; i < 100; ++i) CHECK(t.acquire("u" + std::to_string(i), "m", "a", 1000).ok());
  *c.now += 1000;
  for (int i = 0; i < 200; ++i) CHECK(t.acquire("alice", "m", "a", 1000).ok());
  CHECK(t.size() == 1);
}
