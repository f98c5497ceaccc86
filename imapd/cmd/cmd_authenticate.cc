// AUTHENTICATE PLAIN (RFC 3501 6.2.2, RFC 4616), with SASL-IR (RFC 4959).
#include <Poco/Base64Decoder.h>

#include <sstream>

#include "auth.h"
#include "command.h"
#include "types.h"

namespace postern::imapd {
namespace {

bool decodeBase64(const std::string& in, std::string* out) {
  for (char c : in)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return false;
  try {
    std::istringstream is(in);
    Poco::Base64Decoder dec(is);
    std::string s((std::istreambuf_iterator<char>(dec)), std::istreambuf_iterator<char>());
    *out = s;
    return true;
  } catch (...) {
    return false;
  }
}

void finishPlain(std::shared_ptr<CommandContext> ctx, const std::string& b64) {
  if (b64 == "*") return ctx->bad("AUTHENTICATE cancelled");
  std::string raw;
  if (!decodeBase64(b64, &raw)) return ctx->bad("Invalid base64 in AUTHENTICATE response");
  // authzid NUL authcid NUL passwd
  size_t a = raw.find('\0');
  size_t b = a == std::string::npos ? a : raw.find('\0', a + 1);
  if (a == std::string::npos || b == std::string::npos) return ctx->bad("Malformed PLAIN response");
  std::string authz = raw.substr(0, a), user = raw.substr(a + 1, b - a - 1), pass = raw.substr(b + 1);
  if (!authz.empty() && authz != user) return ctx->no("[AUTHORIZATIONFAILED] Acting as another user is not allowed");
  authenticateAndLogin(ctx, user, pass);
}

}  // namespace

void cmdAuthenticate(CommandContext& ctx) {
  auto mech = ctx.astring(0);
  if (!mech || ctx.args().size() > 2) return ctx.bad("AUTHENTICATE needs a mechanism");
  if (!imap::iequals(*mech, "PLAIN")) return ctx.no("[CANNOT] Unsupported authentication mechanism");
  // Before asking for the response, so no password is sent in the clear.
  if (refusePlaintext(ctx)) return;
  if (ctx.args().size() == 2) {
    auto ir = ctx.astring(1);
    if (!ir) return ctx.bad("Invalid initial response");
    return finishPlain(ctx.self(), *ir == "=" ? "" : *ir);
  }
  ctx.write("+ \r\n");
  auto self = ctx.self();
  ctx.session().readRawLine([self](std::string line) { finishPlain(self, line); });
}

}  // namespace postern::imapd
