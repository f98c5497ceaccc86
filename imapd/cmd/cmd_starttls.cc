// STARTTLS (RFC 3501 6.2.1, RFC 2595 section 3).
#include "command.h"
#include "worker.h"

namespace postern::imapd {

void cmdStarttls(CommandContext& ctx) {
  if (!ctx.argCount(0)) return ctx.bad("STARTTLS takes no arguments");
  Session& s = ctx.session();
  if (s.tlsActive()) return ctx.bad("TLS is already active");
  if (!s.starttlsOffered()) return ctx.bad("STARTTLS is not available on this connection");
  // Before the OK: input pipelined behind STARTTLS is dropped, and the
  // handshake starts as soon as the OK has been sent.
  s.beginStarttls(s.runtime().tlsContext());
  ctx.ok("Begin TLS negotiation now");
}

}  // namespace postern::imapd
