// CLOSE (RFC 3501 6.4.2) and UNSELECT (RFC 3691): CLOSE silently expunges
// \Deleted messages of a read-write mailbox first.
#include "command.h"

namespace postern::imapd {

void cmdClose(CommandContext& ctx) {
  bool close = ctx.name() == "CLOSE";
  if (!ctx.argCount(0)) return ctx.bad(std::string(ctx.name()) + " takes no arguments");
  MailboxView* v = ctx.session().selected();
  if (!close || v->readOnly()) {
    ctx.session().unselect();
    return ctx.ok(close ? "CLOSE completed" : "UNSELECT completed");
  }
  auto self = ctx.self();
  uint32_t id = v->id();
  ctx.session().unselect();  // no EXPUNGE responses for CLOSE
  ctx.store().expunge(ctx.session().user(), id, {}, true, [self](Result<std::vector<uint32_t>> r) {
    if (!r.ok()) return self->fail(r.error(), "CLOSE");
    self->ok("CLOSE completed");
  });
}

}  // namespace postern::imapd
