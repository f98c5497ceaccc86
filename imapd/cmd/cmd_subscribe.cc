// SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6, 6.3.7).
#include "command.h"

namespace postern::imapd {

void cmdSubscribe(CommandContext& ctx) {
  bool on = ctx.name() == "SUBSCRIBE";
  auto name = ctx.mailbox(0);
  if (!ctx.argCount(1) || !name) return ctx.bad(std::string(ctx.name()) + " needs a mailbox name");
  auto self = ctx.self();
  ctx.store().subscribe(ctx.session().user(), *name, on, [self, on](Error e) {
    if (!e.ok()) return self->fail(e, on ? "SUBSCRIBE" : "UNSUBSCRIBE");
    self->ok(on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
  });
}

}  // namespace postern::imapd
