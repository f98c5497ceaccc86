// SCRAM (RFC 5802, RFC 7677): the RFC example exchanges byte for byte,
// the parsers' strictness, channel binding and the failure paths.
#include <memory>
#include <optional>

#include "doctest/doctest.h"
#include "fake_lookup.h"
#include "sasl/base64.h"
#include "sasl/exchange.h"
#include "sasl/scram.h"

using namespace postern;
using namespace postern::sasl;
using postern::sasl::test::FakeLookup;
using Kind = Outcome::Kind;

namespace {

std::string b64(std::string_view s) { return encodeBase64(s); }
std::string unb64(std::string_view s) { return decodeBase64(s).value(); }

// Drives one Exchange and records the last outcome.
struct Driver {
  std::shared_ptr<FakeLookup> lookup = std::make_shared<FakeLookup>();
  Context ctx;
  std::shared_ptr<Exchange> ex;
  std::optional<Outcome> last;

  void start(std::string_view mech, std::optional<std::string_view> ir = std::nullopt) {
    auto m = create(mech, ctx, lookup);
    REQUIRE(m.ok());
    ex = std::make_shared<Exchange>(*m);
    last.reset();
    ex->begin(ir, [this](Outcome o) { last = std::move(o); });
  }
  // Sends one line (base64 of `raw`), returns the outcome.
  Outcome send(std::string_view raw) { return line(b64(raw)); }
  Outcome line(std::string_view text) {
    last.reset();
    ex->respond(text, [this](Outcome o) { last = std::move(o); });
    REQUIRE(last.has_value());
    return *last;
  }
};

// A client side, for the exchanges that are not RFC vectors.
struct Client {
  ScramHash h = ScramHash::kSha256;
  std::string user = {}, password = {}, gs2 = "n,,", cbdata = {}, cnonce = "clientnonce123";
  std::string first_bare() const { return "n=" + scram::encodeSaslname(user) + ",r=" + cnonce; }
  std::string first() const { return gs2 + first_bare(); }
  std::string final(const std::string& server_first, std::string* server_sig = nullptr) const {
    // server_first: r=...,s=...,i=...
    std::string nonce = server_first.substr(2, server_first.find(',') - 2);
    size_t s = server_first.find(",s=") + 3;
    std::string salt = unb64(server_first.substr(s, server_first.find(",i=") - s));
    uint32_t iters = uint32_t(std::stoul(server_first.substr(server_first.find(",i=") + 3)));
    std::string without = "c=" + b64(gs2 + cbdata) + ",r=" + nonce;
    std::string salted = scram::saltedPassword(h, password, salt, iters);
    std::string ck = scram::hmac(h, salted, "Client Key");
    std::string am = first_bare() + "," + server_first + "," + without;
    std::string sig = scram::hmac(h, scram::hash(h, ck), am);
    std::string proof(ck.size(), '\0');
    for (size_t i = 0; i < ck.size(); ++i) proof[i] = char(ck[i] ^ sig[i]);
    if (server_sig) *server_sig = "v=" + b64(scram::hmac(h, scram::hmac(h, salted, "Server Key"), am));
    return without + ",p=" + b64(proof);
  }
};

}  // namespace

TEST_CASE("sasl scram: the RFC 5802 SCRAM-SHA-1 example, exact messages") {
  Driver d;
  d.lookup->users["user"] = {"pencil", unb64("QSXCR+Q6sek8bf92"), 4096};
  d.ctx.nonce = [] { return std::string("3rfcNHYJY1ZVvWVs7j"); };
  d.start("SCRAM-SHA-1");
  REQUIRE(d.last->kind == Kind::kChallenge);
  CHECK(d.last->data.empty());
  Outcome o = d.send("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  REQUIRE(o.kind == Kind::kChallenge);
  CHECK(o.data == "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  o = d.send("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
  REQUIRE(o.kind == Kind::kChallenge);  // additional data with success, as a challenge
  CHECK(o.data == "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
  o = d.line("");
  CHECK(o.kind == Kind::kSuccess);
  CHECK(o.user == "user");
  CHECK(d.ex->finished());
}

TEST_CASE("sasl scram: the RFC 7677 SCRAM-SHA-256 example, exact messages, with SASL-IR") {
  Driver d;
  d.lookup->users["user"] = {"pencil", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096};
  d.ctx.nonce = [] { return std::string("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"); };
  std::string ir = b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  d.start("scram-sha-256", ir);
  REQUIRE(d.last->kind == Kind::kChallenge);
  CHECK(d.last->data ==
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  Outcome o = d.send(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  REQUIRE(o.kind == Kind::kChallenge);
  CHECK(o.data == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  CHECK(d.line("").kind == Kind::kSuccess);
}

TEST_CASE("sasl scram: key derivation matches the RFC 5802 example") {
  auto k = scram::deriveKeys(ScramHash::kSha1, "pencil", unb64("QSXCR+Q6sek8bf92"), 4096);
  CHECK(k.stored_key.size() == 20);
  CHECK(k.server_key.size() == 20);
  // ServerSignature of the example's AuthMessage with this ServerKey.
  std::string am =
      "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
      "i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
  CHECK(b64(scram::hmac(ScramHash::kSha1, k.server_key, am)) == "rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

TEST_CASE("sasl scram: a wrong password and an unknown user fail the same way") {
  for (const char* who : {"alice", "nobody"}) {
    CAPTURE(who);
    Driver d;
    d.lookup->users["alice"] = {"right"};
    d.start("SCRAM-SHA-256");
    Client c{ScramHash::kSha256, who, "wrong"};
    Outcome o = d.send(c.first());
    REQUIRE(o.kind == Kind::kChallenge);
    o = d.send(c.final(o.data));
    CHECK(o.kind == Kind::kFailed);
    CHECK(o.why == "invalid-proof");
    CHECK(o.user == who);
  }
}

TEST_CASE("sasl scram: a client implementation with escaped names and authzid") {
  Driver d;
  d.lookup->users["a,b=c"] = {"s3cret"};
  d.start("SCRAM-SHA-1");
  Client c{ScramHash::kSha1, "a,b=c", "s3cret"};
  c.gs2 = "n,a=" + scram::encodeSaslname("A,B=C") + ",";
  CHECK(c.first() == "n,a=A=2CB=3DC,n=a=2Cb=3Dc,r=clientnonce123");
  Outcome o = d.send(c.first());
  REQUIRE(o.kind == Kind::kChallenge);
  std::string want_v;
  o = d.send(c.final(o.data, &want_v));
  REQUIRE(o.kind == Kind::kChallenge);
  CHECK(o.data == want_v);
  o = d.line("");
  CHECK(o.kind == Kind::kSuccess);
  CHECK(o.user == "a,b=c");
}

TEST_CASE("sasl scram: acting as another user is refused before any lookup") {
  Driver d;
  d.lookup->users["alice"] = {"pw"};
  d.start("SCRAM-SHA-256");
  Outcome o = d.send("n,a=bob,n=alice,r=abc");
  CHECK(o.kind == Kind::kAuthzFailed);
  CHECK(d.lookup->asked.empty());
}

TEST_CASE("sasl scram: a correct proof for a user without this protocol is kDenied, a wrong one just fails") {
  for (bool right : {true, false}) {
    Driver d;
    d.lookup->users["alice"] = {"pw"};
    d.lookup->users["alice"].denied = true;
    d.start("SCRAM-SHA-256");
    Client c{ScramHash::kSha256, "alice", right ? "pw" : "nope"};
    Outcome o = d.send(c.first());
    o = d.send(c.final(o.data));
    if (right) {
      CHECK(o.kind == Kind::kError);
      CHECK(o.error.code == ErrorCode::kDenied);
    } else {
      CHECK(o.kind == Kind::kFailed);
    }
  }
}

TEST_CASE("sasl scram: tampering with the final message fails") {
  Driver base;
  base.lookup->users["alice"] = {"pw"};
  Client c{ScramHash::kSha256, "alice", "pw"};
  struct Case {
    const char* name;
    std::function<std::string(std::string)> edit;
    Kind want;
  };
  std::vector<Case> cases = {
      {"other nonce", [](std::string m) { return m.replace(m.find(",r=") + 3, 1, "X"); }, Kind::kFailed},
      {"c= says y", [](std::string m) { return m.replace(2, 4, b64("y,,")); }, Kind::kFailed},
      {"proof flipped",
       [](std::string m) {
         size_t p = m.find(",p=") + 3;
         m[p] = m[p] == 'A' ? 'B' : 'A';
         return m;
       },
       Kind::kFailed},
      {"proof too short", [](std::string m) { return m.substr(0, m.find(",p=")) + ",p=" + b64("short"); },
       Kind::kFailed},
      {"no proof", [](std::string m) { return m.substr(0, m.find(",p=")); }, Kind::kMalformed},
      {"proof not last", [](std::string m) { return m + ",x=1"; }, Kind::kMalformed},
      {"bad extension", [](std::string m) { return m.insert(m.find(",p="), ",12"); }, Kind::kMalformed},
      {"c= missing", [](std::string m) { return m.substr(m.find(",r=") + 1); }, Kind::kMalformed},
      {"NUL", [](std::string m) { return m.insert(3, std::string(1, '\0')); }, Kind::kMalformed},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.name);
    Driver d;
    d.lookup = base.lookup;
    d.start("SCRAM-SHA-256");
    Outcome o = d.send(c.first());
    REQUIRE(o.kind == Kind::kChallenge);
    o = d.send(tc.edit(c.final(o.data)));
    CHECK(o.kind == tc.want);
    CHECK(d.ex->finished());
  }
}

TEST_CASE("sasl scram: strict client-first-message parsing") {
  const char* bad[] = {
      "",                         // nothing
      "n,,",                      // no bare message
      "x,,n=u,r=abc",             // unknown cbind flag
      "p=,,n=u,r=abc",            // empty cb-name
      "p=tls unique,,n=u,r=abc",  // bad cb-name
      "n,b=u,n=u,r=abc",          // authzid without a=
      "n,a=,n=u,r=abc",           // empty authzid
      "n,,n=,r=abc",              // empty user
      "n,,n=u=2c,r=abc",          // lower-case escape
      "n,,n=u=,r=abc",            // bare '='
      "n,,n=u=41,r=abc",          // unknown escape
      "n,,r=abc,n=u",             // order
      "n,,n=u",                   // no nonce
      "n,,n=u,r=",                // empty nonce
      "n,,n=u,r=a\x7f"
      "b",                 // unprintable nonce
      "n,,n=u,r=abc,",     // empty extension
      "n,,n=u,r=abc,1=x",  // extension name not ALPHA
      "n,,n=u,r=abc,x",    // extension without value
      "n,,m=x,n=u,r=abc",  // mandatory extension
  };
  for (const char* b : bad) {
    CAPTURE(b);
    std::string why;
    CHECK_FALSE(scram::parseClientFirst(b, &why).has_value());
    CHECK_FALSE(why.empty());
  }
  std::string why;
  CHECK(scram::parseClientFirst("n,,m=x,n=u,r=abc", &why) == std::nullopt);
  CHECK(why == "extensions-not-supported");
  CHECK(scram::parseClientFirst(std::string("n,,n=u\0x,r=abc", 15), &why) == std::nullopt);
  CHECK(scram::parseClientFirst("n,,n=u,r=" + std::string(scram::kMaxNonce + 1, 'a'), &why) == std::nullopt);

  auto ok = scram::parseClientFirst("p=tls-unique,a=b=2Cc,n=u=3D,r=abc,x=ext", &why);
  REQUIRE(ok.has_value());
  CHECK(ok->cbind_flag == 'p');
  CHECK(ok->cbind_name == "tls-unique");
  CHECK(ok->authzid == "b,c");
  CHECK(ok->gs2_header == "p=tls-unique,a=b=2Cc,");
  CHECK(ok->bare == "n=u=3D,r=abc,x=ext");
  CHECK(ok->user == "u=");
  CHECK(ok->nonce == "abc");
}

TEST_CASE("sasl scram: saslname escaping") {
  CHECK(scram::decodeSaslname("a=2Cb=3Dc").value() == "a,b=c");
  CHECK(scram::encodeSaslname("a,b=c") == "a=2Cb=3Dc");
  CHECK_FALSE(scram::decodeSaslname("a=2").has_value());
  CHECK_FALSE(scram::decodeSaslname("a=").has_value());
  CHECK_FALSE(scram::decodeSaslname("a,b").has_value());
  CHECK_FALSE(scram::decodeSaslname("=3d").has_value());
}

TEST_CASE("sasl scram: the exchange is refused when the store cannot answer or answers nonsense") {
  Driver d;
  d.lookup->fail = Error{ErrorCode::kUnavailable, "stored down"};
  d.start("SCRAM-SHA-1");
  Outcome o = d.send("n,,n=alice,r=abc");
  CHECK(o.kind == Kind::kError);
  CHECK(o.error.code == ErrorCode::kUnavailable);

  Driver e;
  e.lookup->users["alice"] = {"pw"};
  e.lookup->users["alice"].iterations = 1000;  // below RFC 7677's minimum
  e.start("SCRAM-SHA-1");
  o = e.send("n,,n=alice,r=abc");
  CHECK(o.kind == Kind::kError);
  CHECK(o.error.code == ErrorCode::kCorrupt);
}

TEST_CASE("sasl scram: the lookup may answer later; a dropped exchange is harmless") {
  Driver d;
  d.lookup->users["alice"] = {"pw"};
  d.lookup->deferred = true;
  d.start("SCRAM-SHA-256");
  d.last.reset();
  d.ex->respond(b64("n,,n=alice,r=abc"), [&](Outcome o) { d.last = std::move(o); });
  CHECK_FALSE(d.last.has_value());
  d.lookup->runPending();
  REQUIRE(d.last.has_value());
  CHECK(d.last->kind == Kind::kChallenge);

  // The session goes away while stored is still answering.
  bool called = false;
  {
    auto m = create("SCRAM-SHA-256", d.ctx, d.lookup);
    auto ex = std::make_shared<Exchange>(*m);
    ex->begin(b64("n,,n=alice,r=abc"), [&](Outcome) { called = true; });
  }
  d.lookup->runPending();
  CHECK(called);  // the callback still runs once; the protocol ignores it when its session is gone
}

TEST_CASE("sasl scram-plus: tls-unique and tls-exporter channel bindings") {
  const std::string unique = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";
  const std::string exporter(32, '\x5a');
  struct Case {
    const char* name;
    std::string tls_unique, tls_exporter;
    const char* mech;
    std::string gs2;
    std::string cbdata;  // what the client puts after the gs2 header
    Kind want_first;     // after client-first
    Kind want_final;     // after client-final (if the first was a challenge)
  };
  std::vector<Case> cases = {
      {"tls-unique", unique, "", "SCRAM-SHA-256-PLUS", "p=tls-unique,,", unique, Kind::kChallenge,
       Kind::kChallenge},
      {"tls-exporter", "", exporter, "SCRAM-SHA-1-PLUS", "p=tls-exporter,,", exporter, Kind::kChallenge,
       Kind::kChallenge},
      {"other data", unique, "", "SCRAM-SHA-256-PLUS", "p=tls-unique,,", "\x01\x02", Kind::kChallenge,
       Kind::kFailed},
      {"type not offered", unique, "", "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", exporter, Kind::kFailed,
       Kind::kFailed},
      {"unknown type", unique, "", "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", "x", Kind::kFailed,
       Kind::kFailed},
      {"PLUS without binding", unique, "", "SCRAM-SHA-256-PLUS", "n,,", "", Kind::kFailed, Kind::kFailed},
      {"binding without PLUS", unique, "", "SCRAM-SHA-256", "p=tls-unique,,", unique, Kind::kFailed,
       Kind::kFailed},
      {"y while we bind: downgrade", unique, "", "SCRAM-SHA-256", "y,,", "", Kind::kFailed, Kind::kFailed},
      {"y without TLS", "", "", "SCRAM-SHA-256", "y,,", "", Kind::kChallenge, Kind::kChallenge},
      {"n over TLS", unique, "", "SCRAM-SHA-256", "n,,", "", Kind::kChallenge, Kind::kChallenge},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.name);
    Driver d;
    d.lookup->users["alice"] = {"pw"};
    d.ctx.tls_unique = tc.tls_unique;
    d.ctx.tls_exporter = tc.tls_exporter;
    d.start(tc.mech);
    Client c{std::string(tc.mech).find("SHA-1") != std::string::npos ? ScramHash::kSha1 : ScramHash::kSha256,
             "alice", "pw"};
    c.gs2 = tc.gs2;
    c.cbdata = tc.cbdata;
    Outcome o = d.send(c.first());
    CHECK(o.kind == tc.want_first);
    if (o.kind != Kind::kChallenge) continue;
    o = d.send(c.final(o.data));
    CHECK(o.kind == tc.want_final);
    if (o.kind == Kind::kChallenge) CHECK(d.line("").kind == Kind::kSuccess);
  }
}

TEST_CASE("sasl: which mechanisms a connection offers") {
  Context ctx;
  CHECK(advertised(ctx) == std::vector<std::string>{"SCRAM-SHA-256", "SCRAM-SHA-1"});
  ctx.plaintext_allowed = true;
  CHECK(advertised(ctx) == std::vector<std::string>{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN"});
  ctx.tls_unique = "x";
  CHECK(advertised(ctx) == std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
                                                    "SCRAM-SHA-1", "PLAIN", "LOGIN"});
  Context handshaking;
  handshaking.tls = true;  // -PLUS offered before the handshake has finished
  CHECK(advertised(handshaking).front() == "SCRAM-SHA-256-PLUS");
  ctx.external_identity = "alice";
  CHECK(advertised(ctx).front() == "EXTERNAL");

  auto lookup = std::make_shared<FakeLookup>();
  Context plain;
  CHECK(create("PLAIN", plain, lookup).error().code == ErrorCode::kDenied);
  CHECK(create("login", plain, lookup).error().code == ErrorCode::kDenied);
  CHECK(create("SCRAM-SHA-256-PLUS", plain, lookup).error().code == ErrorCode::kNotFound);
  CHECK(create("EXTERNAL", plain, lookup).error().code == ErrorCode::kNotFound);
  CHECK(create("CRAM-MD5", plain, lookup).error().code == ErrorCode::kNotFound);
  CHECK(create("SCRAM-SHA-1", plain, lookup).ok());
  CHECK(isPlaintext("Plain"));
  CHECK_FALSE(isPlaintext("SCRAM-SHA-1"));
}
