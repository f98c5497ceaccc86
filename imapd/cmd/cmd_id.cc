// ID (RFC 2971): the client's parameter list is accepted (not trusted).
#include "command.h"

namespace postern::imapd {

void cmdId(CommandContext& ctx) {
  if (!ctx.argCount(1) || (ctx.args()[0].type != imap::Arg::kList && ctx.args()[0].type != imap::Arg::kNil))
    return ctx.bad("ID needs a parameter list or NIL");
  const auto& l = ctx.args()[0].list;
  if (l.size() % 2 != 0 || l.size() > 60) return ctx.bad("ID parameter list must be field/value pairs (at most 30)");
  ctx.untagged("ID (\"name\" \"Postern\" \"version\" \"0.1.0\")");
  ctx.ok("ID completed");
}

}  // namespace postern::imapd
