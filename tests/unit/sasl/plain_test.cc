// PLAIN, LOGIN, EXTERNAL, base64 and the Exchange rules (initial response,
// cancel, bounds, additional data with success).
#include <memory>
#include <optional>

#include "doctest/doctest.h"
#include "fake_lookup.h"
#include "sasl/base64.h"
#include "sasl/exchange.h"
#include "sasl/plain.h"

using namespace postern;
using namespace postern::sasl;
using postern::sasl::test::FakeLookup;
using Kind = Outcome::Kind;

namespace {

struct Run {
  std::shared_ptr<FakeLookup> lookup = std::make_shared<FakeLookup>();
  Context ctx;
  std::shared_ptr<Exchange> ex;
  std::optional<Outcome> last;

  Run() {
    ctx.plaintext_allowed = true;
    lookup->users["alice"] = {"secret"};
  }
  Outcome begin(std::string_view mech, std::optional<std::string_view> ir = std::nullopt) {
    auto m = create(mech, ctx, lookup);
    REQUIRE(m.ok());
    ex = std::make_shared<Exchange>(*m);
    last.reset();
    ex->begin(ir, [this](Outcome o) { last = std::move(o); });
    REQUIRE(last.has_value());
    return *last;
  }
  Outcome line(std::string_view text) {
    last.reset();
    ex->respond(text, [this](Outcome o) { last = std::move(o); });
    REQUIRE(last.has_value());
    return *last;
  }
};

std::string b64(std::string_view s) { return encodeBase64(s); }
std::string nul3(const char* a, const char* b, const char* c) { return std::string(a) + '\0' + b + '\0' + c; }

}  // namespace

TEST_CASE("sasl base64: strict RFC 4648 decoding") {
  CHECK(encodeBase64("") == "");
  CHECK(encodeBase64("f") == "Zg==");
  CHECK(encodeBase64("fo") == "Zm8=");
  CHECK(encodeBase64("foo") == "Zm9v");
  CHECK(encodeBase64(std::string("\0\xff", 2)) == "AP8=");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    CHECK(decodeBase64(encodeBase64(s)) == s);
  const char* bad[] = {"Zg",       "Zg=",   "Z===",  "====", "Zh==", "Zm9=", "Zg==Zg==",
                       "Zm9v\r\n", " Zm9v", "Zm9v=", "Zm-v", "Zm_v", "Z=9v", "Zm=v"};
  for (const char* b : bad) {
    CAPTURE(b);
    CHECK_FALSE(decodeBase64(b).has_value());
  }
}

TEST_CASE("sasl plain: message syntax (RFC 4616)") {
  auto m = parsePlain(nul3("", "alice", "pw"));
  REQUIRE(m.has_value());
  CHECK(m->authzid.empty());
  CHECK(m->authcid == "alice");
  CHECK(m->password == "pw");
  CHECK(parsePlain(nul3("bob", "alice", "p w")).value().authzid == "bob");
  CHECK_FALSE(parsePlain("alice").has_value());
  CHECK_FALSE(parsePlain(std::string("alice\0pw", 8)).has_value());
  CHECK_FALSE(parsePlain(nul3("", "", "pw")).has_value());
  CHECK_FALSE(parsePlain(nul3("", "alice", "")).has_value());
  CHECK_FALSE(parsePlain(nul3("", "alice", "pw") + '\0').has_value());
}

TEST_CASE("sasl plain: success, wrong password, unknown user, proxy authorisation") {
  Run r;
  Outcome o = r.begin("PLAIN", b64(nul3("", "Alice", "secret")));
  CHECK(o.kind == Kind::kSuccess);
  CHECK(o.user == "alice");

  o = r.begin("PLAIN", b64(nul3("alice", "alice", "secret")));
  CHECK(o.kind == Kind::kSuccess);

  o = r.begin("PLAIN", b64(nul3("", "alice", "wrong")));
  CHECK(o.kind == Kind::kFailed);
  CHECK(o.user == "alice");
  Outcome unknown = r.begin("PLAIN", b64(nul3("", "nobody", "secret")));
  CHECK(unknown.kind == Kind::kFailed);

  o = r.begin("PLAIN", b64(nul3("bob", "alice", "secret")));
  CHECK(o.kind == Kind::kAuthzFailed);

  // Without an initial response the server sends an empty challenge first.
  o = r.begin("PLAIN");
  CHECK(o.kind == Kind::kChallenge);
  CHECK(o.data.empty());
  o = r.line(b64(nul3("", "alice", "secret")));
  CHECK(o.kind == Kind::kSuccess);
}

TEST_CASE("sasl plain: malformed responses and the store failing") {
  Run r;
  CHECK(r.begin("PLAIN", "=").kind == Kind::kMalformed);  // empty initial response
  CHECK(r.begin("PLAIN", "not base64!").kind == Kind::kMalformed);
  CHECK(r.begin("PLAIN", b64("alice")).kind == Kind::kMalformed);
  CHECK(r.begin("PLAIN", b64(nul3("", std::string(300, 'a').c_str(), "pw"))).kind == Kind::kFailed);
  r.lookup->fail = Error{ErrorCode::kUnavailable, "down"};
  Outcome o = r.begin("PLAIN", b64(nul3("", "alice", "secret")));
  CHECK(o.kind == Kind::kError);
  CHECK(o.error.code == ErrorCode::kUnavailable);
}

TEST_CASE("sasl plain: a protocol disabled for the user is an error, not a failure") {
  Run r;
  r.lookup->users["alice"].denied = true;
  Outcome o = r.begin("PLAIN", b64(nul3("", "alice", "secret")));
  CHECK(o.kind == Kind::kError);
  CHECK(o.error.code == ErrorCode::kDenied);
}

TEST_CASE("sasl login: Username:/Password: challenges, with and without an initial response") {
  Run r;
  Outcome o = r.begin("LOGIN");
  CHECK(o.kind == Kind::kChallenge);
  CHECK(o.data == "Username:");
  o = r.line(b64("alice"));
  CHECK(o.kind == Kind::kChallenge);
  CHECK(o.data == "Password:");
  o = r.line(b64("secret"));
  CHECK(o.kind == Kind::kSuccess);
  CHECK(o.user == "alice");
  CHECK(r.ex->finished());
  CHECK(r.line(b64("more")).kind == Kind::kMalformed);

  o = r.begin("LOGIN", b64("alice"));
  CHECK(o.data == "Password:");
  CHECK(r.line(b64("wrong")).kind == Kind::kFailed);

  o = r.begin("LOGIN");
  CHECK(r.line("").kind == Kind::kFailed);  // empty user name
}

TEST_CASE("sasl exchange: cancel, bounds, and lines without a challenge") {
  Run r;
  r.begin("LOGIN");
  CHECK(r.line("*").kind == Kind::kCancelled);
  CHECK(r.ex->finished());

  r.begin("LOGIN");
  CHECK(r.line(std::string(Exchange::kMaxLine + 4, 'A')).kind == Kind::kMalformed);

  r.begin("LOGIN");
  CHECK(r.line("YWxp Y2U=").kind == Kind::kMalformed);

  // A response after the final outcome.
  r.begin("PLAIN", b64(nul3("", "alice", "secret")));
  CHECK(r.line(b64("x")).kind == Kind::kMalformed);
}

TEST_CASE("sasl external: the certificate's identity, optionally named again") {
  Run r;
  r.ctx.external_identity = "Alice";
  Outcome o = r.begin("EXTERNAL", "=");
  CHECK(o.kind == Kind::kSuccess);
  CHECK(o.user == "alice");
  o = r.begin("EXTERNAL", b64("alice"));
  CHECK(o.kind == Kind::kSuccess);
  o = r.begin("EXTERNAL", b64("bob"));
  CHECK(o.kind == Kind::kAuthzFailed);
  o = r.begin("EXTERNAL");
  CHECK(o.kind == Kind::kChallenge);
  CHECK(r.line("").kind == Kind::kSuccess);
  r.ctx.external_identity = "mallory";
  CHECK(r.begin("EXTERNAL", "=").kind == Kind::kFailed);
}
