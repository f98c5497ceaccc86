// The native scheme (scrypt), the dispatch on the scheme named in the
// stored string, and the SCRAM keys. Legacy schemes: password_legacy.cc.
#include "password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>
#include <vector>

#include "password_legacy.h"
#include "sasl/scram.h"

namespace postern::stored {
namespace {

constexpr size_t kSaltLen = 16;
constexpr size_t kHashLen = 32;
constexpr uint64_t kMaxMem = 64ull << 20;
constexpr std::string_view kPrefix = "$scrypt$";

std::string b64encode(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, int(n));
  out.resize(size_t(len));
  return out;
}

// Strict base64 decode of exactly `want` bytes; false on any malformation.
bool b64decode(std::string_view s, size_t want, std::vector<unsigned char>* out) {
  if (s.empty() || s.size() % 4 != 0 || s.size() > 256) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=';
    if (!ok) return false;
  }
  std::vector<unsigned char> buf(s.size());
  int len = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(s.data()), int(s.size()));
  if (len < 0) return false;
  size_t pad = 0;
  if (s.back() == '=') pad++;
  if (s.size() >= 2 && s[s.size() - 2] == '=') pad++;
  size_t n = size_t(len) - pad;
  if (n != want) return false;
  buf.resize(n);
  *out = std::move(buf);
  return true;
}

bool scrypt(std::string_view password, const unsigned char* salt, size_t salt_len, uint64_t n, uint64_t r,
            uint64_t p, unsigned char* out, size_t out_len) {
  return EVP_PBE_scrypt(password.data(), password.size(), salt, salt_len, n, r, p, kMaxMem, out, out_len) ==
         1;
}

bool parseUint(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 3) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + uint64_t(c - '0');
  }
  *v = x;
  return true;
}

bool verifyScrypt(std::string_view password, std::string_view stored) {
  std::string_view rest = stored.substr(kPrefix.size());
  size_t d1 = rest.find('$');
  if (d1 == std::string_view::npos) return false;
  size_t d2 = rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos || rest.find('$', d2 + 1) != std::string_view::npos) return false;
  std::string_view params = rest.substr(0, d1);
  // Parameters: exactly "ln=<a>,r=<b>,p=<c>", bounded so a hostile record
  // cannot make us allocate or spin without limit.
  uint64_t ln = 0, r = 0, p = 0;
  if (params.substr(0, 3) != "ln=") return false;
  size_t c1 = params.find(",r=");
  size_t c2 = params.find(",p=");
  if (c1 == std::string_view::npos || c2 == std::string_view::npos || c2 < c1) return false;
  if (!parseUint(params.substr(3, c1 - 3), &ln) || !parseUint(params.substr(c1 + 3, c2 - c1 - 3), &r) ||
      !parseUint(params.substr(c2 + 3), &p))
    return false;
  if (ln < 1 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  std::vector<unsigned char> salt, want;
  if (!b64decode(rest.substr(d1 + 1, d2 - d1 - 1), kSaltLen, &salt)) return false;
  if (!b64decode(rest.substr(d2 + 1), kHashLen, &want)) return false;
  unsigned char got[kHashLen];
  if (!scrypt(password, salt.data(), salt.size(), uint64_t(1) << ln, r, p, got, sizeof got)) return false;
  return CRYPTO_memcmp(got, want.data(), kHashLen) == 0;
}

}  // namespace

Scheme schemeOf(std::string_view stored) {
  if (stored.substr(0, kPrefix.size()) == kPrefix) return Scheme::kScrypt;
  return legacy::schemeOf(stored);
}

std::string_view schemeName(Scheme s) {
  switch (s) {
    case Scheme::kScrypt:
      return "SCRYPT";
    case Scheme::kSha512Crypt:
      return "SHA512-CRYPT";
    case Scheme::kSha256Crypt:
      return "SHA256-CRYPT";
    case Scheme::kBlfCrypt:
      return "BLF-CRYPT";
    case Scheme::kSsha512:
      return "SSHA512";
    case Scheme::kArgon2id:
      return "ARGON2ID";
    case Scheme::kUnknown:
      break;
  }
  return "UNKNOWN";
}

Result<std::string> hashPassword(std::string_view password) {
  unsigned char salt[kSaltLen];
  if (RAND_bytes(salt, sizeof salt) != 1) return Error{ErrorCode::kInternal, "RAND_bytes failed"};
  unsigned char hash[kHashLen];
  if (!scrypt(password, salt, sizeof salt, 1u << 14, 8, 1, hash, sizeof hash))
    return Error{ErrorCode::kInternal, "EVP_PBE_scrypt failed"};
  return std::string(kPrefix) + "ln=14,r=8,p=1$" + b64encode(salt, sizeof salt) + "$" +
         b64encode(hash, sizeof hash);
}

bool verifyPassword(std::string_view password, std::string_view stored) {
  Scheme s = schemeOf(stored);
  if (s == Scheme::kScrypt) return verifyScrypt(password, stored);
  if (s == Scheme::kUnknown) return false;
  return legacy::verify(s, password, stored);
}

Result<ScramRecord> scramRecord(std::string_view password, sasl::ScramHash h) {
  ScramRecord r;
  r.salt.resize(kSaltLen);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(r.salt.data()), int(kSaltLen)) != 1)
    return Error{ErrorCode::kInternal, "RAND_bytes failed"};
  r.iterations = kScramIterations;
  auto keys = sasl::scram::deriveKeys(h, password, r.salt, r.iterations);
  if (keys.stored_key.empty()) return Error{ErrorCode::kInternal, "PBKDF2 failed"};
  r.stored_key = std::move(keys.stored_key);
  r.server_key = std::move(keys.server_key);
  return r;
}

ScramRecord fakeScramRecord(std::string_view secret, std::string_view user, sasl::ScramHash h) {
  // HMAC-SHA-256(secret, purpose | mechanism | user): stable per name,
  // unrelated between names, unpredictable without the secret.
  auto derive = [&](std::string_view purpose, size_t len) {
    std::string msg = std::string(purpose) + '\0' + std::string(sasl::scram::mechanismName(h, false)) + '\0' +
                      std::string(user);
    std::string mac = sasl::scram::hmac(sasl::ScramHash::kSha256, secret, msg);
    mac.resize(len);
    return mac;
  };
  size_t n = sasl::scram::hashLen(h);
  ScramRecord r;
  r.salt = derive("salt", kSaltLen);
  r.iterations = kScramIterations;
  r.stored_key = derive("stored-key", n);
  r.server_key = derive("server-key", n);
  return r;
}

}  // namespace postern::stored
