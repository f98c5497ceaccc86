// The POP3 commands (RFC 1939 sections 4-7, RFC 2449 CAPA). Each handler
// receives a parsed Command; store results come back through done().
#include <algorithm>
#include <iterator>
#include <string>

#include "log.h"
#include "pop3d/error_map.h"
#include "pop3d/proto/dot_stuff.h"
#include "pop3d/session.h"

namespace postern::pop3d {

void Session::execute(const Command& cmd) {
  if (!cmd.error.empty()) return bad(cmd.error);
  // Commands valid in both states.
  switch (cmd.verb) {
    case Verb::kCapa:
      bad_in_a_row_ = 0;
      return cmdCapa();
    case Verb::kQuit:
      bad_in_a_row_ = 0;
      return cmdQuit();
    default:
      break;
  }
  if (state_ == State::kAuthorization) {
    switch (cmd.verb) {
      case Verb::kUser:
        bad_in_a_row_ = 0;
        if (!plaintextAllowed()) {
          // RFC 2595 section 2.3: no clear-text password without TLS
          // (USER is not in CAPA then); refused here, before PASS.
          send(starttlsOffered() ? "-ERR [AUTH] Plaintext authentication is disallowed without TLS; use STLS\r\n"
                                 : "-ERR [AUTH] Plaintext authentication is disallowed without TLS\r\n");
          return;
        }
        user_pending_ = cmd.arg;
        send("+OK Send your password\r\n");
        return;
      case Verb::kStls:
        bad_in_a_row_ = 0;
        return cmdStls();
      case Verb::kPass:
        bad_in_a_row_ = 0;
        return cmdPass(cmd);
      case Verb::kAuth:
        bad_in_a_row_ = 0;
        return cmdAuth(cmd);
      default:
        return bad("Not logged in: use USER and PASS");
    }
  }
  switch (cmd.verb) {
    case Verb::kUser:
    case Verb::kPass:
    case Verb::kAuth:
    case Verb::kStls:
      return bad("Already logged in");
    case Verb::kUnknown:
      return bad("Unknown command");
    default:
      break;
  }
  bad_in_a_row_ = 0;
  switch (cmd.verb) {
    case Verb::kStat:
      return cmdStat();
    case Verb::kList:
      return cmdList(cmd, false);
    case Verb::kUidl:
      return cmdList(cmd, true);
    case Verb::kRetr:
      return cmdRetr(cmd, false);
    case Verb::kTop:
      return cmdRetr(cmd, true);
    case Verb::kDele:
      return cmdDele(cmd);
    case Verb::kRset:
      return cmdRset();
    case Verb::kNoop:
      send("+OK\r\n");
      return;
    default:
      return bad("Unknown command");
  }
}

void Session::bad(const std::string& reason) {
  if (++bad_in_a_row_ >= kMaxBadCommands) {
    log::info("too many bad commands",
              {{"proc", "pop3d"}, {"session", sid_}, {"user", user_}, {"ip", peer_}});
    // Not UPDATE: nothing DELE'd is deleted (closeNow frees the maildrop).
    send("-ERR Too many errors, closing connection\r\n");
    closeAfterFlush();
    return;
  }
  send("-ERR " + reason + "\r\n");
}

// Exactly what is implemented (RFC 2449 section 6). EXPIRE and
// LOGIN-DELAY come from policyCapa() (session_policy.cc): before login
// they depend on every user's settings, so stored is asked first.
void Session::cmdCapa() {
  if (state_ != State::kAuthorization) return sendCapa(policyCapa());
  busy_ = true;
  std::weak_ptr<Session> weak = weakSelf();
  host_.store().userSettingsSummary([weak](Result<StoreClient::SettingsSummary> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    // Without stored the server's own values are still true for most users.
    self->sendCapa(policyCapa(self->host_.config(), r.ok() ? *r : StoreClient::SettingsSummary{}));
    self->done();
  });
}

// USER and SASL PLAIN only where a plaintext password is accepted; STLS
// (RFC 2595 section 4) while TLS can still be started.
void Session::sendCapa(const std::string& policy) {
  std::string capa = "+OK Capability list follows\r\nTOP\r\nUIDL\r\n";
  if (plaintextAllowed()) capa += "USER\r\n";
  std::string mechs;
  for (const auto& m : sasl::advertised(saslContext())) mechs += (mechs.empty() ? "" : " ") + m;
  capa += "SASL " + mechs + "\r\n";  // RFC 5034 section 3
  if (state_ == State::kAuthorization && starttlsOffered()) capa += "STLS\r\n";
  capa +=
      "RESP-CODES\r\n"
      "PIPELINING\r\n"
      "AUTH-RESP-CODE\r\n" +
      policy +
      "IMPLEMENTATION Postern\r\n"
      ".\r\n";
  send(capa);
}

// RFC 2595 section 4: only in AUTHORIZATION; TLS starts right after the
// +OK, and the client must send CAPA again.
void Session::cmdStls() {
  if (sock_.tls()) {
    send("-ERR Command not permitted when TLS active\r\n");
    return;
  }
  if (!starttlsOffered()) {
    send("-ERR STLS is not available on this connection\r\n");
    return;
  }
  user_pending_.clear();
  beginStarttls();
  send("+OK Begin TLS negotiation\r\n");
}

void Session::openMailbox() {
  std::weak_ptr<Session> weak = weakSelf();
  host_.store().selectMailbox(user_, "INBOX", false, [weak](Result<SelectedMailbox> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) {
      log::warn("cannot open INBOX", {{"proc", "pop3d"},
                                      {"session", self->sid_},
                                      {"user", self->user_},
                                      {"ip", self->peer_},
                                      {"error", r.error().message}});
      // The master already counts this login; closing keeps its count exact.
      self->send(errorReply(r.error()));
      self->busy_ = false;
      self->closeAfterFlush();
      return;
    }
    self->mailbox_id_ = r->mailbox.id;
    self->uidvalidity_ = r->mailbox.uidvalidity;
    self->msgs_.clear();
    self->msgs_.reserve(r->messages.size());
    uint64_t total = 0;
    for (const auto& m : r->messages) {
      self->msgs_.push_back({m.uid, m.size, false});
      total += m.size;
    }
    self->state_ = State::kTransaction;
    self->authenticated();  // the pre-authentication timer stops
    self->renewLock();
    log::info("login", {{"proc", "pop3d"},
                        {"session", self->sid_},
                        {"user", self->user_},
                        {"ip", self->peer_},
                        {"messages", std::to_string(self->msgs_.size())}});
    self->send("+OK Logged in, " + std::to_string(self->msgs_.size()) + " messages (" +
               std::to_string(total) + " octets)\r\n");
    self->done();
  });
}

Session::Msg* Session::findMsg(uint32_t n, std::string* err) {
  if (n == 0 || n > msgs_.size()) {
    *err = "No such message";
    return nullptr;
  }
  Msg* m = &msgs_[n - 1];
  if (m->deleted) {
    *err = "Message " + std::to_string(n) + " already deleted";
    return nullptr;
  }
  return m;
}

// "<UIDVALIDITY>.<UID>" of the message in INBOX. Both are stored in LMDB
// with the message, so the value is the same in every session, after
// restarts and after a backup is restored. It is unique within the
// maildrop: UIDs are never reused within one UIDVALIDITY, and INBOX gets a
// new UIDVALIDITY (from stored's UIDVALIDITY clock) only when it is
// recreated, in which case every message is new to the client anyway. At
// most 21 printable octets, within RFC 1939's 1..70 of 0x21..0x7E.
std::string Session::uniqueId(const Msg& m) const {
  return std::to_string(uidvalidity_) + "." + std::to_string(m.uid);
}

void Session::cmdStat() {
  uint64_t count = 0, total = 0;
  for (const auto& m : msgs_) {
    if (m.deleted) continue;
    ++count;
    total += m.size;
  }
  send("+OK " + std::to_string(count) + " " + std::to_string(total) + "\r\n");
}

void Session::cmdList(const Command& cmd, bool uidl) {
  auto value = [&](const Msg& m) { return uidl ? uniqueId(m) : std::to_string(m.size); };
  if (cmd.has_msg) {
    std::string err;
    Msg* m = findMsg(cmd.msg, &err);
    if (!m) {
      send("-ERR " + err + "\r\n");
      return;
    }
    send("+OK " + std::to_string(cmd.msg) + " " + value(*m) + "\r\n");
    return;
  }
  std::string out = "+OK\r\n";
  for (size_t i = 0; i < msgs_.size(); ++i) {
    if (msgs_[i].deleted) continue;
    out += std::to_string(i + 1) + " " + value(msgs_[i]) + "\r\n";
  }
  out += ".\r\n";
  send(out);
}

void Session::answerRetr(size_t index, bool top, uint32_t lines, const std::string& body) {
  std::string_view text = top ? topOf(body, lines) : std::string_view(body);
  if (top) {
    out_ += "+OK Top of message follows\r\n";
  } else {
    out_ += "+OK " + std::to_string(body.size()) + " octets\r\n";
  }
  appendDotStuffed(text, &out_);
  if (!top) msgs_[index].retrieved = true;
  flush();
}

void Session::cmdRetr(const Command& cmd, bool top) {
  std::string err;
  Msg* m = findMsg(cmd.msg, &err);
  if (!m) {
    send("-ERR " + err + "\r\n");
    return;
  }
  uint32_t lines = cmd.lines;
  size_t index = cmd.msg - 1;
  // Sequential RETRs widen the read-ahead window; anything else resets it.
  bool sequential = !top && last_retr_ != SIZE_MAX && index == last_retr_ + 1;
  if (!top) {
    window_ = sequential ? std::min(window_ * 2, kReadAheadMax) : 1;
    last_retr_ = index;
  }
  if (auto hit = read_ahead_.find(index); hit != read_ahead_.end()) {
    std::string body = std::move(hit->second);
    read_ahead_.erase(read_ahead_.begin(), std::next(hit));  // and anything before it
    answerRetr(index, top, lines, body);
    return;
  }
  read_ahead_.clear();
  // The message asked for, then (sequential RETR only) the next ones not
  // deleted, within the window and the byte budget.
  std::vector<uint32_t> uids{m->uid};
  std::vector<std::pair<uint32_t, size_t>> ahead;  // uid -> index
  if (sequential) {
    size_t budget = kReadAheadBytes;
    for (size_t i = index + 1; i < msgs_.size() && ahead.size() + 1 < window_; ++i) {
      if (msgs_[i].deleted) continue;
      if (msgs_[i].size > budget) break;
      budget -= msgs_[i].size;
      uids.push_back(msgs_[i].uid);
      ahead.emplace_back(msgs_[i].uid, i);
    }
  }
  busy_ = true;
  auto answered = std::make_shared<bool>(false);
  std::weak_ptr<Session> weak = weakSelf();
  uint32_t uid = m->uid;
  auto on_body = [weak, top, lines, index, uid, ahead, answered](uint32_t got, Result<std::string> body) {
    auto self = weak.lock();
    if (!self || self->closed_ || self->closing_) return true;
    if (got != uid || *answered) {
      // Read ahead: keep it for the RETR that follows. A message that
      // cannot be read is left out; its own RETR reports why.
      for (const auto& [u, i] : ahead)
        if (u == got && body.ok()) self->read_ahead_[i] = std::move(*body);
      return true;
    }
    *answered = true;
    if (!body.ok()) {
      // Expunged by another session is an ordinary event; anything else is worth a warning.
      log::write(body.error().code == ErrorCode::kExpunged ? log::Level::kInfo : log::Level::kWarn,
                 "message unreadable",
                 {{"proc", "pop3d"},
                  {"session", self->sid_},
                  {"user", self->user_},
                  {"error", body.error().message}});
      self->send(messageErrorReply(body.error()));
      return true;
    }
    self->answerRetr(index, top, lines, *body);
    if (self->closed_) return true;
    if (self->pendingOutput() > kOutHigh) {
      self->stream_paused_ = true;
      return false;
    }
    return true;
  };
  auto on_done = [weak, answered](Error e) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->stream_.reset();
    self->stream_paused_ = false;
    if (self->closing_) return;
    if (!*answered) {
      *answered = true;
      self->read_ahead_.clear();
      self->send(e.ok() ? messageErrorReply(Error{ErrorCode::kNotFound, ""}) : messageErrorReply(e));
    }
    self->done();
  };
  auto stream = host_.store().fetchBodies(user_, mailbox_id_, std::move(uids), on_body, on_done);
  if (!*answered || busy_) stream_ = std::move(stream);  // unless it already finished
}

void Session::cmdDele(const Command& cmd) {
  std::string err;
  Msg* m = findMsg(cmd.msg, &err);
  if (!m) {
    send("-ERR " + err + "\r\n");
    return;
  }
  m->deleted = true;
  send("+OK Message " + std::to_string(cmd.msg) + " deleted\r\n");
}

void Session::cmdRset() {
  uint64_t total = 0;
  for (auto& m : msgs_) {
    m.deleted = false;
    total += m.size;
  }
  send("+OK " + std::to_string(msgs_.size()) + " messages (" + std::to_string(total) + " octets)\r\n");
}

void Session::cmdQuit() {
  if (state_ != State::kTransaction) {
    send("+OK Postern POP3 signing off\r\n");
    closeAfterFlush();
    return;
  }
  state_ = State::kUpdate;
  busy_ = true;
  update();
}

void Session::update() {
  std::vector<uint32_t> seen, retrieved, dele;
  // RFC 2449 EXPIRE 0: the client may not leave mail on the server, so what
  // it retrieved goes with what it deleted.
  bool keep_none = settings_.expire_days == 0;
  for (const auto& m : msgs_) {
    if (m.deleted || (m.retrieved && keep_none)) {
      dele.push_back(m.uid);
    } else if (m.retrieved) {
      retrieved.push_back(m.uid);
      if (settings_.mark_seen) seen.push_back(m.uid);
    }
  }
  std::weak_ptr<Session> weak = weakSelf();
  // One expunge call for every DELE'd message: stored applies it in one
  // transaction, so either all are gone or none. Uids another session
  // expunged meanwhile are skipped by stored; the reply counts the rest.
  auto expunge = [weak, dele = std::move(dele)] {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    // An empty uid list would mean "every message" to the store.
    if (dele.empty()) return self->signOff("+OK Postern POP3 signing off\r\n");
    self->host_.store().expunge(
        self->user_, self->mailbox_id_, dele, false, [weak](Result<std::vector<uint32_t>> r) {
          auto s = weak.lock();
          if (!s || s->closed_) return;
          if (!r.ok()) {
            log::warn(
                "expunge failed",
                {{"proc", "pop3d"}, {"session", s->sid_}, {"user", s->user_}, {"error", r.error().message}});
            return s->signOff("-ERR [SYS/TEMP] Some deleted messages not removed\r\n");
          }
          s->signOff("+OK Postern POP3 signing off (" + std::to_string(r->size()) + " messages deleted)\r\n");
        });
  };
  // The first retrieval time of each message kept, which EXPIRE counts
  // from (whatever pop3.expire is now: a later policy applies to it too).
  // Recorded only here: a session that never reaches UPDATE records none.
  auto stamp = [weak, expunge, retrieved = std::move(retrieved)] {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (retrieved.empty()) return expunge();
    self->host_.store().markRetrieved(self->user_, self->mailbox_id_, retrieved, [weak, expunge](Error e) {
      auto s = weak.lock();
      if (!s || s->closed_) return;
      if (!e.ok()) {
        // Not fatal: an unstamped message is only kept longer.
        log::warn("cannot record retrieval times",
                  {{"proc", "pop3d"}, {"session", s->sid_}, {"user", s->user_}, {"error", e.message}});
      }
      expunge();
    });
  };
  if (seen.empty()) return stamp();
  // \Seen for IMAP, set only now (as Dovecot does): a session that never
  // reaches UPDATE changes nothing. Unknown (expunged) uids are ignored.
  StoreFlagsArgs args;
  args.user = user_;
  args.mailbox_id = mailbox_id_;
  args.uids = std::move(seen);
  args.op = FlagOp::kAdd;
  args.flags = flag::kSeen;
  host_.store().storeFlags(std::move(args), [weak, stamp](Result<StoreFlagsResult> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) {
      log::warn(
          "cannot mark retrieved messages seen",
          {{"proc", "pop3d"}, {"session", self->sid_}, {"user", self->user_}, {"error", r.error().message}});
    }
    stamp();
  });
}

void Session::signOff(const std::string& text) {
  // Unlock before answering, so a client that logs in again right after
  // QUIT never meets its own lock.
  if (renew_timer_) loop_.cancel(renew_timer_);
  renew_timer_ = 0;
  std::string owner = std::move(lock_owner_);
  lock_owner_.clear();
  std::weak_ptr<Session> weak = weakSelf();
  auto finish = [weak, text](Error) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->busy_ = false;
    if (self->closing_) return;
    self->send(text);
    self->closeAfterFlush();
  };
  if (owner.empty()) return finish(Error::none());
  host_.store().releaseLock(lock_user_, kLockName, owner, finish);
}

}  // namespace postern::pop3d
