// The AUTHORIZATION state: USER/PASS (RFC 1939 section 7), AUTH PLAIN
// (RFC 5034, RFC 4616), the maildrop lock and admission by the master.
#include <optional>
#include <string>

#include "log.h"
#include "pop3d/error_map.h"
#include "pop3d/proto/sasl.h"
#include "pop3d/session.h"

namespace postern::pop3d {

namespace {
std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return s;
}
}  // namespace

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
  if (cmd.arg.empty()) {
    // Not in RFC 5034, but clients (Outlook among them) probe the
    // mechanisms this way, and Dovecot and Cyrus answer it.
    send(plaintextAllowed() ? "+OK\r\nPLAIN\r\n.\r\n" : "+OK\r\n.\r\n");
    return;
  }
  if (cmd.arg == "PLAIN" && !plaintextAllowed()) {
    // Before the "+ " challenge, so no password travels in the clear.
    send("-ERR [AUTH] Plaintext authentication is disallowed without TLS\r\n");
    return;
  }
  if (cmd.arg != "PLAIN") {
    send("-ERR Unsupported authentication mechanism\r\n");
    return;
  }
  if (cmd.has_initial) return saslPlain(cmd.initial);
  // PLAIN's first challenge is empty: "+" SP and nothing (RFC 5034 section 4).
  sasl_pending_ = true;
  send("+ \r\n");
}

void Session::saslResponse(const std::string& line) {
  sasl_pending_ = false;
  if (line == "*") {
    send("-ERR Authentication cancelled\r\n");
    return;
  }
  saslPlain(line);
}

void Session::saslPlain(const std::string& b64) {
  // "=" is an empty initial response (RFC 5034 section 4); PLAIN needs data.
  std::optional<std::string> raw = b64 == "=" ? std::optional<std::string>(std::string()) : decodeBase64(b64);
  if (!raw) return bad("Invalid base64 in authentication response");
  std::optional<PlainCredentials> creds = parsePlain(*raw);
  if (!creds) {
    send("-ERR [AUTH] Malformed PLAIN credentials\r\n");
    return;
  }
  // No proxy authorisation: an authzid other than the user itself fails
  // like a wrong password.
  if (!creds->authzid.empty() && lower(creds->authzid) != lower(creds->authcid)) {
    busy_ = true;
    return authFailed(creds->authcid, Error{ErrorCode::kAuthFailed, "authzid differs from authcid"});
  }
  login(creds->authcid, creds->password);
}

void Session::login(const std::string& user, const std::string& password) {
  busy_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  host_.store().authenticate(user, password, "pop3", [weak, user](Result<std::string> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) return self->authFailed(user, r.error());
    // Lock before asking the master: a refused lock leaves the master's
    // counts untouched and the session in AUTHORIZATION.
    std::string canonical = r.value();
    std::string owner = self->host_.lockOwner(self->conn_);
    StoreClient* store = &self->host_.store();
    auto lease = static_cast<uint32_t>(self->lock_lease_.count());
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
      s->host_.requestLogin(s->conn_, canonical, [weak, canonical](bool ok, const std::string& reason) {
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
        s2->openMailbox();
      });
    });
  });
}

void Session::authFailed(const std::string& user, const Error& e) {
  log::info("login failed", {{"proc", "pop3d"},
                             {"session", sid_},
                             {"user", user},
                             {"ip", peer_},
                             {"reason", std::string(errorName(e.code))}});
  if (e.code != ErrorCode::kAuthFailed) {
    send(errorReply(e));
    done();
    return;
  }
  // A fixed delay slows password guessing; other sessions carry on.
  std::weak_ptr<Session> weak = weak_from_this();
  delay_timer_ = loop_.after(auth_fail_delay_, [weak] {
    auto s = weak.lock();
    if (!s || s->closed_) return;
    s->delay_timer_ = 0;
    s->send("-ERR [AUTH] Authentication failed\r\n");
    s->done();
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
  std::weak_ptr<Session> weak = weak_from_this();
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
