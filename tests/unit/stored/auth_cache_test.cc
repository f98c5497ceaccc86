// The verified-credential cache (stored/auth_cache.h) and its use by
// StoreEngine::authenticate(): a hit skips the password hash, which
// passwordVerifications() makes observable without timing.
#include <atomic>
#include <memory>

#include "auth_cache.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {

std::unique_ptr<StoreEngine> openWithTtl(const std::string& path, uint32_t ttl) {
  EngineOptions o = testOptions(path);
  o.auth_cache_ttl_s = ttl;
  return openEngine(o);
}

}  // namespace

TEST_CASE("auth cache: a second login with the same password skips the hash") {
  Fixture f;
  uint64_t v0 = f.store->passwordVerifications();
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  CHECK(f.store->passwordVerifications() == v0 + 1);
  auto r = f.store->authenticate("ALICE", "secret");
  REQUIRE(r.ok());
  CHECK(*r == "alice");
  CHECK(f.store->passwordVerifications() == v0 + 1);  // no hash this time
  CHECK(f.store->authCache().hits() == 1);
  // With a protocol: the access check still runs on every login.
  REQUIRE(f.store->setProtocolAccess("alice", "pop3", false).ok());
  auto d = f.store->authenticate("alice", "secret", "pop3");
  REQUIRE(!d.ok());
  CHECK(d.error().code == ErrorCode::kDenied);
  CHECK(f.store->authenticate("alice", "secret", "imap").ok());
  CHECK(f.store->passwordVerifications() == v0 + 1);
}

TEST_CASE("auth cache: a wrong password never hits and is never cached") {
  Fixture f;
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  uint64_t v = f.store->passwordVerifications();
  auto bad = f.store->authenticate("alice", "Secret");
  REQUIRE(!bad.ok());
  CHECK(bad.error().code == ErrorCode::kAuthFailed);
  CHECK(f.store->passwordVerifications() == v + 1);
  bad = f.store->authenticate("alice", "Secret");
  REQUIRE(!bad.ok());
  CHECK(f.store->passwordVerifications() == v + 2);
  // The good entry survived the failures.
  CHECK(f.store->authenticate("alice", "secret").ok());
  CHECK(f.store->passwordVerifications() == v + 2);
}

TEST_CASE("auth cache: a password change invalidates the entry") {
  Fixture f;
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  REQUIRE(f.store->authCache().hits() == 1);
  REQUIRE(f.store->setPassword("alice", "other").ok());
  uint64_t v = f.store->passwordVerifications();
  auto old = f.store->authenticate("alice", "secret");
  REQUIRE(!old.ok());
  CHECK(old.error().code == ErrorCode::kAuthFailed);
  CHECK(f.store->passwordVerifications() == v + 1);
  CHECK(f.store->authenticate("alice", "other").ok());
  CHECK(f.store->authenticate("alice", "other").ok());
  CHECK(f.store->passwordVerifications() == v + 2);
}

TEST_CASE("auth cache: user deletion and re-creation with the same password miss") {
  Fixture f;
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  REQUIRE(f.store->deleteUser("alice").ok());
  auto gone = f.store->authenticate("alice", "secret");
  REQUIRE(!gone.ok());
  CHECK(gone.error().code == ErrorCode::kAuthFailed);
  REQUIRE(f.store->addUser("alice", "secret").ok());
  uint64_t v = f.store->passwordVerifications();
  CHECK(f.store->authenticate("alice", "secret").ok());
  CHECK(f.store->passwordVerifications() == v + 1);  // new salt, new hash: a miss
}

TEST_CASE("auth cache: an entry written under another hash misses") {
  // The stored hash is part of the MAC: an import or change made behind the
  // cache's back (no erase()) still cannot be accepted stale.
  AuthCache c(300, 10);
  c.insert("alice", "$scrypt$hash-one", "pw");
  CHECK(c.lookup("alice", "$scrypt$hash-one", "pw"));
  CHECK_FALSE(c.lookup("alice", "$scrypt$hash-two", "pw"));
  CHECK_FALSE(c.lookup("alice", "$scrypt$hash-one", "pw2"));
  CHECK_FALSE(c.lookup("bob", "$scrypt$hash-one", "pw"));
  CHECK_FALSE(c.lookup("alice", "", "pw"));
}

TEST_CASE("auth cache: entries expire after the TTL (injected clock)") {
  auto now = std::make_shared<std::atomic<int64_t>>(1000);
  AuthCache c(300, 10);
  c.setClock([now] { return now->load(); });
  c.insert("alice", "h", "pw");
  *now = 1299;
  CHECK(c.lookup("alice", "h", "pw"));
  *now = 1300;
  CHECK_FALSE(c.lookup("alice", "h", "pw"));
  CHECK(c.size() == 0);  // an expired entry goes at lookup

  // Through the engine: after expiry the hash is checked again.
  Fixture f;
  f.store->authCache().setClock([now] { return now->load(); });
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  uint64_t v = f.store->passwordVerifications();
  *now += 299;
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  CHECK(f.store->passwordVerifications() == v);
  *now += 301;
  REQUIRE(f.store->authenticate("alice", "secret").ok());
  CHECK(f.store->passwordVerifications() == v + 1);
}

TEST_CASE("auth cache: ttl 0 disables it") {
  TempDir dir;
  auto s = openWithTtl(dir.path, 0);
  REQUIRE(s->addUser("alice", "secret").ok());
  CHECK_FALSE(s->authCache().enabled());
  REQUIRE(s->authenticate("alice", "secret").ok());
  REQUIRE(s->authenticate("alice", "secret").ok());
  CHECK(s->passwordVerifications() == 2);
  CHECK(s->authCache().size() == 0);
  CHECK(s->authCache().hits() == 0);
}

TEST_CASE("auth cache: bounded size, one entry per user") {
  AuthCache c(300, 3);
  for (int i = 0; i < 10; ++i) c.insert("user" + std::to_string(i), "h", "pw");
  CHECK(c.size() == 3);
  c.insert("user9", "h", "pw");
  c.insert("user9", "h", "pw2");  // replaces: only the last verified password
  CHECK(c.size() == 3);
  CHECK(c.lookup("user9", "h", "pw2"));
  CHECK_FALSE(c.lookup("user9", "h", "pw"));
  c.erase("user9");
  CHECK_FALSE(c.lookup("user9", "h", "pw2"));
}
