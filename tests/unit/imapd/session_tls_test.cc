// IMAP sessions and TLS: STARTTLS (RFC 3501 6.2.1), LOGINDISABLED and
// NO [PRIVACYREQUIRED] (RFC 5530) for untrusted clients before TLS, input
// pipelined behind STARTTLS dropped, implicit TLS. The client is a blocking
// OpenSSL client on the other end of a socketpair.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "imap_harness.h"
#include "tls.h"

using namespace postern;
using namespace postern::imapd::testing;

namespace {

const std::string kPlainCaps = kCaps + " STARTTLS" + kAuthCaps;
const std::string kUntrustedCaps = kCaps + " STARTTLS" + kNoPlainAuthCaps;
const std::string kTlsCaps = kCaps + kTlsAuthCaps;

std::shared_ptr<tls::Context> testContext() {
  static std::shared_ptr<tls::Context> ctx = [] {
    char tmpl[] = "/tmp/postern-imaptls-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    bool generated = false;
    std::string fp;
    REQUIRE(tls::ensureSelfSigned(dir + "/cert.pem", dir + "/key.pem", "imap.test", &generated, &fp).ok());
    auto c = tls::Context::server(dir + "/cert.pem", dir + "/key.pem");
    std::system(("rm -rf '" + dir + "'").c_str());  // loaded: the files are no longer needed
    REQUIRE(c.ok());
    return c.value();
  }();
  return ctx;
}

// The client end: plaintext lines first, then TLS on the same socket.
class TlsClient {
 public:
  TlsClient() {
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_) == 0);
    fcntl(sv_[1], F_SETFL, fcntl(sv_[1], F_GETFL) | O_NONBLOCK);
    timeval tv{5, 0};  // every blocking read is bounded
    setsockopt(sv_[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (sv_[0] >= 0) close(sv_[0]);
  }
  int serverEnd() const { return sv_[1]; }

  void write(const std::string& s) {
    if (ssl_)
      REQUIRE(SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size()));
    else
      REQUIRE(::send(sv_[0], s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
  }
  // One CRLF line (plaintext reads one byte at a time so nothing after it is consumed).
  std::string line() {
    std::string out;
    while (out.size() < 8192) {
      char c;
      int n = ssl_ ? SSL_read(ssl_, &c, 1) : static_cast<int>(::read(sv_[0], &c, 1));
      if (n <= 0) return out + "<eof/timeout>";
      out += c;
      if (out.ends_with("\r\n")) return out;
    }
    return out;
  }
  std::string tagged(const std::string& tag) {
    std::string out;
    for (int i = 0; i < 50; ++i) {
      std::string l = line();
      out += l;
      if (l.rfind(tag + " ", 0) == 0 || l.ends_with("<eof/timeout>")) break;
    }
    return out;
  }
  std::string run(const std::string& tag, const std::string& cmd) {
    write(tag + " " + cmd + "\r\n");
    return tagged(tag);
  }
  // TLS client handshake on the (blocking) client end; true on success.
  bool startTls(int max_version = 0, const char* ciphers = nullptr) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (max_version) {
      SSL_CTX_set_min_proto_version(ctx_, max_version);
      SSL_CTX_set_max_proto_version(ctx_, max_version);
    }
    if (ciphers) SSL_CTX_set_cipher_list(ctx_, ciphers);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, sv_[0]);
    return SSL_connect(ssl_) == 1;
  }
  bool closedByPeer() {
    char c;
    int n = ssl_ ? SSL_read(ssl_, &c, 1) : static_cast<int>(::read(sv_[0], &c, 1));
    return n <= 0;
  }

 private:
  int sv_[2] = {-1, -1};
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

std::unique_ptr<TlsClient> connectWith(World& w, tls::Security sec, uint64_t conn = 1) {
  auto c = std::make_unique<TlsClient>();
  int fd = c->serverEnd();
  w.onLoop([&] {
    w.server->accept(fd, conn, "198.51.100.7", sec);
    return 0;
  });
  return c;
}

tls::Security untrusted() {
  tls::Security s;
  s.trusted = false;
  return s;
}

}  // namespace

TEST_CASE("imap tls: an untrusted client sees LOGINDISABLED and gets NO [PRIVACYREQUIRED]") {
  World w;
  w.rt.setTlsContext(testContext());
  auto c = connectWith(w, untrusted());
  CHECK(c->line() == "* OK [CAPABILITY " + kUntrustedCaps + "] Postern IMAP4rev1 ready.\r\n");
  CHECK(c->run("a", "CAPABILITY") == "* CAPABILITY " + kUntrustedCaps + "\r\na OK CAPABILITY completed\r\n");
  CHECK(c->run("b", "LOGIN alice pw") ==
        "b NO [PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS; use STARTTLS\r\n");
  // Refused before the "+ " continuation: no password is ever asked for.
  CHECK(c->run("c", "AUTHENTICATE PLAIN") ==
        "c NO [PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS; use STARTTLS\r\n");
  CHECK(c->run("d", "AUTHENTICATE PLAIN AGFsaWNlAHB3") ==
        "d NO [PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS; use STARTTLS\r\n");
  CHECK(c->run("e", "SELECT INBOX") == "e BAD Please log in first\r\n");
}

TEST_CASE("imap tls: STARTTLS, then the capabilities change and LOGIN works") {
  World w;
  w.rt.setTlsContext(testContext());
  auto c = connectWith(w, untrusted());
  c->line();
  CHECK(c->run("a", "STARTTLS now") == "a BAD STARTTLS takes no arguments\r\n");
  CHECK(c->run("b", "STARTTLS") == "b OK Begin TLS negotiation now\r\n");
  REQUIRE(c->startTls());
  CHECK(c->run("c", "CAPABILITY") == "* CAPABILITY " + kTlsCaps + "\r\nc OK CAPABILITY completed\r\n");
  CHECK(c->run("d", "STARTTLS") == "d BAD TLS is already active\r\n");
  CHECK(c->run("e", "LOGIN alice pw") == "e OK " + kLoggedIn);
  CHECK(c->run("f", "SELECT INBOX").ends_with("f OK [READ-WRITE] SELECT completed\r\n"));
  CHECK(c->run("g", "STARTTLS") == "g BAD Already authenticated\r\n");
}

TEST_CASE("imap tls: commands pipelined behind STARTTLS in the clear are dropped") {
  World w;
  w.rt.setTlsContext(testContext());
  auto c = connectWith(w, untrusted());
  c->line();
  c->write("a STARTTLS\r\nb LOGIN alice pw\r\nc LOGOUT\r\n");
  CHECK(c->line() == "a OK Begin TLS negotiation now\r\n");
  REQUIRE(c->startTls());
  // Neither b nor c ran: the first thing over TLS is the answer to d.
  CHECK(c->run("d", "NOOP") == "d OK NOOP completed\r\n");
  CHECK(c->run("e", "CAPABILITY") == "* CAPABILITY " + kTlsCaps + "\r\ne OK CAPABILITY completed\r\n");
}

TEST_CASE("imap tls: trusted clients may log in without TLS; STARTTLS is still offered") {
  World w;
  w.rt.setTlsContext(testContext());
  tls::Security sec;  // trusted
  auto c = connectWith(w, sec);
  CHECK(c->line() == "* OK [CAPABILITY " + kPlainCaps + "] Postern IMAP4rev1 ready.\r\n");
  CHECK(c->run("a", "LOGIN alice pw") == "a OK " + kLoggedIn);
}

TEST_CASE("imap tls: auth.allow_plaintext lets untrusted clients log in without TLS") {
  Config cfg = testConfig();
  cfg.auth_allow_plaintext = true;
  World w(cfg);
  w.rt.setTlsContext(testContext());
  auto c = connectWith(w, untrusted());
  CHECK(c->line() == "* OK [CAPABILITY " + kPlainCaps + "] Postern IMAP4rev1 ready.\r\n");
  CHECK(c->run("a", "LOGIN alice pw") == "a OK " + kLoggedIn);
}

TEST_CASE("imap tls: without a certificate or on a tls=off listener STARTTLS is not offered") {
  World w;
  SUBCASE("no certificate loaded") {
    auto c = connectWith(w, untrusted());
    CHECK(c->line() == "* OK [CAPABILITY " + kCaps + kNoPlainAuthCaps + "] Postern IMAP4rev1 ready.\r\n");
    CHECK(c->run("a", "STARTTLS") == "a BAD STARTTLS is not available on this connection\r\n");
    CHECK(c->run("b", "LOGIN alice pw") ==
          "b NO [PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS\r\n");
  }
  SUBCASE("listener tls = off") {
    w.rt.setTlsContext(testContext());
    tls::Security sec = untrusted();
    sec.starttls = false;
    auto c = connectWith(w, sec);
    CHECK(c->line() == "* OK [CAPABILITY " + kCaps + kNoPlainAuthCaps + "] Postern IMAP4rev1 ready.\r\n");
    CHECK(c->run("a", "STARTTLS") == "a BAD STARTTLS is not available on this connection\r\n");
  }
}

TEST_CASE("imap tls: implicit TLS handshakes before the greeting") {
  World w;
  w.rt.setTlsContext(testContext());
  tls::Security sec = untrusted();
  sec.implicit_tls = true;
  auto c = connectWith(w, sec);
  REQUIRE(c->startTls());
  CHECK(c->line() == "* OK [CAPABILITY " + kTlsCaps + "] Postern IMAP4rev1 ready.\r\n");
  CHECK(c->run("a", "LOGIN alice pw") == "a OK " + kLoggedIn);
  CHECK(c->run("b", "LOGOUT") == "* BYE Postern IMAP4rev1 server logging out\r\nb OK LOGOUT completed\r\n");
}

TEST_CASE("imap tls: a TLS 1.1 client on an implicit-TLS connection is refused and closed") {
  World w;
  w.rt.setTlsContext(testContext());
  tls::Security sec = untrusted();
  sec.implicit_tls = true;
  auto c = connectWith(w, sec);
  CHECK(!c->startTls(TLS1_1_VERSION, "DEFAULT@SECLEVEL=0"));
  CHECK(c->closedByPeer());
  CHECK(w.onLoop([&] { return w.server->sessions(); }) == 0);
}
