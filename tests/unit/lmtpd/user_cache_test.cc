// lmtpd/user_cache.h: remembered recipients expire, are forgotten on demand,
// and never grow past the bound.
#include <doctest/doctest.h>

#include <string>

#include "lmtpd/user_cache.h"

using postern::lmtpd::UserCache;
using namespace std::chrono_literals;

TEST_CASE("user cache: known for the TTL, then asked again") {
  UserCache c(30s, 100);
  auto t0 = UserCache::Clock::time_point{} + 1000s;
  CHECK_FALSE(c.known("alice", t0));
  c.remember("alice", t0);
  CHECK(c.known("alice", t0));
  CHECK(c.known("alice", t0 + 29s));
  CHECK_FALSE(c.known("alice", t0 + 30s));
  CHECK_FALSE(c.known("bob", t0));
  c.remember("alice", t0 + 30s);  // asked again, found again
  CHECK(c.known("alice", t0 + 59s));
  c.forget("alice");
  CHECK_FALSE(c.known("alice", t0 + 31s));
  c.forget("nobody");  // absent: nothing happens
  CHECK(c.size() == 0);
}

TEST_CASE("user cache: bounded; expired entries go first") {
  UserCache c(10s, 3);
  auto t0 = UserCache::Clock::time_point{} + 1000s;
  c.remember("a", t0);
  c.remember("b", t0 + 5s);
  c.remember("c", t0 + 5s);
  CHECK(c.size() == 3);
  c.remember("c", t0 + 6s);  // already there: no eviction
  CHECK(c.size() == 3);
  c.remember("d", t0 + 11s);  // "a" has expired: it goes
  CHECK(c.size() == 3);
  CHECK_FALSE(c.known("a", t0 + 11s));
  CHECK(c.known("b", t0 + 11s));
  CHECK(c.known("d", t0 + 11s));
  c.remember("e", t0 + 12s);  // none expired: all go, then "e"
  CHECK(c.size() == 1);
  CHECK(c.known("e", t0 + 12s));
  CHECK_FALSE(c.known("b", t0 + 12s));
}

TEST_CASE("user cache: a zero TTL or bound keeps nothing") {
  auto t0 = UserCache::Clock::time_point{} + 1000s;
  UserCache off(0s, 100);
  off.remember("alice", t0);
  CHECK_FALSE(off.known("alice", t0));
  UserCache none(30s, 0);
  none.remember("alice", t0);
  CHECK_FALSE(none.known("alice", t0));
  CHECK(none.size() == 0);
}
