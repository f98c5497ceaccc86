// Fuzz target: the SASL server library (common/sasl) as the protocols drive
// it: one Exchange per input, its lines fed one by one, with an in-memory
// credential lookup; plus the SCRAM / PLAIN parsers and base64 on the raw
// input.
//
// Input (corpus/sasl, make_corpus.py): LF-separated lines, one CR before LF
// dropped: the mechanism name; the initial response as a client sends it
// ("-": none, "=": empty); then each client response as sent (base64, "*").
// The connection offers TLS with tls-unique data "tls-unique-binding-data",
// allows plaintext, has the certificate identity "user"; the lookup knows
// user / pencil with salt "saltsalt", 4096 iterations; the server nonce is
// "srvnonce".
// Invariants: every call answers exactly once, synchronously here; after a
// final outcome only kMalformed / kCancelled come back; success only as a
// real user; challenges stay small; every parser's output re-assembles into
// its input.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "sasl/base64.h"
#include "sasl/exchange.h"
#include "sasl/plain.h"
#include "sasl/scram.h"

namespace {

using namespace postern;
using namespace postern::sasl;

class Lookup : public CredentialLookup {
 public:
  void verifyPassword(const std::string& authcid, const std::string& password, UserCallback cb) override {
    if (authcid == "user" && password == "pencil") return cb(std::string("user"));
    cb(Error{ErrorCode::kAuthFailed, "no"});
  }
  void scramCredentials(const std::string& authcid, ScramHash h, ScramCallback cb) override {
    static const std::map<ScramHash, scram::Keys> keys = {
        {ScramHash::kSha1, scram::deriveKeys(ScramHash::kSha1, "pencil", "saltsalt", 4096)},
        {ScramHash::kSha256, scram::deriveKeys(ScramHash::kSha256, "pencil", "saltsalt", 4096)},
    };
    ScramCredentials c;
    bool known = authcid == "user";
    c.user = known ? "user" : "nobody";
    c.salt = "saltsalt";
    c.iterations = 4096;
    c.stored_key = known ? keys.at(h).stored_key : std::string(scram::hashLen(h), 'x');
    c.server_key = known ? keys.at(h).server_key : std::string(scram::hashLen(h), 'y');
    cb(c);
  }
  void externalUser(const std::string& identity, UserCallback cb) override {
    if (identity == "user") return cb(std::string("user"));
    cb(Error{ErrorCode::kAuthFailed, "no"});
  }
};

std::vector<std::string> splitLines(std::string_view in) {
  std::vector<std::string> out;
  while (!in.empty()) {
    size_t lf = in.find('\n');
    std::string_view line = in.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.emplace_back(line);
    if (lf == std::string_view::npos) break;
    in.remove_prefix(lf + 1);
  }
  return out;
}

void checkParsers(std::string_view s) {
  if (auto d = decodeBase64(s)) FUZZ_CHECK(encodeBase64(*d) == s);
  if (auto n = scram::decodeSaslname(s)) FUZZ_CHECK(scram::encodeSaslname(*n) == s);
  std::string why;
  if (auto cf = scram::parseClientFirst(s, &why)) {
    FUZZ_CHECK(why.empty());
    FUZZ_CHECK(cf->gs2_header + cf->bare == s);
    FUZZ_CHECK(!cf->user.empty() && !cf->nonce.empty() && cf->nonce.size() <= scram::kMaxNonce);
    FUZZ_CHECK(cf->cbind_flag == 'n' || cf->cbind_flag == 'y' || cf->cbind_flag == 'p');
    FUZZ_CHECK((cf->cbind_flag == 'p') == !cf->cbind_name.empty());
  } else {
    FUZZ_CHECK(!why.empty());
  }
  if (auto cf = scram::parseClientFinal(s, &why)) {
    FUZZ_CHECK(cf->without_proof + ",p=" + encodeBase64(cf->proof) == s);
    FUZZ_CHECK(cf->without_proof.rfind("c=", 0) == 0);
  }
  if (auto p = parsePlain(s)) {
    FUZZ_CHECK(p->authzid + '\0' + p->authcid + '\0' + p->password == s);
    FUZZ_CHECK(!p->authcid.empty() && !p->password.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines = splitLines(input);
  if (lines.empty()) return 0;
  for (const auto& l : lines) {
    checkParsers(l);
    if (auto d = decodeBase64(l)) checkParsers(*d);
  }

  Context ctx;
  ctx.plaintext_allowed = true;
  ctx.tls = true;
  ctx.tls_unique = "tls-unique-binding-data";
  ctx.external_identity = "user";
  ctx.nonce = [] { return std::string("srvnonce"); };
  auto m = create(lines[0], ctx, std::make_shared<Lookup>());
  if (!m.ok()) {
    FUZZ_CHECK(m.error().code == ErrorCode::kNotFound);
    return 0;
  }
  auto ex = std::make_shared<Exchange>(*m);

  bool finished = false;
  auto check = [&](const std::optional<Outcome>& o) {
    FUZZ_CHECK(o.has_value());  // the lookup answers at once: so must the exchange
    if (finished) {
      FUZZ_CHECK(o->kind == Outcome::Kind::kMalformed || o->kind == Outcome::Kind::kCancelled);
      return;
    }
    switch (o->kind) {
      case Outcome::Kind::kChallenge:
        FUZZ_CHECK(o->data.size() < 1024);
        FUZZ_CHECK(!ex->finished());
        break;
      case Outcome::Kind::kSuccess:
        FUZZ_CHECK(o->user == "user");
        finished = true;
        break;
      default:
        finished = true;
        break;
    }
    if (finished) FUZZ_CHECK(ex->finished());
  };

  std::optional<Outcome> got;
  if (lines.size() < 2 || lines[1] == "-")
    ex->begin(std::nullopt, [&](Outcome o) { got = std::move(o); });
  else
    ex->begin(lines[1], [&](Outcome o) { got = std::move(o); });
  check(got);
  for (size_t i = 2; i < lines.size() && i < 18; ++i) {
    got.reset();
    ex->respond(lines[i], [&](Outcome o) { got = std::move(o); });
    check(got);
  }
  return 0;
}
