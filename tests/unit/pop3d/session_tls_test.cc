// STLS (RFC 2595 section 4) on a POP3 session: the switch to TLS inside
// LineSession, with an in-process OpenSSL client on the socketpair, and the
// plaintext pipelined behind STLS thrown away (CVE-2011-0411).
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdlib>
#include <string>

#include "fixture.h"

using namespace postern;
using postern::pop3d::testing::Fixture;

namespace {

struct TlsDir {
  std::string path;
  TlsDir() {
    char tmpl[] = "/tmp/postern-pop3-tls-XXXXXX";
    path = mkdtemp(tmpl);
    bool generated = false;
    std::string fp;
    REQUIRE(tls::ensureSelfSigned(path + "/cert.pem", path + "/key.pem", "mail.test", &generated, &fp).ok());
  }
  ~TlsDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::shared_ptr<tls::Context> context() const {
    auto c = tls::Context::server(path + "/cert.pem", path + "/key.pem");
    REQUIRE(c.ok());
    return c.value();
  }
};

// A blocking TLS client over the test's end of the socketpair (reads time
// out after 5 s, so a server that stalls fails the test instead of hanging it).
struct TlsClient {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  std::string buf;

  explicit TlsClient(int fd) {
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
  }
  ~TlsClient() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  bool connect() { return SSL_connect(ssl) == 1; }
  std::string cmd(const std::string& c) {
    std::string line = c + "\r\n";
    if (SSL_write(ssl, line.data(), int(line.size())) <= 0) return "";
    return readLine();
  }
  std::string readLine() {
    for (;;) {
      size_t pos = buf.find("\r\n");
      if (pos != std::string::npos) {
        std::string out = buf.substr(0, pos + 2);
        buf.erase(0, pos + 2);
        return out;
      }
      char tmp[4096];
      int n = SSL_read(ssl, tmp, sizeof tmp);
      if (n <= 0) return "";
      buf.append(tmp, size_t(n));
    }
  }
};

}  // namespace

TEST_CASE(
    "pop3 STLS: TLS starts after the +OK, input pipelined behind STLS is dropped, the session goes on") {
  TlsDir dir;
  Fixture f;
  f.host.tls = dir.context();
  f.connect();
  f.c.write("CAPA\r\n");
  CHECK(f.c.readUntil("\r\n.\r\n").find("STLS\r\n") != std::string::npos);
  // "STAT" would answer -ERR in the clear or over TLS if it ran: it must not.
  f.c.write("STLS\r\nSTAT\r\n");
  CHECK(f.c.line() == "+OK Begin TLS negotiation\r\n");
  TlsClient t(f.c.fd());
  REQUIRE(t.connect());
  CHECK(t.cmd("NOOP") == "-ERR Not logged in: use USER and PASS\r\n");
  CHECK(t.cmd("STLS") == "-ERR Command not permitted when TLS active\r\n");
  CHECK(t.cmd("USER alice") == "+OK Send your password\r\n");
  CHECK(t.cmd("PASS pw") == "+OK Logged in, 2 messages (57 octets)\r\n");
  CHECK(t.cmd("STAT") == "+OK 2 57\r\n");
  CHECK(t.cmd("QUIT") == "+OK Postern POP3 signing off\r\n");
}
