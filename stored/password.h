#pragma once
// Password storage for stored's user records. The stored string names its
// scheme, so schemes can change without a flag day:
//
//   $scrypt$ln=14,r=8,p=1$<b64 salt>$<b64 hash>   the native scheme, the only
//                                                 one hashPassword() writes
//   {SHA512-CRYPT}$6$...  {SHA256-CRYPT}$5$...    imported from Dovecot
//   {BLF-CRYPT}$2y$...    {SSHA512}<b64>          passwd-files (posternctl user
//   {ARGON2ID}$argon2id$...                       import-passwd); verify only,
//                                                 replaced by the native scheme
//                                                 at the next successful login
//
// Why scrypt (OpenSSL's EVP_PBE_scrypt, N=2^14, r=8, p=1: 16 MiB, tens of ms)
// rather than yescrypt (libcrypt) or argon2id (libargon2): all three are
// memory-hard and fine choices; scrypt was the format of every existing
// record, so keeping it needs no migration; OpenSSL, which every process
// already links for TLS, implements it and is maintained for security
// fixes; and its parameters are plain fields in our own string rather than
// an opaque library-specific setting. libcrypt and libargon2 are linked only
// to verify imported legacy hashes until they are upgraded.
//
// SCRAM (RFC 5802/7677) needs per-mechanism keys derived with PBKDF2 when
// the password is known: they are computed whenever a password is set or
// upgraded. They are weaker than the scrypt hash against an offline attack
// on a stolen database (kScramIterations PBKDF2 rounds), the price of
// offering SCRAM at all; the database is readable only by stored's user.
//
// Everything here is CPU- and memory-heavy: never call it on the writer thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.h"
#include "sasl/mechanism.h"

namespace postern::stored {

enum class Scheme { kUnknown, kScrypt, kSha512Crypt, kSha256Crypt, kBlfCrypt, kSsha512, kArgon2id };

// The scheme of a stored string (kUnknown for anything malformed-looking).
Scheme schemeOf(std::string_view stored);
// "SCRYPT", "SHA512-CRYPT", ... ("UNKNOWN").
std::string_view schemeName(Scheme s);

// Returns the native scheme string for `password`; kInternal if OpenSSL fails.
Result<std::string> hashPassword(std::string_view password);

// True when `password` matches `stored`, in any scheme above. Compares in
// constant time; returns false (never crashes) for a malformed or
// unknown-scheme string, or one whose cost parameters exceed our bounds.
bool verifyPassword(std::string_view password, std::string_view stored);

// SCRAM keys for one mechanism, as kept in the user record.
struct ScramRecord {
  std::string salt;
  uint32_t iterations = 0;
  std::string stored_key;
  std::string server_key;
};
// PBKDF2 rounds for the stored SCRAM keys (RFC 7677 asks for at least 4096).
inline constexpr uint32_t kScramIterations = 10000;

// Fresh keys (random 16-byte salt) for `password`.
Result<ScramRecord> scramRecord(std::string_view password, sasl::ScramHash h);
// Keys that look real for a user that has none (unknown, or a legacy hash):
// derived from `secret` and the user name, so the same name always gets the
// same salt, across restarts; nobody knows a password that matches them.
ScramRecord fakeScramRecord(std::string_view secret, std::string_view user, sasl::ScramHash h);

// A Dovecot password field "{SCHEME}data" checked for import. `stored` is the
// string to keep (legacy schemes), or empty with `plaintext` set for
// {PLAIN}, which the caller hashes natively. kBadArgs with the reason (never
// containing the hash) for an unsupported scheme, a malformed hash, or cost
// parameters beyond what stored will verify.
struct ImportedPassword {
  std::string stored;
  std::optional<std::string> plaintext;
  Scheme scheme = Scheme::kUnknown;
};
Result<ImportedPassword> importDovecotPassword(std::string_view field);

}  // namespace postern::stored
