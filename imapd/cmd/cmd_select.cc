// SELECT and EXAMINE (RFC 3501 6.3.1, 6.3.2).
#include <string>
#include <vector>

#include "command.h"
#include "server.h"

namespace postern::imapd {

namespace {

void respond(const std::shared_ptr<CommandContext>& self, std::unique_ptr<MailboxView> view, bool examine) {
  MailboxView& v = *view;
  uint32_t recent = v.recentCount();
  v.takeClaimNeeded();
  v.markRecentAnnounced();
  std::vector<std::string> lines;
  lines.push_back("FLAGS " + v.allFlags(false));
  lines.push_back("OK [PERMANENTFLAGS " + v.allFlags(true) + "] Flags permitted.");
  lines.push_back(std::to_string(v.count()) + " EXISTS");
  lines.push_back(std::to_string(recent) + " RECENT");
  if (uint32_t u = v.firstUnseen()) lines.push_back("OK [UNSEEN " + std::to_string(u) + "] First unseen.");
  lines.push_back("OK [UIDVALIDITY " + std::to_string(v.uidValidity()) + "] UIDs valid");
  lines.push_back("OK [UIDNEXT " + std::to_string(v.uidNext()) + "] Predicted next UID");
  // The session owns the view from here (or drops it: closed meanwhile).
  self->session().select(std::move(view));
  for (const auto& l : lines) self->untagged(l);
  self->ok(examine ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
}

}  // namespace

void cmdSelect(CommandContext& ctx) {
  bool examine = ctx.name() == "EXAMINE";
  auto name = ctx.mailbox(0);
  if (!ctx.argCount(1) || !name) return ctx.bad(std::string(ctx.name()) + " needs a mailbox name");
  // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1).
  ctx.session().unselect();
  auto self = ctx.self();
  // SELECT takes the messages no session has seen yet as \Recent, in the
  // same store call (EXAMINE takes none).
  ctx.store().selectMailbox(ctx.session().user(), *name, !examine, [self, examine](Result<SelectedMailbox> r) {
    if (!r.ok()) return self->fail(r.error(), examine ? "EXAMINE" : "SELECT");
    const uint32_t from = r->recent_from, to = r->recent_to;
    auto view = std::make_unique<MailboxView>(std::move(r.value()), examine);
    if (!examine) view->addRecent(from, to);
    respond(self, std::move(view), examine);
  });
}

}  // namespace postern::imapd
