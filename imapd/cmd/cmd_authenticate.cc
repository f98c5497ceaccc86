// AUTHENTICATE (RFC 3501 6.2.2) with SASL-IR (RFC 4959): every mechanism
// of common/sasl. Challenges go out as "+ <base64>"; the client's next
// line answers; "*" cancels (BAD). SCRAM's final "v=" goes out as one
// more challenge, answered by an empty line (RFC 3501 has no room for
// additional data in the tagged OK).
#include <optional>

#include "auth.h"
#include "command.h"
#include "log.h"
#include "sasl/base64.h"
#include "sasl/exchange.h"
#include "sasl/store_lookup.h"

namespace postern::imapd {
namespace {

void onOutcome(const std::shared_ptr<CommandContext>& ctx, const std::shared_ptr<sasl::Exchange>& ex,
               sasl::Outcome o) {
  Session& s = ctx->session();
  if (s.closed()) return ctx->no("closed");
  std::string mech(ex->mechanism());
  using Kind = sasl::Outcome::Kind;
  switch (o.kind) {
    case Kind::kChallenge:
      ctx->write("+ " + sasl::encodeBase64(o.data) + "\r\n");
      s.readRawLine([ctx, ex](std::string line) {
        ex->respond(line, [ctx, ex](sasl::Outcome next) { onOutcome(ctx, ex, std::move(next)); });
      });
      return;
    case Kind::kSuccess:
      return admitLogin(ctx, o.user, mech);
    case Kind::kFailed:
      return loginFailed(ctx, o.user, mech, o.why);
    case Kind::kAuthzFailed:
      log::info("login failed",
                {{"session", s.id()}, {"user", o.user}, {"ip", s.peer()}, {"mech", mech}, {"reason", o.why}});
      return ctx->no("[AUTHORIZATIONFAILED] Acting as another user is not allowed");
    case Kind::kMalformed:
      log::info("bad AUTHENTICATE exchange",
                {{"session", s.id()}, {"ip", s.peer()}, {"mech", mech}, {"reason", o.why}});
      return ctx->bad(o.why == "invalid base64" ? "Invalid base64 in AUTHENTICATE response"
                                                : "Invalid AUTHENTICATE response");
    case Kind::kCancelled:
      return ctx->bad("AUTHENTICATE cancelled");
    case Kind::kError:
      if (o.error.code != ErrorCode::kDenied)
        log::warn("login: store error", {{"session", s.id()}, {"user", o.user}, {"error", o.error.message}});
      return ctx->fail(o.error, "Login");
  }
}

}  // namespace

void cmdAuthenticate(CommandContext& ctx) {
  auto mech = ctx.astring(0);
  if (!mech || ctx.args().size() > 2) return ctx.bad("AUTHENTICATE needs a mechanism");
  Session& s = ctx.session();
  auto lookup = std::make_shared<sasl::StoreLookup>(s.store(), "imap");
  auto m = sasl::create(*mech, saslContext(s), lookup);
  if (!m.ok()) {
    // PLAIN / LOGIN before TLS: refused before any challenge, so no
    // password is sent in the clear.
    if (m.error().code == ErrorCode::kDenied && refusePlaintext(ctx)) return;
    return ctx.no("[CANNOT] Unsupported authentication mechanism");
  }
  std::optional<std::string> ir;
  if (ctx.args().size() == 2) {
    ir = ctx.astring(1);
    if (!ir) return ctx.bad("Invalid initial response");
  }
  auto ex = std::make_shared<sasl::Exchange>(*m);
  auto self = ctx.self();
  ex->begin(ir ? std::optional<std::string_view>(*ir) : std::nullopt,
            [self, ex](sasl::Outcome o) { onOutcome(self, ex, std::move(o)); });
}

}  // namespace postern::imapd
