#include "auth.h"

#include "error_map.h"
#include "log.h"
#include "worker.h"

namespace postern::imapd {

bool refusePlaintext(CommandContext& ctx) {
  Session& s = ctx.session();
  if (s.plaintextAllowed()) return false;
  log::info("plaintext login refused", {{"session", s.id()}, {"ip", s.peer()}});
  ctx.no(s.starttlsOffered()
             ? "[PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS; use STARTTLS"
             : "[PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS");
  return true;
}

sasl::Context saslContext(const Session& s) {
  sasl::Context c;
  c.plaintext_allowed = s.plaintextAllowed();
  c.tls = s.tlsActive();
  c.tls_unique = s.tlsStream().channelBinding("tls-unique");
  c.tls_exporter = s.tlsStream().channelBinding("tls-exporter");
  return c;
}

std::string authCapabilities(const Session& s) {
  std::string caps;
  for (const auto& m : sasl::advertised(saslContext(s))) caps += " AUTH=" + m;
  // RFC 3501 6.2.3 / 7.2.1: LOGINDISABLED while plaintext login is refused;
  // AUTH=PLAIN and AUTH=LOGIN are not offered then either (RFC 2595 section 6).
  if (!s.plaintextAllowed()) caps += " LOGINDISABLED";
  return caps;
}

void loginFailed(std::shared_ptr<CommandContext> ctx, const std::string& user, const std::string& mech,
                 const std::string& why) {
  Session& s = ctx->session();
  log::info("login failed",
            {{"session", s.id()}, {"user", user}, {"ip", s.peer()}, {"mech", mech}, {"reason", why}});
  // The master's penalty table says how long to wait (growing per
  // address); a loop timer waits, so nobody else is blocked.
  s.runtime().authFailed(s.conn(), [ctx](std::chrono::milliseconds delay) {
    ctx->session().runtime().loop().after(
        delay, [ctx] { ctx->no("[AUTHENTICATIONFAILED] Authentication failed."); });
  });
}

void authenticateAndLogin(std::shared_ptr<CommandContext> ctx, const std::string& user,
                          const std::string& password) {
  Session& s = ctx->session();
  if (user.empty() || user.size() > sasl::kMaxUser || password.size() > sasl::kMaxPassword)
    return loginFailed(ctx, user.substr(0, sasl::kMaxUser), "LOGIN", "user name or password too long");
  s.store().authenticate(user, password, "imap", [ctx, user](Result<std::string> r) {
    Session& s = ctx->session();
    if (s.closed()) return ctx->no("closed");
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kAuthFailed || r.error().code == ErrorCode::kNotFound)
        return loginFailed(ctx, user, "LOGIN", r.error().message);
      log::warn("login: store error", {{"session", s.id()}, {"user", user}, {"error", r.error().message}});
      return ctx->fail(r.error(), "Login");
    }
    admitLogin(ctx, r.value(), "LOGIN");
  });
}

void admitLogin(std::shared_ptr<CommandContext> ctx, const std::string& canonical, const std::string& mech) {
  Session& s = ctx->session();
  s.runtime().requestLogin(s.conn(), canonical, [ctx, canonical, mech](bool ok, const std::string& reason) {
    Session& s = ctx->session();
    if (!ok) {
      log::info("login refused",
                {{"session", s.id()}, {"user", canonical}, {"ip", s.peer()}, {"reason", reason}});
      // The master prefixes per-user refusals with "in-use: " (POP3 maps it to [IN-USE]).
      std::string why = reason.rfind("in-use: ", 0) == 0 ? reason.substr(8) : reason;
      return ctx->no("[LIMIT] " + (why.empty() ? std::string("Login refused") : why));
    }
    s.setUser(canonical);
    s.setState(State::kAuthenticated);
    log::info("login", {{"session", s.id()}, {"user", canonical}, {"ip", s.peer()}, {"mech", mech}});
    ctx->ok("[CAPABILITY " + capabilities(s) + "] Logged in");
  });
}

}  // namespace postern::imapd
