// STATUS (RFC 3501 6.3.10), plus SIZE (RFC 8438).
#include "command.h"
#include "types.h"
#include "writer.h"

namespace postern::imapd {

void cmdStatus(CommandContext& ctx) {
  auto name = ctx.mailbox(0);
  if (!ctx.argCount(2) || !name || !ctx.args()[1].isList() || ctx.args()[1].list.empty())
    return ctx.bad("STATUS needs a mailbox name and a list of items");
  std::vector<std::string> items;
  for (const auto& a : ctx.args()[1].list) {
    auto at = imap::argAtom(a);
    if (!at) return ctx.bad("Invalid STATUS item");
    std::string u = imap::toUpper(*at);
    if (u != "MESSAGES" && u != "RECENT" && u != "UIDNEXT" && u != "UIDVALIDITY" && u != "UNSEEN" && u != "SIZE")
      return ctx.bad("Unknown STATUS item " + u.substr(0, 30));
    items.push_back(u);
  }
  auto self = ctx.self();
  ctx.store().getMailbox(ctx.session().user(), *name, [self, items, n = *name](Result<MailboxInfo> r) {
    if (!r.ok()) return self->fail(r.error(), "STATUS");
    const auto& m = r.value();
    std::string line = "STATUS ";
    imap::appendAstring(line, n);
    line += " (";
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& it = items[i];
      uint64_t v = it == "MESSAGES" ? m.messages : it == "RECENT" ? m.recent : it == "UIDNEXT" ? m.uidnext
                 : it == "UIDVALIDITY" ? m.uidvalidity : it == "UNSEEN" ? m.unseen : m.size;
      if (i) line += ' ';
      line += it + " " + std::to_string(v);
    }
    line += ")";
    self->untagged(line);
    self->ok("STATUS completed");
  });
}

}  // namespace postern::imapd
