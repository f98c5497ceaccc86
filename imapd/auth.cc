#include "auth.h"

#include "error_map.h"
#include "log.h"
#include "worker.h"

namespace postern::imapd {

bool refusePlaintext(CommandContext& ctx) {
  Session& s = ctx.session();
  if (s.plaintextAllowed()) return false;
  log::info("plaintext login refused", {{"session", s.id()}, {"ip", s.peer()}});
  ctx.no(s.starttlsOffered() ? "[PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS; use STARTTLS"
                             : "[PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS");
  return true;
}

void authenticateAndLogin(std::shared_ptr<CommandContext> ctx, const std::string& user,
                          const std::string& password) {
  Session& s = ctx->session();
  if (user.empty() || user.size() > 255 || password.size() > 1024) {
    return ctx->no("[AUTHENTICATIONFAILED] Authentication failed.");
  }
  s.store().authenticate(user, password, "imap", [ctx, user](Result<std::string> r) {
    Session& s = ctx->session();
    if (s.closed()) return ctx->no("closed");
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kAuthFailed || r.error().code == ErrorCode::kNotFound) {
        log::info("login failed", {{"session", s.id()}, {"user", user}, {"ip", s.peer()}});
        // Slow down password guessing without blocking anyone else.
        s.runtime().loop().after(std::chrono::seconds(1),
                                 [ctx] { ctx->no("[AUTHENTICATIONFAILED] Authentication failed."); });
        return;
      }
      log::warn("login: store error", {{"session", s.id()}, {"user", user}, {"error", r.error().message}});
      return ctx->fail(r.error(), "Login");
    }
    std::string canonical = r.value();
    s.runtime().requestLogin(s.conn(), canonical, [ctx, canonical](bool ok, const std::string& reason) {
      Session& s = ctx->session();
      if (!ok) {
        log::info("login refused", {{"session", s.id()}, {"user", canonical}, {"ip", s.peer()}, {"reason", reason}});
        // The master prefixes per-user refusals with "in-use: " (POP3 maps it to [IN-USE]).
        std::string why = reason.rfind("in-use: ", 0) == 0 ? reason.substr(8) : reason;
        return ctx->no("[LIMIT] " + (why.empty() ? std::string("Login refused") : why));
      }
      s.setUser(canonical);
      s.setState(State::kAuthenticated);
      log::info("login", {{"session", s.id()}, {"user", canonical}, {"ip", s.peer()}});
      ctx->ok("[CAPABILITY " + capabilities(s) + "] Logged in");
    });
  });
}

}  // namespace postern::imapd
