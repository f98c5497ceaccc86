#pragma once
// APPEND and COPY into the selected mailbox: RFC 3501 6.3.11 wants the new
// message announced at once ("SHOULD notify the client immediately via an
// untagged EXISTS response"). The new message reaches the MailboxView
// through stored's change feed, which has usually arrived by the time the
// store call returns; when it has not, the command waits for it, briefly,
// before it completes (its completion announces what the view has queued).
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "command.h"
#include "worker.h"

namespace postern::imapd {

// Runs `done` once the selected mailbox - if it is still `name` with
// `uidvalidity` - knows `uid`, or at once when another mailbox (or none) is
// selected, or after about `budget_ms` if the change never comes (a broken
// feed is caught up by the session's resync). Loop thread only.
inline void whenAnnounced(std::shared_ptr<CommandContext> ctx, std::string name, uint32_t uidvalidity,
                          uint32_t uid, std::function<void()> done, int budget_ms = 500) {
  Session& s = ctx->session();
  MailboxView* v = s.selected();
  if (s.closed() || !v || v->name() != name || v->uidValidity() != uidvalidity || v->knows(uid) ||
      budget_ms <= 0)
    return done();
  constexpr int kStepMs = 2;
  s.runtime().loop().after(std::chrono::milliseconds(kStepMs),
                           [ctx, name = std::move(name), uidvalidity, uid, done = std::move(done), budget_ms]() mutable {
                             whenAnnounced(std::move(ctx), std::move(name), uidvalidity, uid, std::move(done),
                                           budget_ms - kStepMs);
                           });
}

}  // namespace postern::imapd
