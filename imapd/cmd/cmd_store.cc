// STORE and UID STORE (RFC 3501 6.4.6): FLAGS / +FLAGS / -FLAGS [.SILENT].
// Without .SILENT every named message gets an untagged FETCH with its flags.
#include <span>

#include "command.h"
#include "msgset.h"
#include "types.h"

namespace postern::imapd {

void cmdStore(CommandContext& ctx) {
  const auto& a = ctx.args();
  if (a.size() < 3) return ctx.bad("STORE needs a sequence set, an action and flags");
  MailboxView* v = ctx.session().selected();
  auto seqs = resolveSeqs(*v, a[0], ctx.uid());
  if (!seqs) return ctx.bad(seqs.reason());
  auto act_atom = imap::argAtom(a[1]);
  auto action = act_atom ? imap::parseStoreAction(*act_atom) : std::nullopt;
  if (!action) return ctx.bad("Invalid STORE action; expected FLAGS, +FLAGS or -FLAGS[.SILENT]");
  auto flags = imap::parseStoreFlags(std::span<const imap::Arg>(a).subspan(2));
  if (!flags) return ctx.bad(flags.reason());
  if (v->readOnly()) return ctx.no("[READ-ONLY] Mailbox is read-only");
  if (seqs->empty()) return ctx.ok("STORE completed");
  StoreFlagsArgs s;
  s.user = ctx.session().user();
  s.mailbox_id = v->id();
  for (uint32_t q : seqs.value()) s.uids.push_back(v->at(q).uid);
  s.op = action->op == imap::StoreAction::kAdd ? FlagOp::kAdd
         : action->op == imap::StoreAction::kRemove ? FlagOp::kRemove : FlagOp::kReplace;
  s.flags = flags->system & flag::kSystemMask;
  s.keywords = flags->keywords;
  auto self = ctx.self();
  bool silent = action->silent;
  std::vector<uint32_t> uids = s.uids;
  ctx.store().storeFlags(std::move(s), [self, silent, uids](Result<StoreFlagsResult> r) {
    MailboxView* v = self->session().selected();
    if (!v) return self->no("Mailbox closed");
    if (!r.ok()) return self->fail(r.error(), "STORE");
    v->applyFlags(r->changed, r->keywords);
    // A keyword new to the mailbox is announced (FLAGS, PERMANENTFLAGS)
    // before FETCH responses use it; no EXPUNGE during STORE.
    self->session().flushUpdates(false, self->uid());
    if (!silent) {
      for (uint32_t uid : uids) {
        uint32_t seq = v->seqOf(uid);
        if (seq == 0) continue;
        std::string line = std::to_string(seq) + " FETCH (";
        if (self->uid()) line += "UID " + std::to_string(uid) + " ";
        line += "FLAGS " + v->flagsOf(v->at(seq)) + ")";
        self->untagged(line);
      }
    }
    self->ok("STORE completed");
  });
}

}  // namespace postern::imapd
