// COPY / UID COPY (RFC 3501 6.4.7) with COPYUID (RFC 4315), and MOVE /
// UID MOVE (RFC 6851): COPYUID goes in an untagged OK, then EXPUNGEs.
#include "announce.h"
#include "command.h"
#include "msgset.h"
#include "types.h"

namespace postern::imapd {

void cmdCopy(CommandContext& ctx) {
  bool move = ctx.name() == "MOVE";
  if (!ctx.argCount(2)) return ctx.bad(std::string(ctx.name()) + " needs a sequence set and a mailbox");
  MailboxView* v = ctx.session().selected();
  auto seqs = resolveSeqs(*v, ctx.args()[0], ctx.uid());
  auto dest = ctx.mailbox(1);
  if (!seqs) return ctx.bad(seqs.reason());
  if (!dest) return ctx.bad("Invalid mailbox name");
  if (move && v->readOnly()) return ctx.no("[READ-ONLY] Mailbox is read-only");
  if (seqs->empty()) return ctx.ok(std::string(ctx.name()) + " completed");
  std::vector<uint32_t> uids;
  for (uint32_t q : seqs.value()) uids.push_back(v->at(q).uid);
  auto self = ctx.self();
  ctx.store().copy(ctx.session().user(), v->id(), std::move(uids), *dest, move,
                   [self, move, dest = *dest](Result<CopyResult> r) {
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kNotFound) return self->no("[TRYCREATE] Mailbox does not exist");
      return self->fail(r.error(), move ? "MOVE" : "COPY");
    }
    std::string code = "[COPYUID " + std::to_string(r->uidvalidity) + " " +
                       imap::SequenceSet::format(r->source_uids) + " " +
                       imap::SequenceSet::format(r->dest_uids) + "]";
    if (r->source_uids.empty()) code.clear();
    if (!move) {
      // A copy into the selected mailbox is announced with this response,
      // as APPEND's is (RFC 3501 6.3.11).
      std::string text = code.empty() ? "COPY completed" : code + " COPY completed";
      uint32_t last = r->dest_uids.empty() ? 0 : r->dest_uids.back();
      return whenAnnounced(self, dest, r->uidvalidity, last, [self, text] { self->ok(text); });
    }
    if (!code.empty()) self->untagged("OK " + code + " Moved");
    if (auto* v = self->session().selected()) self->write(v->expungeNow(r->source_uids));
    // MOVE into the selected mailbox itself: the new copies too.
    uint32_t last = r->dest_uids.empty() ? 0 : r->dest_uids.back();
    whenAnnounced(self, dest, r->uidvalidity, last, [self] { self->ok("MOVE completed"); });
  });
}

}  // namespace postern::imapd
