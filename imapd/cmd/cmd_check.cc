// CHECK (RFC 3501 6.4.1): every write is already durable; behaves as NOOP.
#include "command.h"

namespace postern::imapd {

void cmdCheck(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("CHECK takes no arguments");
  ctx.ok("CHECK completed");
}

}  // namespace postern::imapd
