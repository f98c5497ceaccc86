// Users' credentials in the engine: SCRAM keys real and made up, the
// upgrade of legacy hashes at login, and the passwd-file import.
#include <crypt.h>

#include <cstring>
#include <memory>

#include "password.h"
#include "sasl/scram.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {

std::string sha512crypt(const char* pw) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  return crypt_rn(pw, "$6$abcdefgh", data.get(), int(sizeof *data));
}

UserSummary summary(StoreEngine& s, const std::string& name) {
  auto users = s.listUsers();
  REQUIRE(users.ok());
  for (const auto& u : *users)
    if (u.name == name) return u;
  FAIL("no user " << name);
  return {};
}

}  // namespace

TEST_CASE("auth: a new user has SCRAM keys for both mechanisms that match the password") {
  Fixture f;
  for (const char* mech : {"SCRAM-SHA-1", "SCRAM-SHA-256"}) {
    CAPTURE(mech);
    auto h = std::string(mech) == "SCRAM-SHA-1" ? sasl::ScramHash::kSha1 : sasl::ScramHash::kSha256;
    auto s = f.store->scramSecrets("ALICE", mech, "imap");
    REQUIRE(s.ok());
    CHECK(s->user == "alice");
    CHECK(s->iterations == kScramIterations);
    CHECK_FALSE(s->denied);
    auto k = sasl::scram::deriveKeys(h, "secret", s->salt, s->iterations);
    CHECK(k.stored_key == s->stored_key);
    CHECK(k.server_key == s->server_key);
  }
  auto u = summary(*f.store, "alice");
  CHECK(u.password_scheme == "SCRYPT");
  CHECK(u.scram == std::vector<std::string>{"SCRAM-SHA-1", "SCRAM-SHA-256"});
  CHECK(f.store->scramSecrets("alice", "SCRAM-MD5", "imap").error().code == ErrorCode::kBadArgs);
}

TEST_CASE("auth: a new password gets new SCRAM keys; a disabled protocol is flagged") {
  Fixture f;
  auto before = f.store->scramSecrets("alice", "SCRAM-SHA-256", "imap");
  REQUIRE(f.store->setPassword("alice", "other").ok());
  auto after = f.store->scramSecrets("alice", "SCRAM-SHA-256", "imap");
  CHECK(before->salt != after->salt);
  auto k = sasl::scram::deriveKeys(sasl::ScramHash::kSha256, "other", after->salt, after->iterations);
  CHECK(k.stored_key == after->stored_key);
  REQUIRE(f.store->setProtocolAccess("alice", "pop3", false).ok());
  CHECK(f.store->scramSecrets("alice", "SCRAM-SHA-256", "pop3")->denied);
  CHECK_FALSE(f.store->scramSecrets("alice", "SCRAM-SHA-256", "imap")->denied);
}

TEST_CASE("auth: unknown users get made-up SCRAM keys, the same after a restart") {
  TempDir dir;
  ScramSecrets first;
  {
    auto store = openEngine(dir.path);
    auto s = store->scramSecrets("Nobody", "SCRAM-SHA-256", "imap");
    REQUIRE(s.ok());
    first = *s;
    CHECK(first.user == "nobody");
    CHECK(first.iterations == kScramIterations);
    CHECK(first.salt.size() == 16);
    CHECK(first.stored_key.size() == 32);
    CHECK(first.server_key.size() == 32);
    CHECK_FALSE(first.denied);
    auto again = store->scramSecrets("nobody", "SCRAM-SHA-256", "imap");
    CHECK(again->salt == first.salt);
    CHECK(store->scramSecrets("nobody2", "SCRAM-SHA-256", "imap")->salt != first.salt);
    CHECK(store->scramSecrets("nobody", "SCRAM-SHA-1", "imap")->salt != first.salt);
    // Not even a valid user name: still an answer, never an error.
    CHECK(store->scramSecrets("bad name!", "SCRAM-SHA-1", "imap").ok());
  }
  auto store = openEngine(dir.path);
  auto s = store->scramSecrets("nobody", "SCRAM-SHA-256", "imap");
  CHECK(s->salt == first.salt);
  CHECK(s->stored_key == first.stored_key);
}

TEST_CASE("auth: import-passwd creates users, skips what it cannot take, and never returns hashes") {
  Fixture f;
  std::string hash = sha512crypt("legacy-pw");
  std::vector<std::string> lines = {
      "# users from the old server",
      "",
      "bob:{SHA512-CRYPT}" + hash + ":1000:1000::/home/bob::",
      "carol:{PLAIN}carol-pw",
      "alice:{PLAIN}new",  // exists
      "dave:{MD5-CRYPT}$1$abc$def",
      "bad name:{PLAIN}x",
      "eve",
      "bob:{PLAIN}again",  // same file, already imported above
  };
  auto r = f.store->importPasswd(lines, 1, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 7);
  auto& res = *r;
  CHECK(res[0].line == 3);
  CHECK(res[0].user == "bob");
  CHECK(res[0].imported);
  CHECK(res[0].detail.find("SHA512-CRYPT") != std::string::npos);
  CHECK(res[1].user == "carol");
  CHECK(res[1].imported);
  CHECK_FALSE(res[2].imported);
  CHECK(res[2].detail.find("exists") != std::string::npos);
  CHECK_FALSE(res[3].imported);
  CHECK(res[3].detail.find("unsupported scheme") != std::string::npos);
  CHECK_FALSE(res[4].imported);
  CHECK(res[4].detail == "invalid user name");
  CHECK(res[5].line == 8);
  CHECK_FALSE(res[5].imported);
  CHECK_FALSE(res[6].imported);
  for (const auto& l : res) {
    CHECK(l.detail.find(hash) == std::string::npos);
    CHECK(l.detail.find("carol-pw") == std::string::npos);
  }
  CHECK(f.store->getMailbox("bob", "INBOX").ok());
  CHECK(summary(*f.store, "bob").password_scheme == "SHA512-CRYPT");
  CHECK(summary(*f.store, "bob").scram.empty());
  CHECK(summary(*f.store, "carol").password_scheme == "SCRYPT");
  CHECK(summary(*f.store, "carol").scram.size() == 2);
  CHECK(*f.store->authenticate("carol", "carol-pw") == "carol");
  CHECK(*f.store->authenticate("alice", "secret") == "alice");  // untouched

  // --replace sets the password of an existing user.
  auto r2 = f.store->importPasswd({"alice:{SHA512-CRYPT}" + hash}, 1, true);
  REQUIRE(r2.ok());
  CHECK(r2->at(0).imported);
  CHECK(f.store->authenticate("alice", "secret").error().code == ErrorCode::kAuthFailed);
  CHECK(*f.store->authenticate("alice", "legacy-pw") == "alice");
}

TEST_CASE("auth: a legacy hash is upgraded at the first successful login, SCRAM works only after it") {
  Fixture f;
  std::string hash = sha512crypt("legacy-pw");
  REQUIRE(f.store->importPasswd({"bob:{SHA512-CRYPT}" + hash}, 1, false)->at(0).imported);

  // Before: SCRAM gets made-up keys (the exchange fails like a wrong password).
  auto s = f.store->scramSecrets("bob", "SCRAM-SHA-256", "imap");
  REQUIRE(s.ok());
  auto k = sasl::scram::deriveKeys(sasl::ScramHash::kSha256, "legacy-pw", s->salt, s->iterations);
  CHECK(k.stored_key != s->stored_key);

  // A wrong password changes nothing.
  CHECK(f.store->authenticate("bob", "wrong").error().code == ErrorCode::kAuthFailed);
  CHECK(summary(*f.store, "bob").password_scheme == "SHA512-CRYPT");

  CHECK(*f.store->authenticate("bob", "legacy-pw", "imap") == "bob");
  auto u = summary(*f.store, "bob");
  CHECK(u.password_scheme == "SCRYPT");
  CHECK(u.scram.size() == 2);
  CHECK(*f.store->authenticate("bob", "legacy-pw") == "bob");
  s = f.store->scramSecrets("bob", "SCRAM-SHA-256", "imap");
  k = sasl::scram::deriveKeys(sasl::ScramHash::kSha256, "legacy-pw", s->salt, s->iterations);
  CHECK(k.stored_key == s->stored_key);
}

TEST_CASE("auth: unknown user and wrong password are the same error") {
  Fixture f;
  auto a = f.store->authenticate("alice", "wrong");
  auto b = f.store->authenticate("nobody", "wrong");
  CHECK(a.error().code == ErrorCode::kAuthFailed);
  CHECK(b.error().code == ErrorCode::kAuthFailed);
}
