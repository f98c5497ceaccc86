// NAMESPACE (RFC 2342): one personal namespace, delimiter "/".
#include "command.h"

namespace postern::imapd {

void cmdNamespace(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("NAMESPACE takes no arguments");
  ctx.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
  ctx.ok("NAMESPACE completed");
}

}  // namespace postern::imapd
