// Dovecot's {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT} (libcrypt's
// crypt_rn), {SSHA512} (OpenSSL) and {ARGON2ID} (libargon2).
#include "password_legacy.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "sasl/base64.h"
#include "sasl/mechanism.h"

namespace postern::stored::legacy {
namespace {

struct Named {
  Scheme scheme;
  std::string_view name;
};
constexpr Named kSchemes[] = {
    {Scheme::kSha512Crypt, "SHA512-CRYPT"}, {Scheme::kSha256Crypt, "SHA256-CRYPT"},
    {Scheme::kBlfCrypt, "BLF-CRYPT"},       {Scheme::kSsha512, "SSHA512"},
    {Scheme::kArgon2id, "ARGON2ID"},
};

bool isCryptChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/';
}
bool allCrypt(std::string_view s) {
  for (char c : s)
    if (!isCryptChar(c)) return false;
  return true;
}
bool isB64Char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// Decimal without sign or leading garbage, at most 10 digits.
bool parseNum(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + uint64_t(c - '0');
  }
  *v = x;
  return true;
}

// "$6$[rounds=N$]salt$hash" / "$5$...": hash_len is 86 or 43.
std::string checkShaCrypt(std::string_view h, std::string_view prefix, size_t hash_len) {
  if (h.substr(0, 3) != prefix) return "not a " + std::string(prefix) + " hash";
  std::string_view rest = h.substr(3);
  if (rest.substr(0, 7) == "rounds=") {
    size_t d = rest.find('$');
    uint64_t rounds = 0;
    if (d == std::string_view::npos || !parseNum(rest.substr(7, d - 7), &rounds)) return "malformed rounds";
    if (rounds > 1000000) return "rounds above 1000000";
    rest = rest.substr(d + 1);
  }
  size_t d = rest.find('$');
  if (d == std::string_view::npos || d == 0 || d > 16 || !allCrypt(rest.substr(0, d)))
    return "malformed salt";
  std::string_view hash = rest.substr(d + 1);
  if (hash.size() != hash_len || !allCrypt(hash)) return "malformed hash";
  return "";
}

// "$2y$NN$" + 22 salt + 31 hash characters.
std::string checkBcrypt(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') ||
      h[3] != '$' || h[6] != '$')
    return "not a $2a$/$2b$/$2y$ bcrypt hash";
  uint64_t cost = 0;
  if (!parseNum(h.substr(4, 2), &cost) || cost < 4 || cost > 31) return "malformed cost";
  if (cost > 16) return "bcrypt cost above 16";
  if (!allCrypt(h.substr(7))) return "malformed hash";
  return "";
}

// "$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>" (v= may be absent: 1.0).
std::string checkArgon2id(std::string_view h) {
  constexpr std::string_view kPrefix = "$argon2id$";
  if (h.substr(0, kPrefix.size()) != kPrefix) return "not an $argon2id$ hash";
  std::string_view rest = h.substr(kPrefix.size());
  if (rest.substr(0, 2) == "v=") {
    size_t d = rest.find('$');
    if (d == std::string_view::npos || (rest.substr(0, d) != "v=19" && rest.substr(0, d) != "v=16"))
      return "unknown argon2 version";
    rest = rest.substr(d + 1);
  }
  size_t d = rest.find('$');
  if (d == std::string_view::npos) return "malformed parameters";
  std::string_view params = rest.substr(0, d);
  uint64_t m = 0, t = 0, p = 0;
  size_t c1 = params.find(",t="), c2 = params.find(",p=");
  if (params.substr(0, 2) != "m=" || c1 == std::string_view::npos || c2 == std::string_view::npos ||
      c2 < c1 || !parseNum(params.substr(2, c1 - 2), &m) ||
      !parseNum(params.substr(c1 + 3, c2 - c1 - 3), &t) || !parseNum(params.substr(c2 + 3), &p))
    return "malformed parameters";
  if (m > 262144 || t > 16 || p > 8 || m < 8 || t < 1 || p < 1) return "argon2 parameters out of bounds";
  rest = rest.substr(d + 1);
  d = rest.find('$');
  if (d == std::string_view::npos || d == 0 || rest.size() == d + 1) return "malformed salt or hash";
  for (char c : rest)
    if (!isB64Char(c) && c != '$') return "malformed salt or hash";
  if (rest.find('$', d + 1) != std::string_view::npos) return "malformed salt or hash";
  return "";
}

// base64(SHA512(password . salt) . salt)
std::string checkSsha512(std::string_view h) {
  auto raw = sasl::decodeBase64(h);
  if (!raw) return "not base64";
  if (raw->size() <= 64 || raw->size() > 64 + 256) return "wrong length for SSHA512";
  return "";
}

bool verifyCrypt(std::string_view password, std::string_view hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  std::string pw(password), setting(hash);
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  const char* out = crypt_rn(pw.c_str(), setting.c_str(), data.get(), int(sizeof *data));
  bool ok = out && out[0] != '*' && std::strlen(out) == hash.size() &&
            CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof *data);
  OPENSSL_cleanse(pw.data(), pw.size());
  return ok;
}

bool verifySsha512(std::string_view password, std::string_view hash) {
  auto raw = sasl::decodeBase64(hash);
  if (!raw || raw->size() <= 64) return false;
  std::string input(password);
  input.append(*raw, 64, std::string::npos);
  unsigned char digest[64];
  unsigned int n = 0;
  bool ok = EVP_Digest(input.data(), input.size(), digest, &n, EVP_sha512(), nullptr) == 1 && n == 64 &&
            CRYPTO_memcmp(digest, raw->data(), 64) == 0;
  OPENSSL_cleanse(input.data(), input.size());
  return ok;
}

bool verifyArgon2id(std::string_view password, std::string_view hash) {
  std::string encoded(hash);
  // argon2_verify compares in constant time (argon2_compare).
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace

Scheme fromDovecotName(std::string_view name) {
  for (const auto& s : kSchemes)
    if (sasl::iequals(name, s.name)) return s.scheme;
  return Scheme::kUnknown;
}

Scheme schemeOf(std::string_view stored) {
  if (stored.empty() || stored[0] != '{') return Scheme::kUnknown;
  size_t close = stored.find('}');
  if (close == std::string_view::npos) return Scheme::kUnknown;
  std::string_view name = stored.substr(1, close - 1);
  for (const auto& s : kSchemes)
    if (name == s.name) return s.scheme;
  return Scheme::kUnknown;
}

std::string checkHash(Scheme s, std::string_view hash) {
  switch (s) {
    case Scheme::kSha512Crypt:
      return checkShaCrypt(hash, "$6$", 86);
    case Scheme::kSha256Crypt:
      return checkShaCrypt(hash, "$5$", 43);
    case Scheme::kBlfCrypt:
      return checkBcrypt(hash);
    case Scheme::kSsha512:
      return checkSsha512(hash);
    case Scheme::kArgon2id:
      return checkArgon2id(hash);
    default:
      return "unsupported scheme";
  }
}

bool verify(Scheme s, std::string_view password, std::string_view stored) {
  size_t close = stored.find('}');
  if (close == std::string_view::npos) return false;
  std::string_view hash = stored.substr(close + 1);
  // Re-checked at every use: a record must not make us spin or allocate
  // beyond the bounds, whatever wrote it.
  if (!checkHash(s, hash).empty()) return false;
  switch (s) {
    case Scheme::kSha512Crypt:
    case Scheme::kSha256Crypt:
    case Scheme::kBlfCrypt:
      return verifyCrypt(password, hash);
    case Scheme::kSsha512:
      return verifySsha512(password, hash);
    case Scheme::kArgon2id:
      return verifyArgon2id(password, hash);
    default:
      return false;
  }
}

}  // namespace postern::stored::legacy

namespace postern::stored {

Result<ImportedPassword> importDovecotPassword(std::string_view field) {
  if (field.empty() || field[0] != '{') return Error{ErrorCode::kBadArgs, "no {SCHEME} prefix"};
  size_t close = field.find('}');
  if (close == std::string_view::npos || close > 40) return Error{ErrorCode::kBadArgs, "no {SCHEME} prefix"};
  std::string_view name = field.substr(1, close - 1);
  std::string_view hash = field.substr(close + 1);
  ImportedPassword out;
  if (sasl::iequals(name, "PLAIN")) {
    if (hash.empty()) return Error{ErrorCode::kBadArgs, "empty password"};
    out.plaintext = std::string(hash);
    out.scheme = Scheme::kScrypt;
    return out;
  }
  // Dovecot's default encoding of SSHA512 is base64; ".b64" names it.
  if (sasl::iequals(name, "SSHA512.b64")) name = "SSHA512";
  Scheme s = legacy::fromDovecotName(name);
  if (s == Scheme::kUnknown)
    return Error{ErrorCode::kBadArgs, "unsupported scheme {" + std::string(name) + "}"};
  std::string why = legacy::checkHash(s, hash);
  if (!why.empty()) return Error{ErrorCode::kBadArgs, std::string(schemeName(s)) + ": " + why};
  out.scheme = s;
  out.stored = "{" + std::string(schemeName(s)) + "}" + std::string(hash);
  return out;
}

}  // namespace postern::stored
