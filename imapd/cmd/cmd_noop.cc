// NOOP (RFC 3501 6.1.2): the canonical poll; pending updates are flushed
// by the completion itself.
#include "command.h"

namespace postern::imapd {

void cmdNoop(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("NOOP takes no arguments");
  ctx.ok("NOOP completed");
}

}  // namespace postern::imapd
