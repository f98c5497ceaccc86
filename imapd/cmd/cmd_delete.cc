// DELETE (RFC 3501 6.3.4).
#include "command.h"

namespace postern::imapd {

void cmdDelete(CommandContext& ctx) {
  auto name = ctx.mailbox(0);
  if (!ctx.argCount(1) || !name) return ctx.bad("DELETE needs a mailbox name");
  if (*name == "INBOX") return ctx.no("[CANNOT] INBOX cannot be deleted");
  if (auto* v = ctx.session().selected(); v && v->name() == *name) ctx.session().unselect();
  auto self = ctx.self();
  ctx.store().deleteMailbox(ctx.session().user(), *name, [self](Error e) {
    if (!e.ok()) return self->fail(e, "DELETE");
    self->ok("DELETE completed");
  });
}

}  // namespace postern::imapd
