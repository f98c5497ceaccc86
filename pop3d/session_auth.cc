// The AUTHORIZATION state: USER/PASS (RFC 1939 section 7), AUTH (RFC 5034)
// with every mechanism of common/sasl, the maildrop lock and admission by
// the master.
#include <optional>
#include <string>

#include "log.h"
#include "pop3d/error_map.h"
#include "sasl/base64.h"
#include "sasl/store_lookup.h"
#include "pop3d/session.h"

namespace postern::pop3d {

void Session::cmdPass(const Command& cmd) {
  if (user_pending_.empty()) {
    send("-ERR USER first\r\n");
    return;
  }
  std::string user = std::move(user_pending_);
  user_pending_.clear();
  login(user, cmd.arg);
}

void Session::cmdAuth(const Command& cmd) {
  user_pending_.clear();
  sasl::Context ctx = saslContext();
  if (cmd.arg.empty()) {
    // Not in RFC 5034, but clients (Outlook among them) probe the
    // mechanisms this way, and Dovecot and Cyrus answer it.
    std::string list = "+OK\r\n";
    for (const auto& m : sasl::advertised(ctx)) list += m + "\r\n";
    send(list + ".\r\n");
    return;
  }
  auto mech = sasl::create(cmd.arg, ctx, std::make_shared<sasl::StoreLookup>(host_.store(), "pop3"));
  if (!mech.ok()) {
    // PLAIN / LOGIN before TLS: refused before the "+ " challenge, so no
    // password travels in the clear. SCRAM is allowed.
    send(mech.error().code == ErrorCode::kDenied ? "-ERR [AUTH] Plaintext authentication is disallowed without TLS\r\n"
                                                 : "-ERR Unsupported authentication mechanism\r\n");
    return;
  }
  sasl_ = std::make_shared<sasl::Exchange>(*mech);
  busy_ = true;
  // RFC 5034 section 4: an initial response after the mechanism, "=" for an empty one.
  sasl_->begin(cmd.has_initial ? std::optional<std::string_view>(cmd.initial) : std::nullopt, saslNext());
}

void Session::saslResponse(const std::string& line) {
  sasl_pending_ = false;
  if (!sasl_) return bad("No authentication in progress");
  busy_ = true;
  sasl_->respond(line, saslNext());
}

sasl::Context Session::saslContext() const {
  sasl::Context c;
  c.plaintext_allowed = plaintextAllowed();
  c.tls = sock_.tls();
  c.tls_unique = sock_.channelBinding("tls-unique");
  c.tls_exporter = sock_.channelBinding("tls-exporter");
  return c;
}

sasl::Next Session::saslNext() {
  // Outcomes may come back at once or after a store call; handling them
  // from the loop keeps done() out of the line handler.
  std::weak_ptr<Session> weak = weakSelf();
  EventLoop* loop = &loop_;
  return [weak, loop](sasl::Outcome o) {
    loop->post([weak, o = std::move(o)]() mutable {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      self->saslOutcome(std::move(o));
    });
  };
}

void Session::saslOutcome(sasl::Outcome o) {
  using Kind = sasl::Outcome::Kind;
  std::string mech = sasl_ ? std::string(sasl_->mechanism()) : std::string();
  if (o.kind != Kind::kChallenge) sasl_.reset();
  switch (o.kind) {
    case Kind::kChallenge:
      // The final "v=" of SCRAM comes this way too, answered by an empty line.
      sasl_pending_ = true;
      send("+ " + sasl::encodeBase64(o.data) + "\r\n");
      return done();
    case Kind::kSuccess:
      log::info("authenticated", {{"proc", "pop3d"}, {"session", sid_}, {"user", o.user}, {"mech", mech}});
      return admit(o.user);
    case Kind::kFailed:
    case Kind::kAuthzFailed:
      // No proxy authorisation: acting as another user fails like a wrong password.
      return authFailed(o.user, Error{ErrorCode::kAuthFailed, mech + ": " + o.why});
    case Kind::kMalformed:
      log::info("bad AUTH exchange", {{"proc", "pop3d"}, {"session", sid_}, {"ip", peer_}, {"mech", mech},
                                      {"reason", o.why}});
      // Bad base64 is a bad command; a well-encoded but wrong message is an
      // authentication error (RFC 2449 [AUTH]).
      if (o.why == "invalid base64" || o.why == "response too long") bad("Invalid base64 in authentication response");
      else send("-ERR [AUTH] Malformed " + mech + " credentials\r\n");
      return done();
    case Kind::kCancelled:
      send("-ERR Authentication cancelled\r\n");
      return done();
    case Kind::kError:
      return authFailed(o.user, o.error);
  }
}

void Session::login(const std::string& user, const std::string& password) {
  busy_ = true;
  std::weak_ptr<Session> weak = weakSelf();
  host_.store().authenticate(user, password, "pop3", [weak, user](Result<std::string> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) return self->authFailed(user, r.error());
    self->admit(r.value());
  });
}

void Session::admit(const std::string& canonical) {
  busy_ = true;
  std::weak_ptr<Session> weak = weakSelf();
  // The user's own pop3.* settings first: the master needs the LOGIN-DELAY.
  host_.store().userSettings(canonical, [weak, canonical](Result<StoreClient::UserSettings> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) {
      log::warn("cannot read user settings",
                {{"proc", "pop3d"}, {"session", self->sid_}, {"user", canonical}, {"error", r.error().message}});
      self->send(errorReply(r.error()));
      self->done();
      return;
    }
    self->settings_ = self->userPolicy(*r, canonical);
    self->lockMaildrop(canonical);
  });
}

void Session::lockMaildrop(const std::string& canonical) {
  // Lock before asking the master: a refused lock leaves the master's
  // counts untouched and the session in AUTHORIZATION.
  std::weak_ptr<Session> weak = weakSelf();
  std::string owner = host_.lockOwner(conn_);
  StoreClient* store = &host_.store();
  auto lease = static_cast<uint32_t>(lock_lease_.count());
  store->acquireLock(canonical, kLockName, owner, lease, [weak, canonical, owner, store](Error e) {
    auto s = weak.lock();
    if (!s || s->closed_) {
      // Gone while we waited: do not leave the lock to its lease.
      if (e.ok()) store->releaseLock(canonical, kLockName, owner, [](Error) {});
      return;
    }
    if (!e.ok()) return s->lockRefused(canonical, e);
    s->lock_owner_ = owner;
    s->lock_user_ = canonical;
    s->host_.requestLogin(s->conn_, canonical, s->settings_.login_delay_s,
                          [weak, canonical](bool ok, const std::string& reason) {
                            auto s2 = weak.lock();
                            if (!s2 || s2->closed_) return;
                            if (!ok) {
                              log::info("login refused", {{"proc", "pop3d"},
                                                          {"session", s2->sid_},
                                                          {"user", canonical},
                                                          {"ip", s2->peer_},
                                                          {"reason", reason}});
                              s2->releaseLock();
                              s2->send(loginRefusedReply(reason));
                              s2->done();
                              return;
                            }
                            s2->user_ = canonical;
                            s2->expireRetrieved();
                          });
  });
}

void Session::authFailed(const std::string& user, const Error& e) {
  log::info("login failed", {{"proc", "pop3d"},
                             {"session", sid_},
                             {"user", user},
                             {"ip", peer_},
                             {"reason", std::string(errorName(e.code))},
                             {"detail", e.message}});
  if (e.code != ErrorCode::kAuthFailed) {
    send(errorReply(e));
    done();
    return;
  }
  // The master's penalty table says how long (growing per address); a
  // loop timer waits, so other sessions carry on.
  std::weak_ptr<Session> weak = weakSelf();
  host_.authFailed(conn_, auth_fail_delay_, [weak](std::chrono::milliseconds delay) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->delay_timer_ = self->loop_.after(delay, [weak] {
      auto s = weak.lock();
      if (!s || s->closed_) return;
      s->delay_timer_ = 0;
      s->send("-ERR [AUTH] Authentication failed\r\n");
      s->done();
    });
  });
}

void Session::lockRefused(const std::string& user, const Error& e) {
  log::info("login failed", {{"proc", "pop3d"},
                             {"session", sid_},
                             {"user", user},
                             {"ip", peer_},
                             {"reason", "maildrop " + std::string(errorName(e.code))},
                             {"detail", e.message}});
  // RFC 2449 section 8.1.2: [IN-USE] when the maildrop is locked.
  send(e.code == ErrorCode::kInUse ? std::string("-ERR [IN-USE] Maildrop already locked\r\n")
                                   : errorReply(e));
  done();
}

void Session::renewLock() {
  std::weak_ptr<Session> weak = weakSelf();
  renew_timer_ = loop_.after(lock_lease_ / 3, [weak] {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->renew_timer_ = 0;
    if (self->lock_owner_.empty()) return;
    auto lease = static_cast<uint32_t>(self->lock_lease_.count());
    self->host_.store().acquireLock(self->lock_user_, kLockName, self->lock_owner_, lease, [weak](Error e) {
      auto s = weak.lock();
      if (!s || s->closed_ || s->lock_owner_.empty()) return;
      if (e.code == ErrorCode::kInUse) {
        // Our lease ran out (or stored restarted) and another session took
        // the maildrop: this snapshot may no longer be ours to update.
        log::warn("maildrop lock lost", {{"proc", "pop3d"}, {"session", s->sid_}, {"user", s->user_}});
        s->lock_owner_.clear();
        s->shutdown("Maildrop lock lost");
        return;
      }
      if (!e.ok()) {
        log::warn("cannot renew maildrop lock",
                  {{"proc", "pop3d"}, {"session", s->sid_}, {"user", s->user_}, {"error", e.message}});
      }
      s->renewLock();
    });
  });
}

void Session::releaseLock() {
  if (renew_timer_) loop_.cancel(renew_timer_);
  renew_timer_ = 0;
  if (lock_owner_.empty()) return;
  std::string owner = std::move(lock_owner_);
  lock_owner_.clear();
  host_.store().releaseLock(lock_user_, kLockName, owner, [](Error) {});
}

}  // namespace postern::pop3d
