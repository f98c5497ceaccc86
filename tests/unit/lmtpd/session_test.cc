// LMTP sessions over a socketpair against the in-memory FakeStore: the
// exact replies a client (Postfix) sees.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "../common/harness.h"
#include "lmtpd/server.h"
#include "lmtpd/session_host.h"

using namespace postern;
using postern::testing::Client;
using postern::testing::LoopThread;

namespace {

class FakeHost : public lmtpd::SessionHost {
 public:
  explicit FakeHost(LoopThread& t) : t_(t) {}
  EventLoop& loop() override { return t_.loop; }
  StoreClient& store() override { return t_.store; }
  const Config& config() const override { return t_.config; }
  std::string hostname() const override { return "mx.test"; }
  void connectionClosed(uint64_t conn) override { closed.push_back(conn); }
  std::vector<uint64_t> closed;

 private:
  LoopThread& t_;
};

struct Fixture {
  Fixture() {
    t.store.users["alice"].password = "pw";
    t.store.users["bob"].password = "pw";
    t.config.message_size_limit = 1000;
    server = std::make_unique<lmtpd::Server>(host);
  }
  ~Fixture() {
    c.close();
    t.stop();
    server.reset();
  }
  void connect() {
    int fd = c.open();
    t.start();
    t.onLoop([&] {
      server->onConnection(fd, 9, "192.0.2.9");
      return 0;
    });
    REQUIRE(c.line() == "220 mx.test Postern LMTP ready\r\n");
  }
  void lhlo() {
    c.write("LHLO relay.test\r\n");
    REQUIRE(c.readUntil("250 SIZE 1000\r\n") ==
            "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE 1000\r\n");
  }
  std::vector<std::string> inbox(const std::string& user) {
    return t.onLoop([&] {
      std::vector<std::string> out;
      for (const auto& m : t.store.inbox(user)) out.push_back(m.body);
      return out;
    });
  }

  LoopThread t;
  FakeHost host{t};
  std::unique_ptr<lmtpd::Server> server;
  Client c;
};

// The stored message minus the Received header's date line.
std::string withoutTrace(const std::string& body) {
  size_t pos = body.find("+0000\r\n");
  return pos == std::string::npos ? body : body.substr(pos + 7);
}

}  // namespace

TEST_CASE("lmtp session: one reply per recipient, 250 only for stored ones") {
  Fixture f;
  f.connect();
  f.lhlo();
  CHECK(f.c.cmd("MAIL FROM:<sender@remote.test> SIZE=100") == "250 2.1.0 Ok\r\n");
  CHECK(f.c.cmd("RCPT TO:<Alice@Example.test>") == "250 2.1.5 <Alice@Example.test> Ok\r\n");
  CHECK(f.c.cmd("RCPT TO:<nobody@example.test>") == "550 5.1.1 <nobody@example.test> User unknown\r\n");
  CHECK(f.c.cmd("RCPT TO:<bob>") == "250 2.1.5 <bob> Ok\r\n");
  CHECK(f.c.cmd("DATA") == "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
  f.c.write("Subject: hi\r\n\r\n..leading dot\nbare lf\r\n.\r\n");
  CHECK(f.c.line() == "250 2.0.0 <Alice@Example.test> Delivered\r\n");
  CHECK(f.c.line() == "250 2.0.0 <bob> Delivered\r\n");
  auto a = f.inbox("alice");
  REQUIRE(a.size() == 1);
  CHECK(a[0].starts_with("Return-Path: <sender@remote.test>\r\nReceived: from relay.test (192.0.2.9)\r\n"
                         "\tby mx.test (Postern) with LMTP id 9-1; "));
  CHECK(withoutTrace(a[0]) == "Subject: hi\r\n\r\n.leading dot\r\nbare lf\r\n");
  CHECK(f.inbox("bob").size() == 1);
  CHECK(f.t.onLoop([&] { return f.t.store.deliver_calls; }) == 1);
  CHECK(f.c.cmd("QUIT") == "221 2.0.0 mx.test closing connection\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.t.onLoop([&] { return f.host.closed; }) == std::vector<uint64_t>{9});
}

TEST_CASE("lmtp session: per-recipient store errors") {
  Fixture f;
  f.t.store.users["carol"].password = "pw";
  f.t.store.deliver_errors["bob"] = ErrorCode::kOverQuota;
  f.t.store.deliver_errors["carol"] = ErrorCode::kUnavailable;
  f.connect();
  f.lhlo();
  f.c.write("MAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nRCPT TO:<carol>\r\nRCPT TO:<alice>\r\nDATA\r\n");
  CHECK(f.c.readUntil("354 Start mail input; end with <CRLF>.<CRLF>\r\n") ==
        "250 2.1.0 Ok\r\n250 2.1.5 <alice> Ok\r\n250 2.1.5 <bob> Ok\r\n250 2.1.5 <carol> Ok\r\n"
        "250 2.1.5 <alice> Ok\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n");
  f.c.write("x\r\n.\r\n");
  CHECK(f.c.readUntil("Delivered\r\n", 5000).size() > 0);
  CHECK(f.c.line() == "552 5.2.2 <bob> Mailbox full\r\n");
  CHECK(f.c.line() == "451 4.3.0 <carol> Temporary failure, try again later\r\n");
  CHECK(f.c.line() == "250 2.0.0 <alice> Delivered\r\n");
  CHECK(f.inbox("alice").size() == 1);  // named twice, stored once
}

TEST_CASE("lmtp session: sequence errors, unknown commands, VRFY") {
  Fixture f;
  f.connect();
  CHECK(f.c.cmd("MAIL FROM:<a@b>") == "503 5.5.1 Send LHLO first\r\n");
  f.lhlo();
  CHECK(f.c.cmd("RCPT TO:<alice>") == "503 5.5.1 MAIL first\r\n");
  CHECK(f.c.cmd("DATA") == "503 5.5.1 MAIL first\r\n");
  CHECK(f.c.cmd("MAIL FROM:<a@b>") == "250 2.1.0 Ok\r\n");
  CHECK(f.c.cmd("MAIL FROM:<a@b>") == "503 5.5.1 Nested MAIL command\r\n");
  CHECK(f.c.cmd("DATA") == "503 5.5.1 No valid recipients\r\n");
  CHECK(f.c.cmd("RSET") == "250 2.0.0 Ok\r\n");
  CHECK(f.c.cmd("RCPT TO:<alice>") == "503 5.5.1 MAIL first\r\n");
  CHECK(f.c.cmd("FROB") == "500 5.5.2 Unknown command\r\n");
  CHECK(f.c.cmd("VRFY alice") == "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  CHECK(f.c.cmd("NOOP") == "250 2.0.0 Ok\r\n");
  CHECK(f.c.cmd(std::string(10000, 'x')) == "500 5.5.2 Line too long\r\n");
  CHECK(f.c.cmd("MAIL FROM:<a@b> SIZE=1001") == "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
}

TEST_CASE("lmtp session: 20 protocol errors in a row end the session with 421") {
  Fixture f;
  f.connect();
  f.lhlo();
  for (int i = 0; i < 19; ++i) CHECK(f.c.cmd("FROB") == "500 5.5.2 Unknown command\r\n");
  CHECK(f.c.cmd("NOOP") == "250 2.0.0 Ok\r\n");  // a success starts the count again
  for (int i = 0; i < 19; ++i) CHECK(f.c.cmd("DATA") == "503 5.5.1 MAIL first\r\n");
  f.c.write("FROB\r\n");
  CHECK(f.c.line() == "500 5.5.2 Unknown command\r\n");
  CHECK(f.c.line() == "421 4.7.0 mx.test Too many errors, closing connection\r\n");
  CHECK(f.c.closedByPeer());
}

TEST_CASE("lmtp session: more than 1000 recipients get 452 4.5.3") {
  Fixture f;
  f.connect();
  f.lhlo();
  CHECK(f.c.cmd("MAIL FROM:<a@b>") == "250 2.1.0 Ok\r\n");
  std::string in;
  for (int i = 0; i < 1001; ++i) in += "RCPT TO:<alice>\r\n";
  f.c.write(in);
  for (int i = 0; i < 1000; ++i) REQUIRE(f.c.line() == "250 2.1.5 <alice> Ok\r\n");
  CHECK(f.c.line() == "452 4.5.3 Too many recipients\r\n");
}

TEST_CASE("lmtp session: accepted domains") {
  Fixture f;
  f.t.config.lmtp_domains = {"example.test"};
  f.connect();
  f.lhlo();
  CHECK(f.c.cmd("MAIL FROM:<a@b>") == "250 2.1.0 Ok\r\n");
  CHECK(f.c.cmd("RCPT TO:<alice@other.test>") ==
        "550 5.1.1 <alice@other.test> Recipient domain not accepted here\r\n");
  CHECK(f.c.cmd("RCPT TO:<alice@EXAMPLE.test>") == "250 2.1.5 <alice@EXAMPLE.test> Ok\r\n");
}

TEST_CASE("lmtp session: too big a message gets 552 per recipient and the session goes on") {
  Fixture f;
  f.connect();
  f.lhlo();
  f.c.write("MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nDATA\r\n");
  CHECK(f.c.readUntil("354 Start mail input; end with <CRLF>.<CRLF>\r\n").size() > 0);
  std::string big;
  while (big.size() < 5000) big += std::string(60, 'z') + "\r\n";
  f.c.write(big + ".\r\nNOOP\r\n");
  CHECK(f.c.line() == "552 5.3.4 <alice> Message too big for system\r\n");
  CHECK(f.c.line() == "552 5.3.4 <bob> Message too big for system\r\n");
  CHECK(f.c.line() == "250 2.0.0 Ok\r\n");
  CHECK(f.inbox("alice").empty());
  CHECK(f.t.onLoop([&] { return f.t.store.deliver_calls; }) == 0);
}

TEST_CASE("lmtp session: store unavailable gives 451, and recovery") {
  Fixture f;
  f.connect();
  f.lhlo();
  CHECK(f.c.cmd("MAIL FROM:<a@b>") == "250 2.1.0 Ok\r\n");
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kUnavailable; });
  CHECK(f.c.cmd("RCPT TO:<alice>") == "451 4.3.0 Temporary failure, try again later\r\n");
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kOk; });
  CHECK(f.c.cmd("RCPT TO:<alice>") == "250 2.1.5 <alice> Ok\r\n");
  CHECK(f.c.cmd("DATA") == "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
  f.t.onLoop([&] { return f.t.store.fail_all = ErrorCode::kUnavailable; });
  CHECK(f.c.cmd("x\r\n.") == "451 4.3.0 <alice> Temporary failure, try again later\r\n");
  CHECK(f.inbox("alice").empty());
}

TEST_CASE("lmtp session: shutdown") {
  Fixture f;
  f.connect();
  f.lhlo();
  f.t.onLoop([&] {
    f.server->shutdown();
    return 0;
  });
  CHECK(f.c.line() == "421 4.3.2 Service shutting down\r\n");
  CHECK(f.c.closedByPeer());
  CHECK(f.t.onLoop([&] { return f.host.closed; }) == std::vector<uint64_t>{9});
}

TEST_CASE("lmtp session: idle timeout says 421 and closes") {
  Fixture f;
  f.t.config.lmtp_timeout_s = 1;
  f.connect();
  f.lhlo();
  CHECK(f.c.line() == "421 4.4.2 mx.test Timeout exceeded, closing connection\r\n");
  CHECK(f.c.closedByPeer());
}

TEST_CASE("lmtp session: a recipient seen to exist costs no store lookup again; a deleted one gets 550") {
  Fixture f;
  f.connect();
  f.lhlo();
  auto lookups = [&] { return f.t.onLoop([&] { return f.t.store.user_exists_calls; }); };
  auto deliverTo = [&](const std::string& rcpt) {
    CHECK(f.c.cmd("MAIL FROM:<a@b>") == "250 2.1.0 Ok\r\n");
    std::string r = f.c.cmd("RCPT TO:<" + rcpt + ">");
    if (!r.starts_with("250 ")) {
      CHECK(f.c.cmd("RSET") == "250 2.0.0 Ok\r\n");
      return r;
    }
    CHECK(f.c.cmd("DATA") == "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    return f.c.cmd("x\r\n.");
  };
  CHECK(deliverTo("alice") == "250 2.0.0 <alice> Delivered\r\n");
  CHECK(lookups() == 1);
  CHECK(deliverTo("alice") == "250 2.0.0 <alice> Delivered\r\n");
  CHECK(deliverTo("Alice@example.test") == "250 2.0.0 <Alice@example.test> Delivered\r\n");
  CHECK(lookups() == 1);  // the same user: remembered
  CHECK(f.inbox("alice").size() == 3);
  // Unknown users are asked for every time (one added meanwhile is found).
  CHECK(deliverTo("carol") == "550 5.1.1 <carol> User unknown\r\n");
  f.t.onLoop([&] { return f.t.store.users["carol"].password = "pw"; });
  CHECK(deliverTo("carol") == "250 2.0.0 <carol> Delivered\r\n");
  CHECK(lookups() == 3);
  // Deleted after it was remembered: RCPT still says 250, the delivery is
  // refused for it (nothing stored, nothing lost), and it is forgotten.
  f.t.onLoop([&] { return f.t.store.users.erase("alice"); });
  CHECK(deliverTo("alice") == "550 5.1.1 <alice> User unknown\r\n");
  CHECK(lookups() == 3);
  CHECK(deliverTo("alice") == "550 5.1.1 <alice> User unknown\r\n");
  CHECK(lookups() == 4);
}
