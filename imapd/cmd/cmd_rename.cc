// RENAME (RFC 3501 6.3.5): children move with their parent; renaming INBOX
// moves its messages into the new mailbox.
#include "command.h"
#include "mailbox_name.h"

namespace postern::imapd {

void cmdRename(CommandContext& ctx) {
  auto from = ctx.mailbox(0);
  auto to = ctx.mailbox(1);
  if (!ctx.argCount(2) || !from || !to) return ctx.bad("RENAME needs two mailbox names");
  std::string why;
  if (!validMailboxName(*to, &why)) return ctx.no("[CANNOT] " + why);
  if (*to == "INBOX") return ctx.no("[ALREADYEXISTS] INBOX already exists");
  auto self = ctx.self();
  ctx.store().renameMailbox(ctx.session().user(), *from, *to, [self](Error e) {
    if (!e.ok()) return self->fail(e, "RENAME");
    self->ok("RENAME completed");
  });
}

}  // namespace postern::imapd
