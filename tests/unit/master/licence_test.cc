// Licence files: Ed25519 issue/verify, strict parsing, expiry, evaluation.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "licence.h"

using namespace postern;
using namespace postern::master;

namespace {

int64_t at(const char* day, int64_t seconds_into_day = 0) {
  return *parseDay(day) * 86400 + seconds_into_day;
}

LicenceFields exampleFields() {
  LicenceFields f;
  f.licensee = "Example GmbH";
  f.seats = 250;
  f.mode = LicenceMode::kPerSeat;
  f.expires = *parseDay("2027-12-31");
  f.issued = *parseDay("2026-11-22");
  f.id = "3f9c0a7be2d14c55a1e0b7d2c4f86a19";
  return f;
}

struct Vendor {
  KeyPair keys = *generateKeyPair();
  std::string licence = *issueLicence(exampleFields(), keys.private_pem);
};

std::string replace(std::string text, const std::string& from, const std::string& to) {
  size_t p = text.find(from);
  REQUIRE_MESSAGE(p != std::string::npos, from);
  return text.replace(p, from.size(), to);
}

const int64_t kNow = at("2027-01-15", 3600);

}  // namespace

TEST_CASE("licence: days are UTC calendar dates, strictly parsed") {
  CHECK(*parseDay("1970-01-01") == 0);
  CHECK(*parseDay("2000-03-01") - *parseDay("2000-02-28") == 2);  // 2000 is a leap year
  CHECK(*parseDay("2100-03-01") - *parseDay("2100-02-28") == 1);  // 2100 is not
  CHECK(formatDay(*parseDay("2027-12-31")) == "2027-12-31");
  CHECK(formatDay(*parseDay("9999-12-31")) == "9999-12-31");
  for (const char* bad : {"2027-02-29", "2027-13-01", "2027-00-10", "2027-1-01", "1969-12-31", "27-12-31",
                          "2027/12/31", "2027-12-31 ", "", "2028-02-30"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseDay(bad).ok());
  }
  CHECK(parseDay("2028-02-29").ok());
  CHECK(dayOf(86399) == 0);
  CHECK(dayOf(86400) == 1);
  CHECK(dayOf(-1) == -1);
}

TEST_CASE("licence: keygen yields PEM and raw forms of one Ed25519 key") {
  auto kp = generateKeyPair();
  REQUIRE(kp.ok());
  CHECK(kp->private_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);
  CHECK(kp->public_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0) == 0);
  CHECK(kp->public_raw.size() == 44);
  auto id_pem = publicKeyId(kp->public_pem);
  auto id_raw = publicKeyId(kp->public_raw);
  REQUIRE(id_pem.ok());
  CHECK(id_pem->size() == 16);
  CHECK(*id_pem == *id_raw);
  CHECK(*id_pem != *publicKeyId(generateKeyPair()->public_raw));
  CHECK_FALSE(publicKeyId("not a key").ok());
  CHECK_FALSE(publicKeyId(kp->private_pem).ok());  // a private key is not a trusted key
}

TEST_CASE("licence: the canonical signed text is exact") {
  CHECK(canonicalLicenceText(exampleFields()) ==
        "postern-licence-v1\n"
        "licensee: Example GmbH\n"
        "seats: 250\n"
        "mode: per-seat\n"
        "expires: 2027-12-31\n"
        "issued: 2026-11-22\n"
        "id: 3f9c0a7be2d14c55a1e0b7d2c4f86a19\n");
  LicenceFields f = exampleFields();
  f.expires.reset();
  f.mode = LicenceMode::kPerServer;
  CHECK(canonicalLicenceText(f).find("mode: per-server\nexpires: never\n") != std::string::npos);
}

TEST_CASE("licence: an issued licence verifies with the vendor's key, PEM or raw") {
  Vendor v;
  CHECK(v.licence.rfind("# Postern licence\nlicensee: Example GmbH\nseats: 250\nmode: per-seat\n"
                        "expires: 2027-12-31\nissued: 2026-11-22\nid: 3f9c0a7be2d14c55a1e0b7d2c4f86a19\n"
                        "signature: ",
                        0) == 0);
  for (const std::string& key : {v.keys.public_pem, v.keys.public_raw}) {
    LicenceCheck c = checkLicence(v.licence, {key}, kNow);
    CHECK(c.status == LicenceStatus::kOk);
    CHECK(c.reason.empty());
    REQUIRE(c.licence);
    CHECK(c.licence->fields.licensee == "Example GmbH");
    CHECK(c.licence->fields.seats == 250);
    CHECK(c.licence->fields.mode == LicenceMode::kPerSeat);
    CHECK(formatDay(*c.licence->fields.expires) == "2027-12-31");
    CHECK_FALSE(c.licence->evaluation);
    CHECK(c.licence->key_id == *publicKeyId(v.keys.public_pem));
  }
  auto r = verifyLicence(v.licence, {v.keys.public_pem}, kNow);
  REQUIRE(r.ok());
  CHECK(r->fields.id == "3f9c0a7be2d14c55a1e0b7d2c4f86a19");
}

TEST_CASE("licence: issuing fills a random id and refuses bad fields or keys") {
  KeyPair kp = *generateKeyPair();
  LicenceFields f = exampleFields();
  f.id.clear();
  auto a = issueLicence(f, kp.private_pem);
  auto b = issueLicence(f, kp.private_pem);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a != *b);
  auto parsed = parseLicence(*a);
  REQUIRE(parsed.ok());
  CHECK(parsed->fields.id.size() == 32);
  CHECK(checkLicence(*a, {kp.public_raw}, kNow).status == LicenceStatus::kOk);

  LicenceFields zero = exampleFields();
  zero.seats = 0;
  CHECK(issueLicence(zero, kp.private_pem).error().message == "seats must be 1-1000000 (got 0)");
  LicenceFields backwards = exampleFields();
  backwards.expires = backwards.issued - 1;
  CHECK_FALSE(issueLicence(backwards, kp.private_pem).ok());
  LicenceFields empty = exampleFields();
  empty.licensee.clear();
  CHECK_FALSE(issueLicence(empty, kp.private_pem).ok());
  CHECK(issueLicence(exampleFields(), kp.public_pem).error().code == ErrorCode::kBadArgs);
  CHECK(issueLicence(exampleFields(), "garbage").error().code == ErrorCode::kBadArgs);
}

TEST_CASE("licence: a changed byte in any signed field breaks the signature") {
  Vendor v;
  const std::pair<const char*, const char*> edits[] = {
      {"licensee: Example GmbH", "licensee: Example GmbI"},
      {"licensee: Example GmbH", "licensee: Example  GmbH"},
      {"seats: 250", "seats: 251"},
      {"seats: 250", "seats: 25"},
      {"mode: per-seat", "mode: per-server"},
      {"expires: 2027-12-31", "expires: 2027-12-30"},
      {"expires: 2027-12-31", "expires: never"},
      {"issued: 2026-11-22", "issued: 2026-11-21"},
      {"id: 3f9c0a7be2d14c55a1e0b7d2c4f86a19", "id: 3f9c0a7be2d14c55a1e0b7d2c4f86a18"},
  };
  for (const auto& kv : edits) {
    const auto from = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto to = kv.second;
    CAPTURE(to);
    LicenceCheck c = checkLicence(replace(v.licence, from, to), {v.keys.public_pem}, kNow);
    CHECK(c.status == LicenceStatus::kBadSignature);
    CHECK(c.reason == "signature does not verify against any trusted key");
    CHECK_FALSE(c.licence);
  }
  // The signature itself: flip the first base64 character.
  size_t p = v.licence.find("signature: ") + 11;
  std::string sig_edit = v.licence;
  sig_edit[p] = sig_edit[p] == 'A' ? 'B' : 'A';
  CHECK(checkLicence(sig_edit, {v.keys.public_pem}, kNow).status == LicenceStatus::kBadSignature);
  auto r = verifyLicence(sig_edit, {v.keys.public_pem}, kNow);
  CHECK(r.error().code == ErrorCode::kAuthFailed);
  // 64 bytes end in "x==" where x carries 2 data bits; setting its 4 unused
  // bits would spell the same signature differently: refused as malformed.
  std::string spelled = v.licence;
  size_t last = spelled.find("==\n") - 1;
  spelled[last] = spelled[last] == 'A' ? 'B' : char(spelled[last] + 1);
  CHECK(checkLicence(spelled, {v.keys.public_pem}, kNow).status == LicenceStatus::kMalformed);
}

TEST_CASE("licence: layout that is not signed may change freely") {
  Vendor v;
  std::string crlf;
  for (char c : v.licence) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  std::string reordered = "signature: " + v.licence.substr(v.licence.find("signature: ") + 11) +
                          v.licence.substr(0, v.licence.find("signature: "));
  std::string commented =
      "# issued to Example by sales\n\n" + replace(v.licence, "seats: 250", "seats:\t250  ") + "\n# end\n";
  for (const std::string& text : {crlf, reordered, commented}) {
    CHECK(checkLicence(text, {v.keys.public_pem}, kNow).status == LicenceStatus::kOk);
  }
}

TEST_CASE("licence: a signature from an untrusted key is refused; any trusted key will do") {
  Vendor v;
  KeyPair other = *generateKeyPair();
  CHECK(checkLicence(v.licence, {other.public_pem}, kNow).status == LicenceStatus::kBadSignature);
  LicenceCheck c = checkLicence(v.licence, {other.public_pem, v.keys.public_raw}, kNow);
  CHECK(c.status == LicenceStatus::kOk);
  CHECK(c.licence->key_id == *publicKeyId(v.keys.public_raw));
}

TEST_CASE("licence: unusable trusted keys are reported, not skipped") {
  Vendor v;
  LicenceCheck none = checkLicence(v.licence, {}, kNow);
  CHECK(none.status == LicenceStatus::kBadKey);
  CHECK(none.reason == "no trusted licence keys configured");
  LicenceCheck bad = checkLicence(v.licence, {v.keys.public_pem, "AAAA"}, kNow);
  CHECK(bad.status == LicenceStatus::kBadKey);
  CHECK(bad.reason == "trusted key 2 is not an Ed25519 public key (PEM or base64 of the raw 32 bytes)");
  CHECK(checkLicence(v.licence, {v.keys.private_pem}, kNow).status == LicenceStatus::kBadKey);
  CHECK(verifyLicence(v.licence, {}, kNow).error().code == ErrorCode::kBadArgs);
}

TEST_CASE("licence: malformed files are refused with the reason") {
  Vendor v;
  struct Case {
    std::string text;
    const char* reason;
  };
  const std::string L = v.licence;
  const Case cases[] = {
      {"", "malformed licence: missing field \"licensee\""},
      {replace(L, "seats: 250\n", ""), "malformed licence: missing field \"seats\""},
      {replace(L, "seats: 250\n", "seats: 250\nseats: 250\n"),
       "malformed licence: line 4: duplicate field \"seats\""},
      {replace(L, "seats: 250\n", "seats: 250\ncolour: blue\n"),
       "malformed licence: line 4: unknown field \"colour\""},
      {replace(L, "seats: 250\n", "Seats: 250\n"), "malformed licence: line 3: unknown field \"Seats\""},
      {replace(L, "seats: 250\n", "seats 250\n"), "malformed licence: line 3: expected \"name: value\""},
      {replace(L, "seats: 250", "seats: 0"), "malformed licence: line 3: seats must be 1-1000000 (got 0)"},
      {replace(L, "seats: 250", "seats: 1000001"),
       "malformed licence: line 3: seats must be 1-1000000 (got 1000001)"},
      {replace(L, "seats: 250", "seats: 99999999999"),
       "malformed licence: line 3: seats must be 1-1000000 (got \"99999999999\")"},
      {replace(L, "seats: 250", "seats: -5"),
       "malformed licence: line 3: seats must be 1-1000000 (got \"-5\")"},
      {replace(L, "seats: 250", "seats: 0250"),
       "malformed licence: line 3: seats must be 1-1000000 (got \"0250\")"},
      {replace(L, "seats: 250", "seats: lots"),
       "malformed licence: line 3: seats must be 1-1000000 (got \"lots\")"},
      {replace(L, "mode: per-seat", "mode: unlimited"),
       "malformed licence: line 4: mode must be per-seat or per-server (got \"unlimited\")"},
      {replace(L, "expires: 2027-12-31", "expires: 2027-02-30"),
       "malformed licence: line 5: expires: no such date: 2027-02-30"},
      {replace(L, "expires: 2027-12-31", "expires: 31.12.2027"),
       "malformed licence: line 5: expires: date must be YYYY-MM-DD (got \"31.12.2027\")"},
      {replace(L, "expires: 2027-12-31", "expires: 2026-11-21"),
       "malformed licence: expires (2026-11-21) is before issued (2026-11-22)"},
      {replace(L, "issued: 2026-11-22", "issued: yesterday"),
       "malformed licence: line 6: issued: date must be YYYY-MM-DD (got \"yesterday\")"},
      {replace(L, "id: 3f9c", "id: 3F9C"),
       "malformed licence: line 7: id must be 16-64 lower-case hex digits"},
      {replace(L, "id: 3f9c0a7be2d14c55a1e0b7d2c4f86a19", "id: 3f9c"),
       "malformed licence: line 7: id must be 16-64 lower-case hex digits"},
      {replace(L, "signature: ", "signature: !"),
       "malformed licence: line 8: signature must be base64 of 64 bytes"},
      {replace(L, "signature: ", "signature: AAAA"),
       "malformed licence: line 8: signature must be base64 of 64 bytes"},
      {replace(L, "licensee: Example GmbH", "licensee:  "),
       "malformed licence: line 2: licensee must not be empty"},
      {replace(L, "licensee: Example GmbH", "licensee: Ex\x01mple"),
       "malformed licence: line 2: licensee must be UTF-8 text without control characters"},
      {replace(L, "licensee: Example GmbH", "licensee: Ex\xe4mple"),
       "malformed licence: line 2: licensee must be UTF-8 text without control characters"},
      {replace(L, "licensee: Example GmbH", "licensee: " + std::string(201, 'x')),
       "malformed licence: line 2: licensee is longer than 200 bytes"},
      {L + std::string(70000, '#'), "malformed licence: file is larger than 64 KiB"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.reason);
    LicenceCheck r = checkLicence(c.text, {v.keys.public_pem}, kNow);
    CHECK(r.status == LicenceStatus::kMalformed);
    CHECK(r.reason == c.reason);
    CHECK_FALSE(r.licence);
  }
  // UTF-8 licensees are fine (and signed as bytes).
  LicenceFields f = exampleFields();
  f.licensee = "M\xc3\xbcller & S\xc3\xb6hne GmbH";
  auto text = issueLicence(f, v.keys.private_pem);
  REQUIRE(text.ok());
  CHECK(checkLicence(*text, {v.keys.public_pem}, kNow).licence->fields.licensee == f.licensee);
}

TEST_CASE("licence: the expiry day is inclusive, in UTC") {
  Vendor v;  // expires 2027-12-31
  CHECK(checkLicence(v.licence, {v.keys.public_pem}, at("2027-12-31", 86399)).status == LicenceStatus::kOk);
  LicenceCheck c = checkLicence(v.licence, {v.keys.public_pem}, at("2028-01-01"));
  CHECK(c.status == LicenceStatus::kExpired);
  CHECK(c.reason == "expired on 2027-12-31");
  REQUIRE(c.licence);  // whose licence it was, for `licence show`
  CHECK(c.licence->fields.licensee == "Example GmbH");
  CHECK(verifyLicence(v.licence, {v.keys.public_pem}, at("2030-06-01")).error().code == ErrorCode::kLimit);
  // A tampered expiry is a bad signature, not an expiry.
  std::string forged = replace(v.licence, "expires: 2027-12-31", "expires: 2020-01-01");
  forged = replace(forged, "issued: 2026-11-22", "issued: 2019-01-01");
  CHECK(checkLicence(forged, {v.keys.public_pem}, kNow).status == LicenceStatus::kBadSignature);

  LicenceFields f = exampleFields();
  f.expires.reset();
  auto forever = issueLicence(f, v.keys.private_pem);
  CHECK(checkLicence(*forever, {v.keys.public_pem}, at("9999-12-31")).status == LicenceStatus::kOk);
}

TEST_CASE("licence: the evaluation licence is per-seat, 25 seats, never expires") {
  Licence e = evaluationLicence();
  CHECK(e.evaluation);
  CHECK(e.fields.licensee == "Evaluation");
  CHECK(e.fields.mode == LicenceMode::kPerSeat);
  CHECK(e.fields.seats == 25);
  CHECK_FALSE(e.fields.expires);
  CHECK_FALSE(e.expiredAt(at("9999-12-31")));
  CHECK(licenceModeName(e.fields.mode) == "per-seat");
  CHECK(licenceStatusName(LicenceStatus::kBadSignature) == "bad-signature");
}

TEST_CASE("licence: trusted key entries are raw base64 keys or key files") {
  KeyPair kp = *generateKeyPair();
  CHECK(*loadTrustedKey(kp.public_raw) == kp.public_raw);
  char dir[] = "/tmp/postern-licence-test-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string pem_path = std::string(dir) + "/vendor.pem";
  const std::string raw_path = std::string(dir) + "/vendor.raw";
  const std::string bad_path = std::string(dir) + "/bad.pem";
  std::ofstream(pem_path) << kp.public_pem;
  std::ofstream(raw_path) << kp.public_raw << "\n";
  std::ofstream(bad_path) << "hello\n";
  auto pem = loadTrustedKey(pem_path);
  auto raw = loadTrustedKey(raw_path);
  REQUIRE(pem.ok());
  REQUIRE(raw.ok());
  CHECK(*publicKeyId(*pem) == *publicKeyId(*raw));
  CHECK(loadTrustedKey(bad_path).error().code == ErrorCode::kBadArgs);
  CHECK(loadTrustedKey(std::string(dir) + "/missing.pem").error().code == ErrorCode::kNotFound);
  std::string lic = *issueLicence(exampleFields(), kp.private_pem);
  CHECK(checkLicence(lic, {*pem, *raw}, kNow).status == LicenceStatus::kOk);
  std::remove(pem_path.c_str());
  std::remove(raw_path.c_str());
  std::remove(bad_path.c_str());
  rmdir(dir);
}
