#pragma once
// The login sequence shared by LOGIN and AUTHENTICATE: credentials checked
// (by stored, or by a SASL mechanism of common/sasl against stored's keys),
// then admission by the master (per-user limits, licence seats), then the
// authenticated state. Every function here finishes `ctx`.
#include <memory>
#include <string>

#include "command.h"
#include "sasl/mechanism.h"

namespace postern::imapd {

// The plaintext policy: before TLS, and unless the client is trusted (or
// auth.allow_plaintext), answers "NO [PRIVACYREQUIRED]" (RFC 5530) and
// returns true; the command must then stop. Applies to LOGIN and to the
// PLAIN and LOGIN mechanisms; SCRAM is allowed without TLS.
bool refusePlaintext(CommandContext& ctx);

// What this connection offers SASL: channel-binding data once TLS is up,
// and whether plaintext mechanisms are allowed.
sasl::Context saslContext(const Session& s);

// The authentication part of CAPABILITY before login: " AUTH=<mech>" for
// every mechanism offered (strongest first), and " LOGINDISABLED" while
// plaintext logins are refused.
std::string authCapabilities(const Session& s);

// LOGIN: checks the password with the store, then admitLogin().
void authenticateAndLogin(std::shared_ptr<CommandContext> ctx, const std::string& user,
                          const std::string& password);

// After successful authentication as `canonical`: asks the master, enters
// the authenticated state and answers OK with the new capabilities.
void admitLogin(std::shared_ptr<CommandContext> ctx, const std::string& canonical, const std::string& mech);

// A rejected credential (wrong password, unknown user, failed SASL proof):
// logged with `why` (never shown to the client), reported to the master's
// penalty table, answered "NO [AUTHENTICATIONFAILED]" after the delay it
// says. Every kind of failure takes this one path, so all look and time alike.
void loginFailed(std::shared_ptr<CommandContext> ctx, const std::string& user, const std::string& mech,
                 const std::string& why);

}  // namespace postern::imapd
