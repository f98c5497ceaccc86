// common/tls: the self-signed pair, the server context, and tls::Stream over a
// socketpair against an in-process OpenSSL client (both ends non-blocking,
// driven alternately on this thread).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tls.h"

using namespace postern;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/postern-tls-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

// One generated pair per test process (EC key generation is quick, but once is enough).
const std::string& certDir() {
  static TempDir dir;
  static bool made = [] {
    bool generated = false;
    std::string fp;
    REQUIRE(tls::ensureSelfSigned(dir.path + "/tls/cert.pem", dir.path + "/tls/key.pem", "mail.test",
                                  &generated, &fp)
                .ok());
    return generated;
  }();
  (void)made;
  return dir.path;
}

std::shared_ptr<tls::Context> serverContext(const std::string& min = "1.2") {
  auto c = tls::Context::server(certDir() + "/tls/cert.pem", certDir() + "/tls/key.pem", min);
  REQUIRE(c.ok());
  return c.value();
}

void nonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A TLS client on one end of a socketpair; the server Stream gets the other.
struct Pair {
  int sv[2] = {-1, -1};
  SSL_CTX* cctx = nullptr;
  SSL* client = nullptr;
  tls::Stream server;

  explicit Pair(int min_version = TLS1_2_VERSION, int max_version = 0, const char* ciphers = nullptr) {
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    nonBlocking(sv[0]);
    nonBlocking(sv[1]);
    cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(cctx, min_version);
    if (max_version) SSL_CTX_set_max_proto_version(cctx, max_version);
    if (ciphers) SSL_CTX_set_cipher_list(cctx, ciphers);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
    client = SSL_new(cctx);
    SSL_set_fd(client, sv[0]);
    SSL_set_connect_state(client);
    server.setFd(sv[1]);
  }
  ~Pair() {
    SSL_free(client);
    SSL_CTX_free(cctx);
    close(sv[0]);
    close(sv[1]);
  }

  // Drives both handshakes; true when both finished, false when either failed.
  bool handshake() {
    bool client_done = false;
    for (int i = 0; i < 100; ++i) {
      if (!client_done) {
        int r = SSL_do_handshake(client);
        if (r == 1)
          client_done = true;
        else {
          int e = SSL_get_error(client, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            // Let the server see the alert / the failure too.
            server.handshake();
            return false;
          }
        }
      }
      tls::Io io = server.handshake();
      if (io == tls::Io::kError || io == tls::Io::kEof) return false;
      if (client_done && io == tls::Io::kOk) return true;
    }
    return false;
  }

  std::string clientRead() {
    std::string out;
    char buf[65536];
    for (int i = 0; i < 50; ++i) {
      int n = SSL_read(client, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (SSL_get_error(client, n) == SSL_ERROR_WANT_READ && !out.empty()) break;
      if (SSL_get_error(client, n) != SSL_ERROR_WANT_READ) break;
    }
    return out;
  }

  std::string serverRead(size_t cap = 65536) {
    std::string buf(cap, '\0');
    size_t n = 0;
    tls::Io io = server.read(buf.data(), cap, &n);
    if (io != tls::Io::kOk) return "";
    buf.resize(n);
    return buf;
  }
};

}  // namespace

TEST_CASE("tls: kNewConn text carries the protocol and the flags") {
  std::string proto;
  auto s = tls::parseConnText("imap+tls+trusted", &proto);
  CHECK(proto == "imap");
  CHECK(s.implicit_tls);
  CHECK(s.starttls);
  CHECK(s.trusted);
  s = tls::parseConnText("pop3", &proto);
  CHECK(proto == "pop3");
  CHECK(!s.implicit_tls);
  CHECK(s.starttls);
  CHECK(!s.trusted);  // trust must be stated
  s = tls::parseConnText("lmtp+notls", &proto);
  CHECK(!s.starttls);
  tls::Security t;
  t.implicit_tls = true;
  t.trusted = false;
  CHECK(tls::connText("imap", t) == "imap+tls");
  t.trusted = true;
  t.starttls = false;
  CHECK(tls::connText("pop3", t) == "pop3+tls+notls+trusted");
}

TEST_CASE("tls: a self-signed pair is generated once, the key private") {
  TempDir d;
  std::string cert = d.path + "/a/tls/cert.pem", key = d.path + "/a/tls/key.pem";
  bool generated = false;
  std::string fp;
  REQUIRE(tls::ensureSelfSigned(cert, key, "mail.example.com", &generated, &fp).ok());
  CHECK(generated);
  CHECK(fp.size() == 32 * 3 - 1);  // AB:CD:... SHA-256
  struct stat st;
  REQUIRE(stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto fp2 = tls::fingerprintOf(cert);
  REQUIRE(fp2.ok());
  CHECK(fp2.value() == fp);
  std::string again;
  REQUIRE(tls::ensureSelfSigned(cert, key, "mail.example.com", &generated, &again).ok());
  CHECK(!generated);
  CHECK(again == fp);
  auto ctx = tls::Context::server(cert, key);
  REQUIRE(ctx.ok());
  CHECK(ctx.value()->fingerprint() == fp);
}

TEST_CASE("tls: a context from missing or mismatched files fails with the file named") {
  auto c = tls::Context::server("/nonexistent/cert.pem", certDir() + "/tls/key.pem");
  REQUIRE(!c.ok());
  CHECK(c.error().message.find("/nonexistent/cert.pem") != std::string::npos);
  TempDir d;
  bool generated = false;
  std::string fp;
  REQUIRE(tls::ensureSelfSigned(d.path + "/c.pem", d.path + "/k.pem", "other", &generated, &fp).ok());
  auto m = tls::Context::server(certDir() + "/tls/cert.pem", d.path + "/k.pem");
  REQUIRE(!m.ok());
  // OpenSSL compares the key with the certificate already while loading it.
  CHECK(m.error().message.find(d.path + "/k.pem") != std::string::npos);
  CHECK(m.error().message.find("mismatch") != std::string::npos);
}

TEST_CASE("tls: handshake and data both ways over a socketpair") {
  Pair p;
  REQUIRE(p.server.startTls(serverContext()).ok());
  CHECK(p.server.tls());
  CHECK(!p.server.handshakeDone());
  // Nothing from the client yet: the handshake waits for the socket to be readable.
  CHECK(p.server.handshake() == tls::Io::kWantRead);
  CHECK(p.server.interest(false, true) == EPOLLIN);
  REQUIRE(p.handshake());
  CHECK(p.server.handshakeDone());
  CHECK(p.server.description().rfind("TLSv1.3 ", 0) == 0);

  size_t n = 0;
  const std::string greeting = "* OK ready\r\n";
  REQUIRE(p.server.write(greeting.data(), greeting.size(), &n) == tls::Io::kOk);
  CHECK(n == greeting.size());
  CHECK(p.clientRead() == greeting);

  // No data: WANT_READ and an EPOLLIN interest.
  char buf[64];
  CHECK(p.server.read(buf, sizeof buf, &n) == tls::Io::kWantRead);
  CHECK(p.server.interest(true, false) == EPOLLIN);
  CHECK(p.server.interest(true, true) == (EPOLLIN | EPOLLOUT));

  // A small read buffer leaves decrypted bytes inside OpenSSL: hasBuffered().
  REQUIRE(SSL_write(p.client, "a NOOP\r\n", 8) == 8);
  CHECK(p.serverRead(3) == "a N");
  CHECK(p.server.hasBuffered());
  CHECK(p.serverRead() == "OOP\r\n");
  CHECK(!p.server.hasBuffered());

  // Clean shutdown: close_notify reads as EOF.
  SSL_shutdown(p.client);
  CHECK(p.server.read(buf, sizeof buf, &n) == tls::Io::kEof);
}

TEST_CASE("tls: a full socket gives WANT_WRITE, and writing resumes once the client reads") {
  Pair p;
  int small = 4096;
  setsockopt(p.sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  REQUIRE(p.server.startTls(serverContext()).ok());
  REQUIRE(p.handshake());
  std::string big(1 << 20, 'x');
  size_t off = 0, n = 0;
  tls::Io io = tls::Io::kOk;
  while (off < big.size()) {
    io = p.server.write(big.data() + off, big.size() - off, &n);
    if (io != tls::Io::kOk) break;
    off += n;  // partial writes: one record at a time
  }
  REQUIRE(io == tls::Io::kWantWrite);
  CHECK(off < big.size());
  CHECK(p.server.interest(false, true) == EPOLLOUT);
  // The client drains; the same (moved) buffer position is retried.
  std::string got;
  while (off < big.size()) {
    got += p.clientRead();
    std::string copy = big;  // ACCEPT_MOVING_WRITE_BUFFER: another address, same bytes
    io = p.server.write(copy.data() + off, copy.size() - off, &n);
    if (io == tls::Io::kOk)
      off += n;
    else
      REQUIRE(io == tls::Io::kWantWrite);
  }
  for (int i = 0; i < 100 && got.size() < big.size(); ++i) got += p.clientRead();
  CHECK(got.size() == big.size());
  CHECK(got == big);
}

TEST_CASE("tls: TLS 1.0 and 1.1 clients are refused") {
  for (int v : {TLS1_VERSION, TLS1_1_VERSION}) {
    CAPTURE(v);
    // SECLEVEL=0 lets the client offer them: the refusal is the server's.
    Pair p(v, v, "DEFAULT@SECLEVEL=0");
    REQUIRE(p.server.startTls(serverContext()).ok());
    CHECK(!p.handshake());
    CHECK(!p.server.handshakeDone());
    CHECK(p.server.lastError().find("TLS handshake failed") == 0);
  }
}

TEST_CASE("tls: min_version 1.3 refuses a TLS 1.2 client and accepts 1.3") {
  {
    Pair p(TLS1_2_VERSION, TLS1_2_VERSION);
    REQUIRE(p.server.startTls(serverContext("1.3")).ok());
    CHECK(!p.handshake());
  }
  {
    Pair p(TLS1_2_VERSION, TLS1_2_VERSION);
    REQUIRE(p.server.startTls(serverContext("1.2")).ok());
    REQUIRE(p.handshake());
    CHECK(p.server.description().rfind("TLSv1.2 ECDHE-", 0) == 0);
  }
}

TEST_CASE("tls: a plaintext stream reads and writes the socket, and STARTTLS upgrades it") {
  Pair p;
  size_t n = 0;
  REQUIRE(p.server.write("+OK\r\n", 5, &n) == tls::Io::kOk);
  char buf[16];
  REQUIRE(read(p.sv[0], buf, sizeof buf) == 5);
  REQUIRE(write(p.sv[0], "STLS\r\n", 6) == 6);
  CHECK(p.serverRead() == "STLS\r\n");
  CHECK(p.server.read(buf, sizeof buf, &n) == tls::Io::kWantRead);
  CHECK(p.server.interest(true, false) == EPOLLIN);
  CHECK(!p.server.startTls(nullptr).ok());  // no certificate: refused, still plaintext
  CHECK(!p.server.tls());
  REQUIRE(p.server.startTls(serverContext()).ok());
  CHECK(!p.server.startTls(serverContext()).ok());  // once only
  REQUIRE(p.handshake());
  REQUIRE(SSL_write(p.client, "CAPA\r\n", 6) == 6);
  CHECK(p.serverRead() == "CAPA\r\n");
}

TEST_CASE("tls: channel-binding data matches the client's (tls-unique on 1.2, tls-exporter on 1.3)") {
  {
    tls::Stream plain(-1);
    CHECK(plain.channelBinding("tls-unique").empty());
  }
  {
    Pair p(TLS1_2_VERSION, TLS1_2_VERSION);
    REQUIRE(p.server.startTls(serverContext()).ok());
    CHECK(p.server.channelBinding("tls-unique").empty());  // before the handshake
    REQUIRE(p.handshake());
    // A full handshake: the first Finished is the client's.
    unsigned char fin[64];
    size_t n = SSL_get_finished(p.client, fin, sizeof fin);
    REQUIRE(n == 12);
    CHECK(p.server.channelBinding("tls-unique") == std::string(reinterpret_cast<char*>(fin), n));
    CHECK(p.server.channelBinding("tls-exporter").empty());
    CHECK(p.server.channelBinding("tls-server-end-point").empty());
  }
  {
    Pair p(TLS1_3_VERSION);
    REQUIRE(p.server.startTls(serverContext()).ok());
    REQUIRE(p.handshake());
    unsigned char ekm[32];
    static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
    REQUIRE(SSL_export_keying_material(p.client, ekm, sizeof ekm, kLabel, sizeof kLabel - 1, nullptr, 0, 0) == 1);
    CHECK(p.server.channelBinding("tls-exporter") == std::string(reinterpret_cast<char*>(ekm), sizeof ekm));
    CHECK(p.server.channelBinding("tls-unique").empty());
  }
}
