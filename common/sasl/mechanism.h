#pragma once
// A SASL server (RFC 4422) shared by imapd and pop3d: the mechanisms PLAIN
// (RFC 4616), LOGIN (draft-murchison-sasl-login), SCRAM-SHA-1 and
// SCRAM-SHA-256 (RFC 5802, RFC 7677) with their -PLUS channel-binding
// variants (RFC 5929 tls-unique, RFC 9266 tls-exporter), and EXTERNAL
// (RFC 4422 appendix A) for a verified client certificate.
//
// No store, no gRPC, no sockets: a mechanism sees decoded client responses
// and asks an abstract CredentialLookup, which may answer later (the workers
// ask stored). Exchange (exchange.h) adds base64, size bounds, cancellation
// and "additional data with success"; the protocols only move lines.
//
// Loop-thread only; nothing here blocks or throws.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace postern::sasl {

enum class ScramHash { kSha1, kSha256 };

// What a SCRAM server stores for a user (RFC 5802 section 3): never the
// password. `user` is the canonical name; `denied` says the user may not use
// this protocol (told only after a correct proof).
struct ScramCredentials {
  std::string user;
  std::string salt;  // raw bytes
  uint32_t iterations = 0;
  std::string stored_key;  // H(ClientKey), raw
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), raw
  bool denied = false;
};

// Where mechanisms get credentials. Implementations bind the protocol
// ("imap", "pop3") themselves. Callbacks run exactly once, on the caller's
// loop thread, possibly before the call returns.
class CredentialLookup {
 public:
  using UserCallback = std::function<void(Result<std::string> canonical_user)>;
  using ScramCallback = std::function<void(Result<ScramCredentials>)>;
  virtual ~CredentialLookup() = default;

  // PLAIN, LOGIN: the canonical user name; kAuthFailed for an unknown user
  // or a wrong password (indistinguishable, same cost), kDenied when the
  // protocol is disabled for the user, anything else for a store failure.
  virtual void verifyPassword(const std::string& authcid, const std::string& password, UserCallback cb) = 0;
  // SCRAM: the user's keys. For an unknown user (or one without SCRAM keys)
  // the lookup must return credentials that look real (stable salt, same
  // iteration count) so that the exchange fails exactly like a wrong password.
  virtual void scramCredentials(const std::string& authcid, ScramHash hash, ScramCallback cb) = 0;
  // EXTERNAL: the canonical user for a verified certificate identity;
  // kAuthFailed when there is no such user.
  virtual void externalUser(const std::string& identity, UserCallback cb) = 0;
};

// What the connection offers. Channel-binding data comes from the TLS
// stream (tls::Stream::channelBinding); empty when unavailable.
struct Context {
  std::string tls_unique;    // RFC 5929: TLS 1.2 only
  std::string tls_exporter;  // RFC 9266: TLS 1.3
  // TLS is on, its handshake perhaps not finished yet (the greeting of an
  // implicit-TLS listener goes out before it): -PLUS is advertised, and
  // accepted once the binding data is there.
  bool tls = false;
  // Verified client-certificate identity for EXTERNAL; empty: EXTERNAL is
  // neither offered nor accepted.
  std::string external_identity;
  // PLAIN and LOGIN allowed (TLS, trusted network, or auth.allow_plaintext).
  bool plaintext_allowed = false;
  // Server nonce source for SCRAM (tests make it fixed); default: 18 random
  // bytes, base64.
  std::function<std::string()> nonce;

  bool channelBindingAvailable() const { return !tls_unique.empty() || !tls_exporter.empty(); }
};

// One step's result.
struct Outcome {
  enum class Kind {
    kChallenge,    // send `data` to the client and feed its answer to the next step
    kSuccess,      // authenticated as `user`; `data`: additional data with success (SCRAM's v=)
    kFailed,       // credentials rejected: answer like a wrong password (delayed)
    kAuthzFailed,  // asked to act as another user (authzid): not allowed
    kMalformed,    // the client broke the protocol (bad base64, too long, bad syntax)
    kCancelled,    // the client sent "*"
    kError,        // `error`: kDenied (protocol disabled), store failure, ...
  };
  Kind kind = Kind::kFailed;
  std::string data;
  std::string user;  // canonical on success; otherwise the name tried, for logs (may be empty)
  std::string why;   // for the log only, never for the client
  Error error;

  static Outcome challenge(std::string d) { return {Kind::kChallenge, std::move(d), {}, {}, {}}; }
  static Outcome success(std::string user, std::string d = {}) {
    return {Kind::kSuccess, std::move(d), std::move(user), {}, {}};
  }
  static Outcome failed(std::string user, std::string why) {
    return {Kind::kFailed, {}, std::move(user), std::move(why), {}};
  }
  static Outcome malformed(std::string why) { return {Kind::kMalformed, {}, {}, std::move(why), {}}; }
};
using Next = std::function<void(Outcome)>;

class Mechanism : public std::enable_shared_from_this<Mechanism> {
 public:
  virtual ~Mechanism() = default;
  virtual std::string_view name() const = 0;
  // The first step when the client sent no initial response: the server's
  // first challenge (empty for client-first mechanisms, "Username:" for LOGIN).
  virtual void start(Next cb) { cb(Outcome::challenge("")); }
  // Feeds one decoded client response; `cb` runs exactly once, possibly
  // later (after a credential lookup). Call step() again only after `cb`
  // returned a challenge.
  virtual void step(std::string_view response, Next cb) = 0;
};

// Longest decoded client response accepted by any mechanism.
inline constexpr size_t kMaxResponse = 4096;
// Longest user name / password accepted (larger ones fail like wrong ones).
inline constexpr size_t kMaxUser = 255;
inline constexpr size_t kMaxPassword = 1024;

// The mechanisms to advertise on this connection, strongest first
// (IMAP "AUTH=<name>", POP3 "SASL <names>").
std::vector<std::string> advertised(const Context& ctx);

// True for PLAIN and LOGIN (names case-insensitive): refused before TLS.
bool isPlaintext(std::string_view name);

// A new exchange of mechanism `name` (case-insensitive). kNotFound for an
// unknown mechanism or one this connection does not offer (-PLUS without
// channel binding, EXTERNAL without a certificate); kDenied for PLAIN/LOGIN
// when ctx.plaintext_allowed is false.
Result<std::shared_ptr<Mechanism>> create(std::string_view name, const Context& ctx,
                                          std::shared_ptr<CredentialLookup> lookup);

// Case-insensitive ASCII comparison of mechanism and user names.
bool iequals(std::string_view a, std::string_view b);

}  // namespace postern::sasl
