// APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315).
#include "announce.h"
#include "command.h"
#include "message.h"
#include "types.h"
#include "worker.h"

namespace postern::imapd {

void cmdAppend(CommandContext& ctx) {
  const auto& a = ctx.args();
  auto name = ctx.mailbox(0);
  if (a.size() < 2 || a.size() > 4 || !name) return ctx.bad("APPEND needs a mailbox and a message");
  const imap::Arg& msg = a.back();
  // append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal:
  // the message is always a literal, never a quoted string.
  if (msg.type != imap::Arg::kLiteral) return ctx.bad("APPEND message must be a literal");
  AppendArgs args;
  args.user = ctx.session().user();
  args.mailbox = *name;
  size_t i = 1;
  if (i < a.size() - 1 && a[i].isList()) {
    auto flags = imap::parseFlagList(a[i]);
    if (!flags) return ctx.bad(flags.reason());
    args.flags = flags->system;
    args.keywords = flags->keywords;
    ++i;
  }
  if (i < a.size() - 1) {
    auto s = imap::argString(a[i]);
    auto dt = s ? imap::parseDateTime(*s) : std::nullopt;
    if (!dt) return ctx.bad("Invalid date-time in APPEND");
    args.internaldate = dt->utc;
    args.tzoffset = dt->tzOffsetMinutes;
    ++i;
  }
  if (i != a.size() - 1) return ctx.bad("Unexpected APPEND arguments");
  if (msg.value.empty()) return ctx.no("[CANNOT] Empty message");
  if (msg.value.size() > ctx.session().runtime().config().message_size_limit)
    return ctx.no("[TOOBIG] Message too large");
  args.body = normalizeCrlf(msg.value);
  // Into the mailbox this session has selected read-write: the store claims
  // \Recent for it up to the new message in the same call, so announcing it
  // costs no claim round trip (RFC 3501 2.3.2: this session is the first
  // to be told of it).
  const MailboxView* v = ctx.session().selected();
  args.claim_recent = v && !v->readOnly() && v->name() == *name;
  auto self = ctx.self();
  ctx.store().append(std::move(args), [self, target = *name](Result<AppendResult> r) {
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kNotFound) return self->no("[TRYCREATE] Mailbox does not exist");
      return self->fail(r.error(), "APPEND");
    }
    MailboxView* now = self->session().selected();
    if (now && now->name() == target && now->uidValidity() == r->uidvalidity && !now->readOnly())
      now->addRecent(r->recent_from, r->recent_to);
    std::string text = "[APPENDUID " + std::to_string(r->uidvalidity) + " " + std::to_string(r->uid) +
                       "] APPEND completed";
    whenAnnounced(self, target, r->uidvalidity, r->uid, [self, text] { self->ok(text); });
  });
}

}  // namespace postern::imapd
