#pragma once
// The login sequence shared by LOGIN and AUTHENTICATE: verify the password
// with the store, ask the master for admission (per-user limits, licence
// seats), then enter the authenticated state. Finishes `ctx`.
#include <memory>
#include <string>

#include "command.h"

namespace postern::imapd {

// The plaintext policy: before TLS, and unless the client is trusted (or
// auth.allow_plaintext), answers "NO [PRIVACYREQUIRED]" (RFC 5530) and
// returns true; the command must then stop.
bool refusePlaintext(CommandContext& ctx);

void authenticateAndLogin(std::shared_ptr<CommandContext> ctx, const std::string& user,
                          const std::string& password);

}  // namespace postern::imapd
