#include "sasl/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sasl/base64.h"

namespace postern::sasl::scram {
namespace {

const EVP_MD* md(ScramHash h) { return h == ScramHash::kSha1 ? EVP_sha1() : EVP_sha256(); }

bool isPrintable(char c) { return c >= 0x21 && c <= 0x7e && c != ','; }

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// cb-name = 1*(ALPHA / DIGIT / "." / "-")
bool validCbName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!isAlpha(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-') return false;
  return true;
}

// Splits at the next ','; *rest gets what follows it (npos: nothing).
std::string_view takeField(std::string_view* s, bool* more) {
  size_t comma = s->find(',');
  std::string_view field = s->substr(0, comma);
  *more = comma != std::string_view::npos;
  *s = *more ? s->substr(comma + 1) : std::string_view();
  return field;
}

// extensions = attr-val *("," attr-val); attr-val = ALPHA "=" value.
// Unknown optional extensions are ignored (RFC 5802 section 5.1), but must
// be well formed.
bool validExtensions(std::string_view s) {
  bool more = true;
  while (more) {
    std::string_view f = takeField(&s, &more);
    if (f.size() < 3 || !isAlpha(f[0]) || f[1] != '=') return false;
  }
  return true;
}

bool validNonce(std::string_view n) {
  if (n.empty() || n.size() > kMaxNonce * 2 + 64) return false;
  for (char c : n)
    if (!isPrintable(c)) return false;
  return true;
}

std::string randomNonce() {
  unsigned char b[18];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  return encodeBase64(std::string_view(reinterpret_cast<const char*>(b), sizeof b));
}

}  // namespace

size_t hashLen(ScramHash h) { return h == ScramHash::kSha1 ? 20 : 32; }

std::string_view mechanismName(ScramHash h, bool plus) {
  if (h == ScramHash::kSha1) return plus ? "SCRAM-SHA-1-PLUS" : "SCRAM-SHA-1";
  return plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
}

std::string hash(ScramHash h, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md(h), nullptr) != 1) return {};
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string hmac(ScramHash h, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(md(h), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &n))
    return {};
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string saltedPassword(ScramHash h, std::string_view password, std::string_view salt,
                           uint32_t iterations) {
  std::string out(hashLen(h), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), int(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), int(salt.size()),
                        int(iterations), md(h), int(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1)
    return {};
  return out;
}

Keys deriveKeys(ScramHash h, std::string_view password, std::string_view salt, uint32_t iterations) {
  std::string salted = saltedPassword(h, password, salt, iterations);
  if (salted.empty()) return {};
  Keys k;
  k.stored_key = hash(h, hmac(h, salted, "Client Key"));
  k.server_key = hmac(h, salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return k;
}

std::optional<std::string> decodeSaslname(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ',' || c == '\0') return std::nullopt;
    if (c != '=') {
      out += c;
      continue;
    }
    std::string_view esc = s.substr(i + 1, 2);
    if (esc == "2C")
      out += ',';
    else if (esc == "3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

std::string encodeSaslname(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ',')
      out += "=2C";
    else if (c == '=')
      out += "=3D";
    else
      out += c;
  }
  return out;
}

std::optional<ClientFirst> parseClientFirst(std::string_view msg, std::string* why) {
  ClientFirst cf;
  *why = "invalid-encoding";
  if (msg.find('\0') != std::string_view::npos) return std::nullopt;
  std::string_view s = msg;
  bool more = false;
  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  std::string_view flag = takeField(&s, &more);
  if (!more) return std::nullopt;
  if (flag == "n" || flag == "y") {
    cf.cbind_flag = flag[0];
  } else if (flag.substr(0, 2) == "p=" && validCbName(flag.substr(2))) {
    cf.cbind_flag = 'p';
    cf.cbind_name = std::string(flag.substr(2));
  } else {
    return std::nullopt;
  }
  std::string_view authz = takeField(&s, &more);
  if (!more) return std::nullopt;
  if (!authz.empty()) {
    if (authz.substr(0, 2) != "a=" || authz.size() == 2) return std::nullopt;
    auto a = decodeSaslname(authz.substr(2));
    if (!a) return std::nullopt;
    cf.authzid = *a;
  }
  cf.gs2_header = std::string(msg.substr(0, msg.size() - s.size()));
  cf.bare = std::string(s);
  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  if (s.substr(0, 2) == "m=") {
    *why = "extensions-not-supported";
    return std::nullopt;
  }
  std::string_view user = takeField(&s, &more);
  if (!more || user.substr(0, 2) != "n=") return std::nullopt;
  auto u = decodeSaslname(user.substr(2));
  if (!u || u->empty()) return std::nullopt;
  cf.user = *u;
  std::string_view nonce = takeField(&s, &more);
  if (nonce.substr(0, 2) != "r=") return std::nullopt;
  nonce.remove_prefix(2);
  if (!validNonce(nonce) || nonce.size() > kMaxNonce) return std::nullopt;
  cf.nonce = std::string(nonce);
  if (more && !validExtensions(s)) return std::nullopt;
  why->clear();
  return cf;
}

std::optional<ClientFinal> parseClientFinal(std::string_view msg, std::string* why) {
  ClientFinal cf;
  *why = "invalid-encoding";
  if (msg.find('\0') != std::string_view::npos) return std::nullopt;
  // The proof is the last attribute: "," "p=" base64.
  size_t p = msg.rfind(",p=");
  if (p == std::string_view::npos) return std::nullopt;
  auto proof = decodeBase64(msg.substr(p + 3));
  if (!proof || proof->empty()) return std::nullopt;
  cf.proof = *proof;
  std::string_view s = msg.substr(0, p);
  cf.without_proof = std::string(s);
  bool more = false;
  std::string_view cb = takeField(&s, &more);
  if (!more || cb.substr(0, 2) != "c=") return std::nullopt;
  auto cbdata = decodeBase64(cb.substr(2));
  if (!cbdata || cbdata->empty()) return std::nullopt;
  cf.channel_binding = *cbdata;
  std::string_view nonce = takeField(&s, &more);
  if (nonce.substr(0, 2) != "r=") return std::nullopt;
  nonce.remove_prefix(2);
  if (!validNonce(nonce)) return std::nullopt;
  cf.nonce = std::string(nonce);
  if (more && !validExtensions(s)) return std::nullopt;
  why->clear();
  return cf;
}

namespace {

class Server : public Mechanism {
 public:
  Server(ScramHash h, bool plus, const Context& ctx, std::shared_ptr<CredentialLookup> lookup)
      : hash_(h), plus_(plus), ctx_(ctx), lookup_(std::move(lookup)) {}

  std::string_view name() const override { return mechanismName(hash_, plus_); }

  void step(std::string_view response, Next cb) override {
    switch (state_) {
      case State::kFirst:
        return first(response, std::move(cb));
      case State::kFinal:
        return finish(response, std::move(cb));
      default:
        return cb(Outcome::malformed("SCRAM exchange already finished"));
    }
  }

 private:
  enum class State { kFirst, kLookup, kFinal, kDone };

  Outcome fail(std::string why) {
    state_ = State::kDone;
    return Outcome::failed(user_, std::move(why));
  }

  void first(std::string_view msg, Next cb) {
    std::string why;
    auto cf = parseClientFirst(msg, &why);
    if (!cf) {
      state_ = State::kDone;
      return cb(Outcome::malformed("SCRAM client-first-message: " + why));
    }
    user_ = cf->user;
    // RFC 5802 section 6: the channel-binding flag must fit the mechanism
    // and what this server offers.
    if (plus_) {
      if (cf->cbind_flag != 'p') return cb(fail("channel binding required by " + std::string(name())));
      if (cf->cbind_name == "tls-unique")
        cbdata_ = ctx_.tls_unique;
      else if (cf->cbind_name == "tls-exporter")
        cbdata_ = ctx_.tls_exporter;
      if (cbdata_.empty()) return cb(fail("unsupported-channel-binding-type " + cf->cbind_name));
    } else if (cf->cbind_flag == 'p') {
      return cb(fail("channel binding with a non-PLUS mechanism"));
    } else if (cf->cbind_flag == 'y' && ctx_.channelBindingAvailable()) {
      // The client thinks we cannot bind, but we advertised -PLUS: a
      // downgrade by someone in the middle (RFC 5802 section 6).
      return cb(fail("server-does-support-channel-binding"));
    }
    if (cf->user.size() > kMaxUser) return cb(fail("user name too long"));
    if (!cf->authzid.empty() && !iequals(cf->authzid, cf->user)) {
      state_ = State::kDone;
      Outcome o{Outcome::Kind::kAuthzFailed, {}, user_, "authzid " + cf->authzid + " differs from user", {}};
      return cb(std::move(o));
    }
    std::string snonce = ctx_.nonce ? ctx_.nonce() : randomNonce();
    if (snonce.empty()) {
      state_ = State::kDone;
      return cb(
          Outcome{Outcome::Kind::kError, {}, user_, {}, Error{ErrorCode::kInternal, "no random nonce"}});
    }
    gs2_header_ = cf->gs2_header;
    client_first_bare_ = cf->bare;
    nonce_ = cf->nonce + snonce;
    state_ = State::kLookup;
    auto self = std::static_pointer_cast<Server>(shared_from_this());
    lookup_->scramCredentials(
        cf->user, hash_, [self, cb](Result<ScramCredentials> r) { self->gotCredentials(std::move(r), cb); });
  }

  void gotCredentials(Result<ScramCredentials> r, const Next& cb) {
    if (!r.ok()) {
      state_ = State::kDone;
      return cb(Outcome{Outcome::Kind::kError, {}, user_, "credential lookup failed", r.error()});
    }
    creds_ = std::move(*r);
    size_t n = hashLen(hash_);
    if (creds_.salt.empty() || creds_.iterations < kMinIterations || creds_.iterations > kMaxIterations ||
        creds_.stored_key.size() != n || creds_.server_key.size() != n) {
      state_ = State::kDone;
      return cb(Outcome{Outcome::Kind::kError,
                        {},
                        user_,
                        {},
                        Error{ErrorCode::kCorrupt, "unusable SCRAM credentials for " + user_}});
    }
    server_first_ =
        "r=" + nonce_ + ",s=" + encodeBase64(creds_.salt) + ",i=" + std::to_string(creds_.iterations);
    state_ = State::kFinal;
    cb(Outcome::challenge(server_first_));
  }

  void finish(std::string_view msg, Next cb) {
    std::string why;
    auto cf = parseClientFinal(msg, &why);
    if (!cf) {
      state_ = State::kDone;
      return cb(Outcome::malformed("SCRAM client-final-message: " + why));
    }
    // c= is the gs2-header, plus the channel-binding data with "p=".
    std::string want_cb = gs2_header_ + (plus_ ? cbdata_ : std::string());
    if (cf->channel_binding.size() != want_cb.size() ||
        CRYPTO_memcmp(cf->channel_binding.data(), want_cb.data(), want_cb.size()) != 0)
      return cb(fail("channel-bindings-dont-match"));
    if (cf->nonce != nonce_) return cb(fail("nonce does not match"));
    size_t n = hashLen(hash_);
    if (cf->proof.size() != n) return cb(fail("proof has the wrong length"));
    std::string auth_message = client_first_bare_ + "," + server_first_ + "," + cf->without_proof;
    std::string client_signature = hmac(hash_, creds_.stored_key, auth_message);
    std::string client_key(n, '\0');
    for (size_t i = 0; i < n; ++i) client_key[i] = char(cf->proof[i] ^ client_signature[i]);
    std::string got = hash(hash_, client_key);
    bool ok = got.size() == n && CRYPTO_memcmp(got.data(), creds_.stored_key.data(), n) == 0;
    OPENSSL_cleanse(client_key.data(), client_key.size());
    if (!ok) return cb(fail("invalid-proof"));
    state_ = State::kDone;
    if (creds_.denied) {
      return cb(Outcome{Outcome::Kind::kError,
                        {},
                        creds_.user,
                        "protocol disabled for the user",
                        Error{ErrorCode::kDenied, "protocol disabled for " + creds_.user}});
    }
    std::string server_signature = hmac(hash_, creds_.server_key, auth_message);
    cb(Outcome::success(creds_.user, "v=" + encodeBase64(server_signature)));
  }

  ScramHash hash_;
  bool plus_;
  Context ctx_;
  std::shared_ptr<CredentialLookup> lookup_;
  State state_ = State::kFirst;
  std::string user_;
  std::string cbdata_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string nonce_;
  std::string server_first_;
  ScramCredentials creds_;
};

}  // namespace

std::shared_ptr<Mechanism> makeServer(ScramHash h, bool plus, const Context& ctx,
                                      std::shared_ptr<CredentialLookup> lookup) {
  return std::make_shared<Server>(h, plus, ctx, std::move(lookup));
}

}  // namespace postern::sasl::scram
