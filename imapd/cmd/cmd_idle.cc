// IDLE (RFC 2177): updates are pushed as they arrive from the change feed
// (Server::onChanges flushes idling sessions) until the client sends DONE.
#include "command.h"
#include "types.h"

namespace postern::imapd {

void cmdIdle(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("IDLE takes no arguments");
  ctx.write("+ idling\r\n");
  Session& s = ctx.session();
  s.setIdling(true);
  s.flushUpdates(true, false);
  auto self = ctx.self();
  s.readRawLine([self](std::string line) {
    self->session().setIdling(false);
    if (imap::iequals(line, "DONE")) return self->ok("IDLE terminated");
    self->bad("Expected DONE to end IDLE");
  });
}

}  // namespace postern::imapd
