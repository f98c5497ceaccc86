// LOGOUT (RFC 3501 6.1.3).
#include "command.h"

namespace postern::imapd {

void cmdLogout(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("LOGOUT takes no arguments");
  ctx.untagged("BYE Postern IMAP4rev1 server logging out");
  ctx.session().setState(State::kLogout);
  ctx.session().unselect();
  ctx.ok("LOGOUT completed");
  ctx.session().bye("");  // closes once flushed; empty BYE is suppressed below
}

}  // namespace postern::imapd
