// STORE and UID STORE (RFC 3501 6.4.6): FLAGS / +FLAGS / -FLAGS [.SILENT].
// Without .SILENT every named message gets an untagged FETCH with its flags.
// With .SILENT a message still gets one when its flags show a change made
// by someone else ("the server SHOULD send an untagged FETCH response if a
// change to a message's flags from an external source is observed"): the
// STORE result is applied to the view at once, so the change would
// otherwise never be announced.
#include <algorithm>
#include <set>
#include <span>

#include "command.h"
#include "msgset.h"
#include "types.h"

namespace postern::imapd {
namespace {

// The flag bits `flags` stands for in a mailbox whose keyword table is
// `table` (system flags and the keywords the table has).
uint64_t bitsOf(uint64_t system, const std::vector<std::string>& keywords, const std::vector<std::string>& table) {
  uint64_t bits = system & flag::kSystemMask;
  for (const auto& k : keywords) {
    for (size_t i = 0; i < table.size() && i < static_cast<size_t>(flag::kMaxKeywords); ++i) {
      if (imap::iequals(table[i], k)) {
        bits |= 1ull << (flag::kKeywordBase + i);
        break;
      }
    }
  }
  return bits;
}

// What the client expects after its own STORE on flags it knew.
uint64_t expectedFlags(uint64_t known, FlagOp op, uint64_t bits) {
  switch (op) {
    case FlagOp::kAdd: return known | bits;
    case FlagOp::kRemove: return known & ~bits;
    case FlagOp::kReplace: return bits;
  }
  return bits;
}

}  // namespace

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
  FlagOp op = s.op;
  uint64_t system = s.flags;
  std::vector<std::string> keywords = s.keywords;
  ctx.store().storeFlags(std::move(s), [self, silent, uids, op, system, keywords](Result<StoreFlagsResult> r) {
    MailboxView* v = self->session().selected();
    if (!v) return self->no("Mailbox closed");
    if (!r.ok()) return self->fail(r.error(), "STORE");
    std::set<uint32_t> external;
    if (silent) {
      uint64_t bits = bitsOf(system, keywords, r->keywords);
      for (const auto& m : r->changed) {
        uint32_t seq = v->seqOf(m.uid);
        if (seq && m.flags != expectedFlags(v->at(seq).flags, op, bits)) external.insert(m.uid);
      }
    }
    v->applyFlags(r->changed, r->keywords);
    // A keyword new to the mailbox is announced (FLAGS, PERMANENTFLAGS)
    // before FETCH responses use it; no EXPUNGE during STORE.
    self->session().flushUpdates(false, self->uid());
    for (uint32_t uid : uids) {
      if (silent && !external.count(uid)) continue;
      uint32_t seq = v->seqOf(uid);
      if (seq == 0) continue;
      std::string line = std::to_string(seq) + " FETCH (";
      if (self->uid()) line += "UID " + std::to_string(uid) + " ";
      line += "FLAGS " + v->flagsOf(v->at(seq)) + ")";
      self->untagged(line);
    }
    self->ok("STORE completed");
  });
}

}  // namespace postern::imapd
