#include "tls.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace postern::tls {
namespace {

// TLS 1.2 suites: ECDHE with AEAD only (forward secrecy, no CBC, no RSA key
// exchange). TLS 1.3 keeps OpenSSL's defaults, which are all AEAD.
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's error queue as one line (and emptied, so the next call starts clean).
std::string sslErrors(const std::string& what) {
  std::string out = what;
  unsigned long e;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

std::string hexColons(const unsigned char* p, unsigned n) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    if (i) out += ':';
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

std::string x509Fingerprint(X509* x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (X509_digest(x, EVP_sha256(), md, &n) != 1) return "";
  return hexColons(md, n);
}

bool fileExists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

bool mkdirs(const std::string& path, mode_t mode) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return false;
    }
    if (i < path.size()) cur += path[i];
  }
  return true;
}

std::string dirOf(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}

// Writes through a temp file + rename, so a crash never leaves half a key.
Error writeFileAtomically(const std::string& path, mode_t mode, int (*writer)(FILE*, void*), void* arg) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Error{ErrorCode::kInternal, tmp + ": " + strerror(errno)};
  FILE* f = fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    return Error{ErrorCode::kInternal, tmp + ": " + strerror(errno)};
  }
  int ok = writer(f, arg);
  bool flushed = fflush(f) == 0 && fsync(fileno(f)) == 0;
  fclose(f);
  if (ok != 1 || !flushed) {
    ::unlink(tmp.c_str());
    return Error{ErrorCode::kInternal, sslErrors(path + ": cannot write")};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Error{ErrorCode::kInternal, path + ": " + strerror(errno)};
  return Error::none();
}

}  // namespace

Security parseConnText(std::string_view text, std::string* protocol) {
  Security s;
  size_t plus = text.find('+');
  if (protocol) *protocol = std::string(text.substr(0, plus));
  while (plus != std::string_view::npos) {
    size_t next = text.find('+', plus + 1);
    std::string_view flag = text.substr(plus + 1, next == std::string_view::npos ? next : next - plus - 1);
    if (flag == "tls")
      s.implicit_tls = true;
    else if (flag == "notls")
      s.starttls = false;
    else if (flag == "trusted")
      s.trusted = true;
    plus = next;
  }
  // Trust must be stated: a message without "+trusted" is an untrusted client.
  if (text.find("+trusted") == std::string_view::npos) s.trusted = false;
  return s;
}

std::string connText(std::string_view protocol, const Security& s) {
  std::string t(protocol);
  if (s.implicit_tls) t += "+tls";
  if (!s.starttls) t += "+notls";
  if (s.trusted) t += "+trusted";
  return t;
}

// ---- Context ----------------------------------------------------------------------------

Context::~Context() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<Context>> Context::server(const std::string& cert_file, const std::string& key_file,
                                                 const std::string& min_version) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return Error{ErrorCode::kInternal, sslErrors("SSL_CTX_new")};
  std::shared_ptr<Context> ctx(new Context(raw));
  int min = min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(raw, min) != 1 || SSL_CTX_set_cipher_list(raw, kCiphers12) != 1)
    return Error{ErrorCode::kInternal, sslErrors("TLS setup")};
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Partial writes + a moving buffer: sessions keep one growing output
  // string and retry from its current position. Release buffers: an idle
  // connection holds no 16 KiB record buffers.
  SSL_CTX_set_mode(
      raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  static const unsigned char kSid[] = "postern";
  SSL_CTX_set_session_id_context(raw, kSid, sizeof kSid - 1);
  if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1)
    return Error{ErrorCode::kBadArgs, sslErrors(cert_file + ": cannot load the certificate")};
  if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return Error{ErrorCode::kBadArgs, sslErrors(key_file + ": cannot load the private key")};
  if (SSL_CTX_check_private_key(raw) != 1)
    return Error{ErrorCode::kBadArgs, sslErrors(key_file + ": the key does not match " + cert_file)};
  if (X509* x = SSL_CTX_get0_certificate(raw)) ctx->fingerprint_ = x509Fingerprint(x);
  return ctx;
}

Result<std::shared_ptr<Context>> Context::fromConfig(const Config& cfg) {
  return server(certFile(cfg), keyFile(cfg), cfg.tls_min_version);
}

std::string certFile(const Config& cfg) {
  return cfg.tls_cert_file.empty() ? cfg.data_dir + "/tls/cert.pem" : cfg.tls_cert_file;
}

std::string keyFile(const Config& cfg) {
  if (!cfg.tls_key_file.empty()) return cfg.tls_key_file;
  // A configured certificate without a key file: the key is in the same PEM.
  return cfg.tls_cert_file.empty() ? cfg.data_dir + "/tls/key.pem" : cfg.tls_cert_file;
}

Result<std::string> fingerprintOf(const std::string& cert_file) {
  FILE* f = fopen(cert_file.c_str(), "r");
  if (!f) return Error{ErrorCode::kNotFound, cert_file + ": " + strerror(errno)};
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (!x) return Error{ErrorCode::kBadArgs, sslErrors(cert_file + ": not a PEM certificate")};
  std::string fp = x509Fingerprint(x);
  X509_free(x);
  return fp;
}

Error ensureSelfSigned(const std::string& cert_file, const std::string& key_file, const std::string& hostname,
                       bool* generated, std::string* fingerprint) {
  *generated = false;
  if (fileExists(cert_file) || fileExists(key_file)) {
    auto fp = fingerprintOf(cert_file);
    if (!fp.ok()) return fp.error();
    *fingerprint = fp.value();
    return Error::none();
  }
  if (!mkdirs(dirOf(cert_file), 0700) || !mkdirs(dirOf(key_file), 0700))
    return Error{ErrorCode::kInternal, dirOf(cert_file) + ": " + strerror(errno)};
  ERR_clear_error();
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) return Error{ErrorCode::kInternal, sslErrors("cannot generate an EC key")};
  X509* x = X509_new();
  Error result = Error::none();
  std::string name = hostname.empty() ? "localhost" : hostname.substr(0, 63);
  do {
    unsigned char serial[16];
    if (!x || X509_set_version(x, 2) != 1 || RAND_bytes(serial, sizeof serial) != 1) {
      result = Error{ErrorCode::kInternal, sslErrors("X509 setup")};
      break;
    }
    serial[0] &= 0x7f;  // a positive serial number
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);  // tolerate a client clock slightly behind
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Postern"), -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    std::string san = "DNS:" + name;
    const std::pair<int, std::string> exts[] = {
        {NID_subject_alt_name, san},
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
    };
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
      if (!ext || X509_add_ext(x, ext, -1) != 1)
        result = Error{ErrorCode::kInternal, sslErrors("X509 extension")};
      X509_EXTENSION_free(ext);
    }
    if (!result.ok()) break;
    if (X509_sign(x, key, EVP_sha256()) == 0) {
      result = Error{ErrorCode::kInternal, sslErrors("cannot sign the certificate")};
      break;
    }
    result = writeFileAtomically(
        key_file, 0600,
        [](FILE* f, void* k) {
          return PEM_write_PrivateKey(f, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0, nullptr, nullptr);
        },
        key);
    if (!result.ok()) break;
    result = writeFileAtomically(
        cert_file, 0644, [](FILE* f, void* c) { return PEM_write_X509(f, static_cast<X509*>(c)); }, x);
    if (!result.ok()) break;
    *fingerprint = x509Fingerprint(x);
    *generated = true;
  } while (false);
  X509_free(x);
  EVP_PKEY_free(key);
  return result;
}

// ---- Stream -----------------------------------------------------------------------------

Stream::~Stream() { SSL_free(ssl_); }

Error Stream::startTls(std::shared_ptr<Context> ctx) {
  if (ssl_) return Error{ErrorCode::kBadArgs, "TLS is already active"};
  if (!ctx) return Error{ErrorCode::kUnavailable, "no TLS certificate loaded"};
  ERR_clear_error();
  ssl_ = SSL_new(ctx->native());
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return Error{ErrorCode::kInternal, sslErrors("SSL_new")};
  }
  SSL_set_accept_state(ssl_);
  ctx_ = std::move(ctx);
  handshake_done_ = false;
  return Error::none();
}

Io Stream::mapError(int ret, bool reading) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      if (!handshake_done_)
        handshake_wants_write_ = false;
      else if (reading)
        read_wants_write_ = false;
      else
        write_wants_read_ = true;
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      if (!handshake_done_)
        handshake_wants_write_ = true;
      else if (reading)
        read_wants_write_ = true;
      else
        write_wants_read_ = false;
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEof;
    case SSL_ERROR_SYSCALL:
      if (errno == EAGAIN || errno == EINTR) return reading ? Io::kWantRead : Io::kWantWrite;
      if (ERR_peek_error() == 0) {
        // No TLS error: the peer dropped TCP (without close_notify) or a socket error.
        error_ = errno ? std::string(strerror(errno)) : "connection closed";
        ERR_clear_error();
        return errno && errno != ECONNRESET && errno != EPIPE ? Io::kError : Io::kEof;
      }
      [[fallthrough]];
    default:
      error_ = sslErrors(handshake_done_ ? "TLS error" : "TLS handshake failed");
      return Io::kError;
  }
}

Io Stream::handshake() {
  if (!ssl_ || handshake_done_) return Io::kOk;
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshake_done_ = true;
    handshake_wants_write_ = false;
    return Io::kOk;
  }
  Io io = mapError(r, true);
  if (io == Io::kEof) {
    error_ = "connection closed during the TLS handshake";
  }
  return io;
}

Io Stream::read(char* buf, size_t cap, size_t* n) {
  *n = 0;
  if (!ssl_) {
    ssize_t r = ::read(fd_, buf, cap);
    if (r > 0) {
      *n = static_cast<size_t>(r);
      return Io::kOk;
    }
    if (r == 0) return Io::kEof;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kWantRead;
    error_ = strerror(errno);
    return Io::kError;
  }
  if (!handshake_done_) {
    Io h = handshake();
    if (h != Io::kOk) return h;
  }
  ERR_clear_error();
  errno = 0;
  read_wants_write_ = false;
  int r = SSL_read_ex(ssl_, buf, cap, n) == 1 ? 1 : 0;
  if (r == 1) return Io::kOk;
  return mapError(0, true);
}

Io Stream::write(const char* data, size_t len, size_t* n) {
  *n = 0;
  if (!ssl_) {
    ssize_t r = ::send(fd_, data, len, MSG_NOSIGNAL);
    if (r >= 0) {
      *n = static_cast<size_t>(r);
      return r > 0 ? Io::kOk : Io::kWantWrite;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kWantWrite;
    error_ = strerror(errno);
    return Io::kError;
  }
  if (!handshake_done_) {
    Io h = handshake();
    if (h != Io::kOk) return h;
  }
  ERR_clear_error();
  errno = 0;
  write_wants_read_ = false;
  if (SSL_write_ex(ssl_, data, len, n) == 1) return Io::kOk;
  return mapError(0, false);
}

bool Stream::hasBuffered() const { return ssl_ && handshake_done_ && SSL_pending(ssl_) > 0; }

uint32_t Stream::interest(bool want_read, bool want_write) const {
  if (ssl_ && !handshake_done_) return handshake_wants_write_ ? EPOLLOUT : EPOLLIN;
  uint32_t ev = 0;
  if (want_read) ev |= read_wants_write_ ? EPOLLOUT : EPOLLIN;
  if (want_write) ev |= write_wants_read_ ? EPOLLIN : EPOLLOUT;
  return ev;
}

void Stream::shutdown() {
  if (!ssl_ || !handshake_done_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // sends close_notify if the socket has room; never waits for the peer's
  ERR_clear_error();
}

std::string Stream::description() const {
  if (!ssl_ || !handshake_done_) return "";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

std::string Stream::channelBinding(std::string_view type) const {
  if (!ssl_ || !handshake_done_) return "";
  int version = SSL_version(ssl_);
  if (type == "tls-unique") {
    if (version != TLS1_2_VERSION) return "";
    // The first Finished on the wire: the client's in a full handshake, ours
    // when the session was resumed (the server finishes first then).
    unsigned char buf[EVP_MAX_MD_SIZE];
    size_t n = SSL_session_reused(ssl_) ? SSL_get_finished(ssl_, buf, sizeof buf)
                                        : SSL_get_peer_finished(ssl_, buf, sizeof buf);
    if (n == 0 || n > sizeof buf) return "";
    return std::string(reinterpret_cast<const char*>(buf), n);
  }
  if (type == "tls-exporter") {
    // TLS 1.2 could qualify with extended master secret, but RFC 5705's
    // "no context" and "empty context" differ there and clients disagree;
    // TLS 1.2 clients bind with tls-unique.
    if (version < TLS1_3_VERSION) return "";
    static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
    unsigned char out[32];
    if (SSL_export_keying_material(ssl_, out, sizeof out, kLabel, sizeof kLabel - 1, nullptr, 0, 0) != 1) {
      ERR_clear_error();
      return "";
    }
    return std::string(reinterpret_cast<const char*>(out), sizeof out);
  }
  return "";
}

}  // namespace postern::tls
