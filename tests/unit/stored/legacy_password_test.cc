// Imported Dovecot schemes: verification against hashes made here with the
// libraries themselves, import checks (bounds, never quoting the hash), and
// the SCRAM key records.
#include <argon2.h>
#include <crypt.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "doctest/doctest.h"
#include "passwd_import.h"
#include "password.h"
#include "sasl/base64.h"
#include "sasl/scram.h"

using namespace postern;
using namespace postern::stored;

namespace {

std::string cryptHash(const char* pw, const char* setting) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  const char* out = crypt_rn(pw, setting, data.get(), int(sizeof *data));
  REQUIRE(out != nullptr);
  REQUIRE(out[0] != '*');
  return out;
}

std::string ssha512(const std::string& pw, const std::string& salt) {
  std::string in = pw + salt;
  unsigned char d[64];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(in.data(), in.size(), d, &n, EVP_sha512(), nullptr) == 1);
  return sasl::encodeBase64(std::string(reinterpret_cast<char*>(d), 64) + salt);
}

std::string argon2id(const char* pw, uint32_t m, uint32_t t, uint32_t p) {
  char out[256];
  const char salt[] = "saltsaltsaltsalt";
  REQUIRE(argon2id_hash_encoded(t, m, p, pw, strlen(pw), salt, 16, 32, out, sizeof out) == ARGON2_OK);
  return out;
}

}  // namespace

TEST_CASE("legacy passwords: each imported scheme verifies the right password only") {
  struct Case {
    const char* field;  // Dovecot form
    std::string hash;
    Scheme scheme;
  };
  std::vector<Case> cases = {
      {"{SHA512-CRYPT}", cryptHash("tr0ub4dor", "$6$saltsaltsalt"), Scheme::kSha512Crypt},
      {"{SHA512-CRYPT}", cryptHash("tr0ub4dor", "$6$rounds=6000$saltsalt"), Scheme::kSha512Crypt},
      {"{SHA256-CRYPT}", cryptHash("tr0ub4dor", "$5$saltsalt"), Scheme::kSha256Crypt},
      {"{BLF-CRYPT}", cryptHash("tr0ub4dor", "$2y$05$abcdefghijklmnopqrstuu"), Scheme::kBlfCrypt},
      {"{blf-crypt}", cryptHash("tr0ub4dor", "$2b$04$abcdefghijklmnopqrstuu"), Scheme::kBlfCrypt},
      {"{SSHA512}", ssha512("tr0ub4dor", "pepper12"), Scheme::kSsha512},
      {"{SSHA512.b64}", ssha512("tr0ub4dor", "x"), Scheme::kSsha512},
      {"{ARGON2ID}", argon2id("tr0ub4dor", 4096, 2, 1), Scheme::kArgon2id},
  };
  for (const auto& c : cases) {
    CAPTURE(c.field);
    auto imp = importDovecotPassword(c.field + c.hash);
    REQUIRE_MESSAGE(imp.ok(), imp.error().message);
    CHECK(imp->scheme == c.scheme);
    CHECK_FALSE(imp->plaintext.has_value());
    CHECK(schemeOf(imp->stored) == c.scheme);
    CHECK(imp->stored.find(c.hash) != std::string::npos);
    CHECK(verifyPassword("tr0ub4dor", imp->stored));
    CHECK_FALSE(verifyPassword("tr0ub4doR", imp->stored));
    CHECK_FALSE(verifyPassword("", imp->stored));
    CHECK_FALSE(verifyPassword(std::string("tr0ub4dor\0x", 11), imp->stored));
  }
}

TEST_CASE("legacy passwords: {PLAIN} comes back as plaintext for native hashing") {
  auto imp = importDovecotPassword("{PLAIN}open sesame");
  REQUIRE(imp.ok());
  CHECK(imp->stored.empty());
  CHECK(imp->plaintext == "open sesame");
  CHECK(importDovecotPassword("{PLAIN}").error().code == ErrorCode::kBadArgs);
}

TEST_CASE("legacy passwords: unsupported, malformed or too costly hashes are refused without quoting them") {
  std::string sha = cryptHash("pw", "$6$saltsalt");
  const std::string bad[] = {
      "nohash",
      "$6$saltsalt$abc",
      "{MD5-CRYPT}$1$salt$hash",
      "{CRYPT}" + sha,
      "{SHA512-CRYPT}" + sha.substr(0, sha.size() - 1),
      "{SHA512-CRYPT}" + cryptHash("pw", "$5$saltsalt"),
      "{SHA512-CRYPT}$6$rounds=2000000$saltsalt$" + std::string(86, 'a'),
      "{SHA256-CRYPT}" + sha,
      "{BLF-CRYPT}$2y$17$" + std::string(53, 'a'),
      "{BLF-CRYPT}$2x$05$" + std::string(53, 'a'),
      "{BLF-CRYPT}$2y$05$" + std::string(52, 'a'),
      "{SSHA512}" + sasl::encodeBase64(std::string(64, 'x')),  // no salt
      "{SSHA512}not*base64",
      "{ARGON2ID}$argon2i$v=19$m=4096,t=2,p=1$c2FsdA$aGFzaA",
      "{ARGON2ID}$argon2id$v=19$m=524288,t=2,p=1$c2FsdA$aGFzaA",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=99,p=1$c2FsdA$aGFzaA",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=2$c2FsdA$aGFzaA",
      "{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=1$c2FsdA",
  };
  for (const auto& b : bad) {
    CAPTURE(b);
    auto r = importDovecotPassword(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kBadArgs);
    size_t close = b.find('}');
    if (close != std::string::npos && b.size() > close + 8)
      CHECK(r.error().message.find(b.substr(close + 1)) == std::string::npos);
  }
  // Stored strings outside the bounds never verify either (a hostile record).
  CHECK_FALSE(verifyPassword("pw", "{SHA512-CRYPT}$6$rounds=2000000$saltsalt$" + std::string(86, 'a')));
  CHECK_FALSE(verifyPassword("pw", "{UNKNOWN}" + sha));
  CHECK_FALSE(verifyPassword("pw", "{SHA512-CRYPT"));
}

TEST_CASE("passwd-file lines") {
  CHECK_FALSE(parsePasswdLine("").value().has_value());
  CHECK_FALSE(parsePasswdLine("   ").value().has_value());
  CHECK_FALSE(parsePasswdLine("# comment:{PLAIN}x").value().has_value());
  auto e =
      parsePasswdLine("alice@example.org:{PLAIN}pw:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G\r");
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK((*e)->user == "alice@example.org");
  CHECK((*e)->password == "{PLAIN}pw");
  CHECK(parsePasswdLine("bob:{PLAIN}pw").value()->password == "{PLAIN}pw");
  CHECK(parsePasswdLine("bob").error().code == ErrorCode::kBadArgs);
  CHECK(parsePasswdLine(":{PLAIN}x").error().code == ErrorCode::kBadArgs);
  CHECK(parsePasswdLine("bob::1000").error().code == ErrorCode::kBadArgs);
}

TEST_CASE("scram records: real keys match the password, made-up ones are stable per name") {
  auto r = scramRecord("pencil", sasl::ScramHash::kSha256);
  REQUIRE(r.ok());
  CHECK(r->iterations == kScramIterations);
  CHECK(r->salt.size() == 16);
  auto k = sasl::scram::deriveKeys(sasl::ScramHash::kSha256, "pencil", r->salt, r->iterations);
  CHECK(k.stored_key == r->stored_key);
  CHECK(k.server_key == r->server_key);
  auto r2 = scramRecord("pencil", sasl::ScramHash::kSha256);
  CHECK(r2->salt != r->salt);

  std::string secret(32, 's');
  auto a = fakeScramRecord(secret, "nobody", sasl::ScramHash::kSha1);
  auto b = fakeScramRecord(secret, "nobody", sasl::ScramHash::kSha1);
  auto c = fakeScramRecord(secret, "nobody2", sasl::ScramHash::kSha1);
  auto d = fakeScramRecord(std::string(32, 't'), "nobody", sasl::ScramHash::kSha1);
  auto e = fakeScramRecord(secret, "nobody", sasl::ScramHash::kSha256);
  CHECK(a.salt == b.salt);
  CHECK(a.stored_key == b.stored_key);
  CHECK(a.salt != c.salt);
  CHECK(a.salt != d.salt);
  CHECK(a.salt != e.salt);
  CHECK(a.salt.size() == r->salt.size());
  CHECK(a.iterations == kScramIterations);
  CHECK(a.stored_key.size() == 20);
  CHECK(e.stored_key.size() == 32);
}
