#pragma once
// Licence files: parsing, Ed25519 verification (OpenSSL 3 EVP), and the
// vendor side (key generation and issuing). No I/O except what the caller
// hands in as strings; nothing here throws.
//
// File format (UTF-8 text, LF or CRLF line ends, at most 64 KiB):
//
//   # Postern licence
//   licensee: Example GmbH
//   seats: 250
//   mode: per-seat
//   expires: 2027-12-31
//   issued: 2026-11-22
//   id: 3f9c0a7be2d14c55a1e0b7d2c4f86a19
//   signature: <base64 of the 64-byte Ed25519 signature>
//
// Parsing rules (anything else is "malformed", with the line number):
// - Blank lines and lines whose first character is '#' are ignored (and not
//   signed). Every other line is `name: value`; the name is one of the seven
//   below, lower case, each exactly once, in any order. Spaces and tabs
//   around the value are dropped.
// - licensee: 1-200 bytes of valid UTF-8, no control characters.
// - seats:    decimal, no sign, no leading zero, 1..1000000.
// - mode:     `per-seat` or `per-server`.
// - expires:  `YYYY-MM-DD` (a real calendar date, years 1970-9999) or `never`;
//             not before `issued`.
// - issued:   `YYYY-MM-DD`.
// - id:       16-64 lower-case hex digits.
// - signature: standard base64 (with padding) of exactly 64 bytes.
//
// Canonical signed text: the bytes signed and verified are rebuilt from the
// parsed values, never taken from the file, as exactly these seven lines,
// each ending in a single LF, with no other whitespace:
//
//   postern-licence-v1\n            (domain separator; not written in the file)
//   licensee: <licensee>\n
//   seats: <seats in decimal>\n
//   mode: <per-seat|per-server>\n
//   expires: <YYYY-MM-DD|never>\n
//   issued: <YYYY-MM-DD>\n
//   id: <id>\n
//
// So comments, line ends, field order and spaces around values may change
// without breaking the signature; any change to a value breaks it.
//
// Expiry: the expiry day is inclusive, in UTC. A licence with
// `expires: 2026-01-31` is valid until 2026-01-31T23:59:59Z and expired from
// 2026-02-01T00:00:00Z on. Expiry is checked only after the signature
// verifies (a forged expiry date reports a bad signature).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace postern::master {

enum class LicenceMode {
  kPerSeat,    // a user holds one seat however many sessions they have
  kPerServer,  // every authenticated connection holds a seat
};

// "per-seat" / "per-server".
std::string_view licenceModeName(LicenceMode mode);
// Parses "per-seat" / "per-server" (exact, lower case).
Result<LicenceMode> parseLicenceMode(std::string_view text);

// Days since 1970-01-01 (UTC) <-> "YYYY-MM-DD". parseDay accepts only real
// calendar dates in years 1970-9999, exactly 10 characters.
Result<int64_t> parseDay(std::string_view text);
std::string formatDay(int64_t day);
// The UTC day number of a unix time (floor division, also for negatives).
int64_t dayOf(int64_t unix_seconds);

inline constexpr uint32_t kMinSeats = 1;
inline constexpr uint32_t kMaxSeats = 1000000;

// The signed content of a licence.
struct LicenceFields {
  std::string licensee;
  uint32_t seats = 0;
  LicenceMode mode = LicenceMode::kPerSeat;
  std::optional<int64_t> expires;  // UTC day number, inclusive; nullopt = never
  int64_t issued = 0;              // UTC day number
  std::string id;                  // lower-case hex; issueLicence fills it if empty
};

// The canonical signed text of `fields` (see the header comment). Does not
// validate; validate with validateLicenceFields first.
std::string canonicalLicenceText(const LicenceFields& fields);
// Checks every field against the rules above; kBadArgs naming the field.
Error validateLicenceFields(const LicenceFields& fields);

// A licence file split into fields and raw signature, not yet verified.
struct ParsedLicence {
  LicenceFields fields;
  std::string signature;  // 64 raw bytes
};
// Strict parse; kBadArgs with "line N: ..." or "missing field \"x\"".
Result<ParsedLicence> parseLicence(std::string_view text);

// A verified licence (or the built-in evaluation licence).
struct Licence {
  LicenceFields fields;
  bool evaluation = false;
  std::string key_id;  // which trusted key verified it (see publicKeyId); "" for evaluation

  bool expiredAt(int64_t unix_seconds) const;
};

// The built-in fallback: licensee "Evaluation", per-seat, 25 seats, never
// expires, id "evaluation", evaluation = true.
Licence evaluationLicence();

enum class LicenceStatus {
  kOk,
  kMalformed,     // the file does not parse
  kBadKey,        // no trusted key configured, or one of them is unusable
  kBadSignature,  // "signature does not verify against any trusted key"
  kExpired,       // "expired on 2026-01-31"
};
// "ok", "malformed", "bad-key", "bad-signature", "expired".
std::string_view licenceStatusName(LicenceStatus status);

struct LicenceCheck {
  LicenceStatus status = LicenceStatus::kMalformed;
  // Empty when ok; otherwise one sentence for logs and `licence show`:
  // "malformed licence: line 3: seats must be 1-1000000 (got 0)",
  // "trusted key 2 is not an Ed25519 public key (...)",
  // "signature does not verify against any trusted key", "expired on 2026-01-31".
  std::string reason;
  // Set when the signature verified: for kOk and for kExpired (so an
  // administrator can be shown whose licence expired).
  std::optional<Licence> licence;
};

// Verifies `text` against the trusted keys. Each key is the text of an
// Ed25519 public key: PEM ("-----BEGIN PUBLIC KEY-----") or base64 of the
// raw 32 bytes (see loadTrustedKey). Any unusable key fails the check with
// kBadKey, so a configuration mistake is reported rather than ignored.
// Checks in order: parse, keys, signature, expiry at `now` (unix seconds).
LicenceCheck checkLicence(std::string_view text, const std::vector<std::string>& public_keys, int64_t now);

// The same as checkLicence, as a Result. Error codes: kBadArgs for
// malformed text or a bad key, kAuthFailed for a bad signature, kLimit for
// an expired licence; the message is LicenceCheck::reason.
Result<Licence> verifyLicence(const std::string& text, const std::vector<std::string>& public_keys,
                              int64_t now);

// One entry of `licence.public_keys`: a base64 raw 32-byte key (exactly 44
// characters that decode to 32 bytes) is used as is; anything else is a path
// whose file holds a PEM or base64 raw key. Returns the key text for
// checkLicence after checking that it is a usable Ed25519 public key.
// Blocks on file I/O.
Result<std::string> loadTrustedKey(const std::string& entry);

// A short stable name for a public key (PEM or base64 raw): the first 16 hex
// digits of SHA-256 over the raw 32 bytes. kBadArgs if not an Ed25519 key.
Result<std::string> publicKeyId(std::string_view public_key);

// --- vendor side -------------------------------------------------------

struct KeyPair {
  std::string private_pem;  // PKCS#8 "-----BEGIN PRIVATE KEY-----"
  std::string public_pem;   // SPKI "-----BEGIN PUBLIC KEY-----"
  std::string public_raw;   // base64 of the raw 32-byte public key
};
Result<KeyPair> generateKeyPair();

// Validates `fields`, fills a random 128-bit id if fields.id is empty,
// signs the canonical text and returns the complete licence file text
// (in the canonical field order, "# Postern licence" first, LF line ends).
// The private key must be an unencrypted Ed25519 PEM (PKCS#8).
Result<std::string> issueLicence(const LicenceFields& fields, const std::string& private_key_pem);

}  // namespace postern::master
