// Ed25519 keys, signing and verification of licences (OpenSSL 3 EVP).
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdio>
#include <memory>

#include "licence.h"
#include "sasl/base64.h"

namespace postern::master {
namespace {

constexpr size_t kRawKeyBytes = 32;
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// Never prompt on a terminal for a passphrase: an encrypted key simply fails.
int noPassphrase(char*, int, int, void*) { return -1; }

std::string_view trimSpace(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

// The master also speaks TLS through OpenSSL; a failure here must not leave
// entries on the thread's error queue for SSL_get_error to trip over.
std::string opensslFailure(const char* what) {
  unsigned long e = ERR_get_error();
  std::string msg = what;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += std::string(": ") + buf;
  }
  ERR_clear_error();
  return msg;
}

Pkey parsePublicKey(std::string_view text) {
  text = trimSpace(text);
  if (text.rfind("-----BEGIN", 0) == 0) {
    Bio bio(BIO_new_mem_buf(text.data(), int(text.size())));
    if (!bio) return nullptr;
    Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, noPassphrase, nullptr));
    ERR_clear_error();
    if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return nullptr;
    return key;
  }
  auto raw = sasl::decodeBase64(text);
  if (!raw || raw->size() != kRawKeyBytes) return nullptr;
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                       reinterpret_cast<const unsigned char*>(raw->data()), raw->size()));
  ERR_clear_error();
  return key;
}

std::optional<std::string> rawPublic(EVP_PKEY* key) {
  unsigned char raw[kRawKeyBytes];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != kRawKeyBytes) {
    ERR_clear_error();
    return std::nullopt;
  }
  return std::string(reinterpret_cast<char*>(raw), len);
}

std::string keyIdOf(EVP_PKEY* key) {
  auto raw = rawPublic(key);
  if (!raw) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(raw->data(), raw->size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    ERR_clear_error();
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned i = 0; i < 8 && i < md_len; ++i) {
    id += kHex[md[i] >> 4];
    id += kHex[md[i] & 15];
  }
  return id;
}

bool verifyWith(EVP_PKEY* key, std::string_view message, std::string_view signature) {
  MdCtx ctx(EVP_MD_CTX_new());
  bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::optional<std::string> bioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return std::nullopt;
  return std::string(data, size_t(len));
}

bool looksLikeRawKey(const std::string& entry) {
  if (entry.size() != 44) return false;
  auto raw = sasl::decodeBase64(entry);
  return raw && raw->size() == kRawKeyBytes;
}

}  // namespace

LicenceCheck checkLicence(std::string_view text, const std::vector<std::string>& public_keys, int64_t now) {
  LicenceCheck out;
  auto parsed = parseLicence(text);
  if (!parsed) {
    out.status = LicenceStatus::kMalformed;
    out.reason = "malformed licence: " + parsed.error().message;
    return out;
  }
  if (public_keys.empty()) {
    out.status = LicenceStatus::kBadKey;
    out.reason = "no trusted licence keys configured";
    return out;
  }
  std::vector<Pkey> keys;
  for (size_t i = 0; i < public_keys.size(); ++i) {
    Pkey key = parsePublicKey(public_keys[i]);
    if (!key) {
      out.status = LicenceStatus::kBadKey;
      out.reason = "trusted key " + std::to_string(i + 1) +
                   " is not an Ed25519 public key (PEM or base64 of the raw 32 bytes)";
      return out;
    }
    keys.push_back(std::move(key));
  }
  const std::string message = canonicalLicenceText(parsed->fields);
  for (auto& key : keys) {
    if (!verifyWith(key.get(), message, parsed->signature)) continue;
    Licence lic;
    lic.fields = std::move(parsed->fields);
    lic.key_id = keyIdOf(key.get());
    if (lic.expiredAt(now)) {
      out.status = LicenceStatus::kExpired;
      out.reason = "expired on " + formatDay(*lic.fields.expires);
    } else {
      out.status = LicenceStatus::kOk;
    }
    out.licence = std::move(lic);
    return out;
  }
  out.status = LicenceStatus::kBadSignature;
  out.reason = "signature does not verify against any trusted key";
  return out;
}

Result<std::string> loadTrustedKey(const std::string& entry) {
  if (looksLikeRawKey(entry)) return entry;
  std::FILE* f = std::fopen(entry.c_str(), "rb");
  if (!f) return Error{ErrorCode::kNotFound, "cannot open licence key file " + entry};
  std::string text(kMaxKeyFileBytes + 1, '\0');
  size_t n = std::fread(text.data(), 1, text.size(), f);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Error{ErrorCode::kUnavailable, "cannot read licence key file " + entry};
  if (n > kMaxKeyFileBytes) return Error{ErrorCode::kBadArgs, "licence key file " + entry + " is too large"};
  text.resize(n);
  if (!parsePublicKey(text))
    return Error{ErrorCode::kBadArgs,
                 "licence key file " + entry + " does not hold an Ed25519 public key (PEM or base64 raw)"};
  return text;
}

Result<std::string> publicKeyId(std::string_view public_key) {
  Pkey key = parsePublicKey(public_key);
  if (!key) return Error{ErrorCode::kBadArgs, "not an Ed25519 public key"};
  std::string id = keyIdOf(key.get());
  if (id.empty()) return Error{ErrorCode::kInternal, "cannot hash public key"};
  return id;
}

Result<KeyPair> generateKeyPair() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return Error{ErrorCode::kInternal, opensslFailure("Ed25519 key generation failed")};
  Bio priv(BIO_new(BIO_s_mem()));
  Bio pub(BIO_new(BIO_s_mem()));
  if (!priv || !pub ||
      PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1)
    return Error{ErrorCode::kInternal, opensslFailure("cannot write PEM")};
  auto priv_text = bioText(priv.get());
  auto pub_text = bioText(pub.get());
  auto raw = rawPublic(key.get());
  if (!priv_text || !pub_text || !raw) return Error{ErrorCode::kInternal, "cannot export key"};
  return KeyPair{std::move(*priv_text), std::move(*pub_text), sasl::encodeBase64(*raw)};
}

Result<std::string> issueLicence(const LicenceFields& in, const std::string& private_key_pem) {
  if (Error e = validateLicenceFields(in); !e.ok()) return e;
  LicenceFields f = in;
  if (f.id.empty()) {
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
      return Error{ErrorCode::kInternal, opensslFailure("no randomness for the licence id")};
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char b : rnd) {
      f.id += kHex[b >> 4];
      f.id += kHex[b & 15];
    }
  }
  Bio bio(BIO_new_mem_buf(private_key_pem.data(), int(private_key_pem.size())));
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    return Error{ErrorCode::kBadArgs, "not an unencrypted Ed25519 private key in PEM"};
  }
  const std::string message = canonicalLicenceText(f);
  unsigned char sig[64];
  size_t sig_len = sizeof sig;
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &sig_len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1)
    return Error{ErrorCode::kInternal, opensslFailure("signing failed")};
  // The file is the canonical text minus the domain separator, plus the
  // signature.
  std::string file = "# Postern licence\n";
  file += message.substr(message.find('\n') + 1);
  file +=
      "signature: " + sasl::encodeBase64(std::string_view(reinterpret_cast<char*>(sig), sig_len)) + "\n";
  return file;
}

}  // namespace postern::master
