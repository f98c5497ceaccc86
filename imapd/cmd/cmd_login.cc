// LOGIN (RFC 3501 6.2.3).
#include "auth.h"
#include "command.h"

namespace postern::imapd {

void cmdLogin(CommandContext& ctx) {
  if (refusePlaintext(ctx)) return;  // RFC 3501 6.2.3: LOGINDISABLED is advertised
  auto user = ctx.astring(0);
  auto pass = ctx.astring(1);
  if (!ctx.argCount(2) || !user || !pass) return ctx.bad("LOGIN needs a user name and a password");
  authenticateAndLogin(ctx.self(), *user, *pass);
}

}  // namespace postern::imapd
