// CAPABILITY (RFC 3501 6.1.1).
#include "command.h"

namespace postern::imapd {

void cmdCapability(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("CAPABILITY takes no arguments");
  ctx.untagged("CAPABILITY " + capabilities(ctx.session()));
  ctx.ok("CAPABILITY completed");
}

}  // namespace postern::imapd
