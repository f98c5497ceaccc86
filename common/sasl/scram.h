#pragma once
// SCRAM (RFC 5802; SHA-256 per RFC 7677): the key derivation stored uses
// when a password is set, the strict message parsers, and the server
// mechanism (created through sasl::create).
//
// Not done: SASLprep (RFC 4013) of passwords. Like Dovecot, the password's
// UTF-8 bytes are used as given; for ASCII passwords SASLprep is the
// identity, so only clients that normalise non-ASCII passwords differ.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/mechanism.h"

namespace postern::sasl::scram {

// Iteration counts a server may use: RFC 7677 asks for at least 4096; the
// upper bound keeps a corrupt record from turning into a client DoS.
inline constexpr uint32_t kMinIterations = 4096;
inline constexpr uint32_t kMaxIterations = 1u << 24;
// Longest client nonce accepted (RFC 5802 sets none).
inline constexpr size_t kMaxNonce = 256;

size_t hashLen(ScramHash h);                             // 20 or 32
std::string_view mechanismName(ScramHash h, bool plus);  // "SCRAM-SHA-256-PLUS", ...
std::string hash(ScramHash h, std::string_view data);
std::string hmac(ScramHash h, std::string_view key, std::string_view data);
// Hi(password, salt, i) = PBKDF2-HMAC-H (RFC 5802 section 2.2).
std::string saltedPassword(ScramHash h, std::string_view password, std::string_view salt,
                           uint32_t iterations);

struct Keys {
  std::string stored_key;
  std::string server_key;
};
// The keys a server stores (RFC 5802 section 3). CPU-heavy: `iterations`
// rounds of HMAC; never call on an event loop.
Keys deriveKeys(ScramHash h, std::string_view password, std::string_view salt, uint32_t iterations);

// saslname (RFC 5802 section 5.1): "=2C" is ',' and "=3D" is '='; any other
// '=' or a ',' or NUL makes it invalid (nullopt). Empty input: "".
std::optional<std::string> decodeSaslname(std::string_view s);
std::string encodeSaslname(std::string_view s);

// The client-first-message, split (RFC 5802 section 7).
struct ClientFirst {
  char cbind_flag = 'n';   // 'n', 'y' or 'p'
  std::string cbind_name;  // with 'p': "tls-unique", "tls-exporter", ...
  std::string authzid;     // decoded, may be empty
  std::string gs2_header;  // "n,,", "p=tls-unique,a=bob," ... as sent
  std::string bare;        // client-first-message-bare, as sent
  std::string user;        // decoded
  std::string nonce;       // c-nonce
};
// nullopt with *why set ("invalid-encoding", "extensions-not-supported", ...).
std::optional<ClientFirst> parseClientFirst(std::string_view msg, std::string* why);

struct ClientFinal {
  std::string channel_binding;  // decoded c= value
  std::string nonce;            // c-nonce + s-nonce
  std::string without_proof;    // client-final-message-without-proof, as sent
  std::string proof;            // decoded p= value
};
std::optional<ClientFinal> parseClientFinal(std::string_view msg, std::string* why);

// A SCRAM server mechanism; `plus` requires channel binding.
std::shared_ptr<Mechanism> makeServer(ScramHash h, bool plus, const Context& ctx,
                                      std::shared_ptr<CredentialLookup> lookup);

}  // namespace postern::sasl::scram
