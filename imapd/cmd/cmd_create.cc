// CREATE (RFC 3501 6.3.3).
#include "command.h"
#include "mailbox_name.h"
#include "types.h"

namespace postern::imapd {

void cmdCreate(CommandContext& ctx) {
  auto name = ctx.mailbox(0);
  if (!ctx.argCount(1) || !name) return ctx.bad("CREATE needs a mailbox name");
  std::string n = *name;
  if (n.size() > 1 && n.back() == '/') n.pop_back();  // "foo/" creates "foo"
  std::string why;
  if (!validMailboxName(n, &why)) return ctx.no("[CANNOT] " + why);
  if (n == "INBOX") return ctx.no("[ALREADYEXISTS] INBOX always exists");
  auto self = ctx.self();
  ctx.store().createMailbox(ctx.session().user(), n, [self](Error e) {
    if (!e.ok()) return self->fail(e, "CREATE");
    self->ok("CREATE completed");
  });
}

}  // namespace postern::imapd
