// The POP3 commands (RFC 1939 sections 4-7, RFC 2449 CAPA). Each handler
// receives a parsed Command; store results come back through done().
#include <string>

#include "log.h"
#include "pop3d/error_map.h"
#include "pop3d/proto/dot_stuff.h"
#include "pop3d/session.h"

namespace postern::pop3d {

void Session::execute(const Command& cmd) {
  if (!cmd.error.empty()) {
    send("-ERR " + cmd.error + "\r\n");
    return;
  }
  // Commands valid in both states.
  switch (cmd.verb) {
    case Verb::kCapa:
      return cmdCapa();
    case Verb::kQuit:
      return cmdQuit();
    default:
      break;
  }
  if (state_ == State::kAuthorization) {
    switch (cmd.verb) {
      case Verb::kUser:
        user_pending_ = cmd.arg;
        send("+OK Send your password\r\n");
        return;
      case Verb::kPass:
        return cmdPass(cmd);
      default:
        send("-ERR Not logged in: use USER and PASS\r\n");
        return;
    }
  }
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
    case Verb::kUser:
    case Verb::kPass:
      send("-ERR Already logged in\r\n");
      return;
    default:
      send("-ERR Unknown command\r\n");
      return;
  }
}

void Session::cmdCapa() {
  send(
      "+OK Capability list follows\r\n"
      "TOP\r\n"
      "UIDL\r\n"
      "USER\r\n"
      "RESP-CODES\r\n"
      "PIPELINING\r\n"
      "AUTH-RESP-CODE\r\n"
      "IMPLEMENTATION Postern\r\n"
      ".\r\n");
}

void Session::cmdPass(const Command& cmd) {
  if (user_pending_.empty()) {
    send("-ERR USER first\r\n");
    return;
  }
  std::string user = std::move(user_pending_);
  user_pending_.clear();
  busy_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  auto fail = [weak, user](const Error& e) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    log::info("login failed", {{"proc", "pop3d"},
                               {"session", self->sid_},
                               {"user", user},
                               {"ip", self->peer_},
                               {"reason", std::string(errorName(e.code))}});
    if (e.code != ErrorCode::kAuthFailed) {
      self->send(errorReply(e));
      self->done();
      return;
    }
    // A fixed delay slows password guessing; other sessions carry on.
    self->delay_timer_ = self->loop_.after(self->auth_fail_delay_, [weak] {
      auto s = weak.lock();
      if (!s || s->closed_) return;
      s->delay_timer_ = 0;
      s->send("-ERR [AUTH] Authentication failed\r\n");
      s->done();
    });
  };
  host_.store().authenticate(user, cmd.arg, "pop3", [weak, fail](Result<std::string> r) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    if (!r.ok()) return fail(r.error());
    std::string canonical = r.value();
    self->host_.requestLogin(self->conn_, canonical, [weak, canonical](bool ok, const std::string& reason) {
      auto s = weak.lock();
      if (!s || s->closed_) return;
      if (!ok) {
        log::info("login refused", {{"proc", "pop3d"},
                                    {"session", s->sid_},
                                    {"user", canonical},
                                    {"ip", s->peer_},
                                    {"reason", reason}});
        s->send(loginRefusedReply(reason));
        s->done();
        return;
      }
      s->user_ = canonical;
      s->openMailbox();
    });
  });
}

void Session::openMailbox() {
  std::weak_ptr<Session> weak = weak_from_this();
  host_.store().selectMailbox(user_, "INBOX", [weak](Result<SelectedMailbox> r) {
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

void Session::cmdRetr(const Command& cmd, bool top) {
  std::string err;
  Msg* m = findMsg(cmd.msg, &err);
  if (!m) {
    send("-ERR " + err + "\r\n");
    return;
  }
  busy_ = true;
  uint32_t lines = cmd.lines;
  auto answered = std::make_shared<bool>(false);
  std::weak_ptr<Session> weak = weak_from_this();
  auto on_body = [weak, top, lines, answered](uint32_t, Result<std::string> body) {
    auto self = weak.lock();
    if (!self || self->closed_ || self->closing_) return true;
    if (*answered) return true;  // one uid asked for; ignore extras
    *answered = true;
    if (!body.ok()) {
      log::warn("message unreadable", {{"proc", "pop3d"},
                                       {"session", self->sid_},
                                       {"user", self->user_},
                                       {"error", body.error().message}});
      self->send(messageErrorReply(body.error()));
      return true;
    }
    std::string_view text = top ? topOf(*body, lines) : std::string_view(*body);
    if (top) {
      self->out_ += "+OK Top of message follows\r\n";
    } else {
      self->out_ += "+OK " + std::to_string(body->size()) + " octets\r\n";
    }
    appendDotStuffed(text, &self->out_);
    self->flush();
    if (self->closed_) return true;
    if (self->out_.size() - self->out_off_ > kOutHigh) {
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
      self->send(e.ok() ? messageErrorReply(Error{ErrorCode::kNotFound, ""}) : messageErrorReply(e));
    }
    self->done();
  };
  auto stream = host_.store().fetchBodies(user_, mailbox_id_, {m->uid}, on_body, on_done);
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
  std::vector<uint32_t> uids;
  for (const auto& m : msgs_) {
    if (m.deleted) uids.push_back(m.uid);
  }
  // An empty uid list would mean "every message" to the store.
  if (uids.empty()) {
    send("+OK Postern POP3 signing off\r\n");
    closeAfterFlush();
    return;
  }
  busy_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  size_t asked = uids.size();
  host_.store().expunge(user_, mailbox_id_, std::move(uids), false,
                        [weak, asked](Result<std::vector<uint32_t>> r) {
                          auto self = weak.lock();
                          if (!self || self->closed_) return;
                          self->busy_ = false;
                          if (self->closing_) return;
                          if (!r.ok()) {
                            log::warn("expunge failed", {{"proc", "pop3d"},
                                                         {"session", self->sid_},
                                                         {"user", self->user_},
                                                         {"error", r.error().message}});
                            self->send("-ERR [SYS/TEMP] Some deleted messages not removed\r\n");
                          } else {
                            // Messages another session already removed count as deleted.
                            self->send("+OK Postern POP3 signing off (" + std::to_string(asked) +
                                       " messages deleted)\r\n");
                          }
                          self->closeAfterFlush();
                        });
}

}  // namespace postern::pop3d
