#pragma once
// TLS on OpenSSL 3 for the non-blocking sockets of the workers.
//
//   Context   one server SSL_CTX built from the config (TLS 1.2+ only, a
//             modern cipher list, no compression, no renegotiation, session
//             tickets on, SSL_MODE_RELEASE_BUFFERS so idle sessions stay
//             small). Held by shared_ptr: a reload builds a new one while
//             every live connection keeps the one it started with.
//   Stream    one client socket, plaintext or TLS, with read()/write() that
//             never block and report which epoll event to wait for. STARTTLS
//             is startTls() on a plaintext stream.
//   Security  how a connection arrived (kNewConn text, see common/ipc.h).
//
// Files: ensureSelfSigned() writes a key + self-signed certificate for the
// master when none is configured. Nothing here throws; failures come back as
// Error / Result with OpenSSL's reason in the message.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config.h"
#include "error.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace postern::tls {

// What the master told the worker about a new connection.
struct Security {
  bool implicit_tls = false;  // TLS from the first byte (imaps, pop3s, listener tls = implicit)
  bool starttls = true;       // STARTTLS / STLS may be offered (listener tls != off)
  // The client address is in trusted_networks. Defaults to true for callers
  // that build sessions directly (tests); the workers always pass the
  // master's decision.
  bool trusted = true;
};

// Parses kNewConn text "imap", "imap+tls+trusted", "pop3+notls", ...:
// *protocol gets the first word; unknown flags are ignored.
Security parseConnText(std::string_view text, std::string* protocol);
// The inverse, for the master.
std::string connText(std::string_view protocol, const Security& s);

class Context {
 public:
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // A server context from PEM files. min_version: "1.2" or "1.3".
  static Result<std::shared_ptr<Context>> server(const std::string& cert_file, const std::string& key_file,
                                                 const std::string& min_version = "1.2");
  // The same, from tls.cert_file / tls.key_file / tls.min_version (the
  // self-signed pair under <data_dir>/tls when not configured).
  static Result<std::shared_ptr<Context>> fromConfig(const Config& cfg);

  SSL_CTX* native() const { return ctx_; }
  // "SHA256 AB:CD:..." of the certificate in use.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  explicit Context(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
  std::string fingerprint_;
};

// The files the workers load: configured, or the generated pair.
std::string certFile(const Config& cfg);
std::string keyFile(const Config& cfg);

// Makes sure `cert_file` and `key_file` exist: when both are missing,
// generates an EC P-256 key (mode 0600) and a self-signed X.509 certificate
// for `hostname`, valid ten years, creating the directory (0700). *generated
// tells whether it did; *fingerprint gets the certificate's SHA-256.
Error ensureSelfSigned(const std::string& cert_file, const std::string& key_file, const std::string& hostname,
                       bool* generated, std::string* fingerprint);

// Colon-separated upper-case hex SHA-256 of the first certificate in a PEM file.
Result<std::string> fingerprintOf(const std::string& cert_file);

enum class Io {
  kOk,         // *n bytes moved (n > 0)
  kWantRead,   // try again when the socket is readable
  kWantWrite,  // try again when the socket is writable
  kEof,        // the peer closed (close_notify or TCP FIN)
  kError,      // fatal: lastError() says why
};

class Stream {
 public:
  // Does not own `fd`: the session closes it (after shutdown()).
  explicit Stream(int fd = -1) : fd_(fd) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void setFd(int fd) { fd_ = fd; }
  int fd() const { return fd_; }

  // Switches to TLS as the server (implicit TLS at connect, or after the
  // plaintext answer to STARTTLS has been sent). The handshake runs inside
  // the next read()/write()/handshake() calls.
  Error startTls(std::shared_ptr<Context> ctx);
  bool tls() const { return ssl_ != nullptr; }
  bool handshakeDone() const { return handshake_done_; }
  // Drives the handshake: kOk once complete.
  Io handshake();

  // Non-blocking read/write; the TLS versions run the handshake first.
  Io read(char* buf, size_t cap, size_t* n);
  Io write(const char* data, size_t len, size_t* n);
  // Decrypted bytes already inside OpenSSL: epoll will not report them, so
  // a reader that stopped early must read again without waiting.
  bool hasBuffered() const;

  // The epoll events to wait for, given what the session wants to do next.
  // A TLS read may need the socket writable and a write readable; during the
  // handshake only the handshake's direction counts.
  uint32_t interest(bool want_read, bool want_write) const;

  // Best-effort close_notify (never waits). Call before closing the fd.
  void shutdown();

  const std::string& lastError() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384" once the handshake is done, else "".
  std::string description() const;
  // Channel-binding data for SCRAM-*-PLUS once the handshake is done, or ""
  // where `type` does not apply: "tls-unique" (RFC 5929: the first Finished
  // message of the last handshake; TLS 1.2 only, as RFC 9266 requires) and
  // "tls-exporter" (RFC 9266: 32 bytes exported with the label
  // "EXPORTER-Channel-Binding" and an empty context; TLS 1.3 only here).
  std::string channelBinding(std::string_view type) const;

 private:
  Io mapError(int ret, bool reading);

  int fd_;
  SSL* ssl_ = nullptr;
  std::shared_ptr<Context> ctx_;  // keeps the SSL_CTX of this connection alive across reloads
  bool handshake_done_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  bool handshake_wants_write_ = false;
  std::string error_;
};

}  // namespace postern::tls
