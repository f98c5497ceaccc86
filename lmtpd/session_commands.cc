// The LMTP commands (RFC 2033; RFC 5321 for the shared ones). Each handler
// receives a parsed Command; store results come back through done().
#include <ctime>
#include <map>
#include <string>

#include "lmtpd/error_map.h"
#include "lmtpd/proto/address.h"
#include "lmtpd/proto/trace.h"
#include "lmtpd/session.h"
#include "log.h"
#include "message.h"

namespace postern::lmtpd {

void Session::resetTransaction() {
  have_mail_ = false;
  sender_.clear();
  rcpts_.clear();
  data_.reset();
}

void Session::execute(const Command& cmd) {
  if (!cmd.error.empty()) {
    reply(cmd.error);
    return;
  }
  switch (cmd.verb) {
    case Verb::kLhlo:
      return cmdLhlo(cmd);
    case Verb::kMail:
      return cmdMail(cmd);
    case Verb::kRcpt:
      return cmdRcpt(cmd);
    case Verb::kData:
      return cmdData();
    case Verb::kRset:
      resetTransaction();
      reply("250 2.0.0 Ok");
      return;
    case Verb::kNoop:
      reply("250 2.0.0 Ok");
      return;
    case Verb::kVrfy:
      reply("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
      return;
    case Verb::kHelp:
      reply("214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY");
      return;
    case Verb::kStarttls:
      return cmdStarttls();
    case Verb::kQuit:
      reply("221 2.0.0 " + host_name_ + " closing connection");
      closeAfterFlush();
      return;
    default:
      reply("500 5.5.2 Unknown command");
      return;
  }
}

void Session::cmdLhlo(const Command& cmd) {
  resetTransaction();
  lhlo_ = cmd.arg;
  reply("250-" + host_name_);
  reply("250-PIPELINING");
  reply("250-ENHANCEDSTATUSCODES");
  reply("250-8BITMIME");
  if (starttlsOffered()) reply("250-STARTTLS");
  reply("250 SIZE " + std::to_string(host_.config().message_size_limit));
}

// RFC 3207 section 4 (over LMTP): TLS right after the 220; the client
// starts again with LHLO and the server forgets everything it was told.
void Session::cmdStarttls() {
  if (sock_.tls()) {
    reply("503 5.5.1 TLS already active");
    return;
  }
  if (!starttlsOffered()) {
    reply("454 4.7.0 TLS not available");
    return;
  }
  resetTransaction();
  lhlo_.clear();
  beginStarttls();
  reply("220 2.0.0 Ready to start TLS");
}

void Session::cmdMail(const Command& cmd) {
  if (lhlo_.empty()) {
    reply("503 5.5.1 Send LHLO first");
    return;
  }
  if (have_mail_) {
    reply("503 5.5.1 Nested MAIL command");
    return;
  }
  if (cmd.has_size && cmd.size > host_.config().message_size_limit) {
    reply("552 5.3.4 Message size exceeds fixed maximum message size");
    return;
  }
  have_mail_ = true;
  sender_ = cmd.address;
  reply("250 2.1.0 Ok");
}

void Session::cmdRcpt(const Command& cmd) {
  if (!have_mail_) {
    reply("503 5.5.1 MAIL first");
    return;
  }
  if (rcpts_.size() >= kMaxRecipients) {
    reply("452 4.5.3 Too many recipients");
    return;
  }
  Recipient r = mapRecipient(cmd.address, host_.config().lmtp_domains);
  if (!r.ok) {
    reply(r.error);
    return;
  }
  if (host_.knownUsers().known(r.user)) {  // seen to exist moments ago: no round trip
    rcpts_.push_back({cmd.address, r.user});
    reply("250 2.1.5 <" + cmd.address + "> Ok");
    return;
  }
  busy_ = true;
  std::weak_ptr<Session> weak = weakSelf();
  std::string address = cmd.address;
  std::string user = r.user;
  host_.store().userExists({user}, [weak, address, user](Result<std::vector<bool>> res) {
    auto self = weak.lock();
    if (!self || self->closed_ || self->closing_) return;  // closing: 421 already sent
    if (!res.ok()) {
      log::warn("user lookup failed", {{"proc", "lmtpd"},
                                       {"session", self->sid_},
                                       {"user", user},
                                       {"error", res.error().message}});
      self->reply(commandErrorReply(res.error()));
    } else if (res->empty() || !(*res)[0]) {
      self->reply("550 5.1.1 <" + address + "> User unknown");
    } else {
      self->host_.knownUsers().remember(user);
      self->rcpts_.push_back({address, user});
      self->reply("250 2.1.5 <" + address + "> Ok");
    }
    self->done();
  });
}

void Session::cmdData() {
  if (!have_mail_) {
    reply("503 5.5.1 MAIL first");
    return;
  }
  if (rcpts_.empty()) {
    reply("503 5.5.1 No valid recipients");
    return;
  }
  reply("354 Start mail input; end with <CRLF>.<CRLF>");
  data_ = std::make_unique<DataReader>(host_.config().message_size_limit);
}

void Session::finishData() {
  std::unique_ptr<DataReader> data = std::move(data_);
  ++transactions_;
  if (data->tooBig()) {
    log::info("message too big", {{"proc", "lmtpd"},
                                  {"session", sid_},
                                  {"ip", peer_},
                                  {"size", std::to_string(data->size())}});
    for (const auto& r : rcpts_) reply("552 5.3.4 <" + r.address + "> Message too big for system");
    resetTransaction();
    return;
  }
  TraceInfo trace;
  trace.sender = sender_;
  trace.lhlo = lhlo_;
  trace.peer = peer_;
  trace.host = host_name_;
  trace.id = sid_ + "-" + std::to_string(transactions_);
  if (rcpts_.size() == 1) trace.recipient = rcpts_[0].address;
  trace.when = std::time(nullptr);
  std::string body = traceHeaders(trace);
  body += data->body();
  data.reset();
  std::string normalized = normalizeCrlf(body);
  body.clear();
  body.shrink_to_fit();

  // One store call for all recipients; a user named twice gets one copy and
  // both RCPTs get its result.
  std::vector<std::string> users;
  std::map<std::string, size_t> index;
  std::vector<size_t> slot;
  for (const auto& r : rcpts_) {
    auto [it, inserted] = index.emplace(r.user, users.size());
    if (inserted) users.push_back(r.user);
    slot.push_back(it->second);
  }
  std::vector<Rcpt> rcpts = std::move(rcpts_);
  resetTransaction();
  busy_ = true;
  delivering_ = true;
  size_t bytes = normalized.size();
  std::weak_ptr<Session> weak = weakSelf();
  host_.store().deliver(users, "INBOX", std::move(normalized),
                        [weak, rcpts, slot, bytes](Result<std::vector<Error>> res) {
                          auto self = weak.lock();
                          if (!self || self->closed_) return;
                          self->delivering_ = false;
                          for (size_t i = 0; i < rcpts.size(); ++i) {
                            Error e;
                            if (!res.ok()) {
                              e = res.error();
                            } else if (slot[i] < res->size()) {
                              e = (*res)[slot[i]];
                            } else {
                              e = Error{ErrorCode::kInternal, "store returned too few results"};
                            }
                            if (e.ok()) ++self->delivered_;
                            if (e.code == ErrorCode::kNotFound) self->host_.knownUsers().forget(rcpts[i].user);
                            log::info(e.ok() ? "delivered" : "delivery failed",
                                      {{"proc", "lmtpd"},
                                       {"session", self->sid_},
                                       {"user", rcpts[i].user},
                                       {"ip", self->peer_},
                                       {"size", std::to_string(bytes)},
                                       {"error", e.ok() ? std::string() : e.message}});
                            self->reply(deliveryReply(e, rcpts[i].address));
                          }
                          if (self->shutdown_requested_) {
                            self->busy_ = false;
                            self->reply("421 4.3.2 Service shutting down");
                            self->closeAfterFlush();
                            return;
                          }
                          self->done();
                        });
}

}  // namespace postern::lmtpd
