// EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315).
#include "command.h"
#include "types.h"

namespace postern::imapd {

void cmdExpunge(CommandContext& ctx) {
  MailboxView* v = ctx.session().selected();
  std::vector<uint32_t> uids;
  if (ctx.uid()) {
    if (!ctx.argCount(1)) return ctx.bad("UID EXPUNGE needs a UID set");
    auto set = imap::SequenceSet::fromArg(ctx.args()[0]);
    if (!set) return ctx.bad(set.reason());
    std::vector<uint32_t> all;
    all.reserve(v->count());
    for (uint32_t s = 1; s <= v->count(); ++s) all.push_back(v->at(s).uid);
    uids = set->select(all);
    if (uids.empty()) return ctx.ok("UID EXPUNGE completed");
  } else if (!ctx.argCount(0)) {
    return ctx.bad("EXPUNGE takes no arguments");
  }
  if (v->readOnly()) return ctx.no("[READ-ONLY] Mailbox is read-only");
  auto self = ctx.self();
  ctx.store().expunge(ctx.session().user(), v->id(), std::move(uids), true,
                      [self](Result<std::vector<uint32_t>> r) {
                        if (!r.ok()) return self->fail(r.error(), "EXPUNGE");
                        if (auto* v = self->session().selected()) self->write(v->expungeNow(r.value()));
                        self->ok("EXPUNGE completed");
                      });
}

}  // namespace postern::imapd
