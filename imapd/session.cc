#include "session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "command.h"
#include "log.h"
#include "server.h"
#include "worker.h"

namespace postern::imapd {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kOutputHighWater = 1 << 20;  // stop reading commands above this
constexpr size_t kOutputLowWater = 256 * 1024;
constexpr std::chrono::milliseconds kResyncRetry{1000};  // a failed re-read in IDLE, doubling
constexpr std::chrono::milliseconds kResyncRetryMax{30000};

imap::ParserLimits limitsFrom(const Config& c, bool authenticated) {
  imap::ParserLimits l;
  l.maxLineLength = c.imap_max_line;
  l.maxAppendLiteral = static_cast<size_t>(c.message_size_limit);
  l.maxCommandSize = static_cast<size_t>(c.message_size_limit) + 2 * c.imap_max_line + (1 << 20);
  if (!authenticated) {
    // APPEND needs a login: until then no literal may be message-sized, so
    // a crowd of unauthenticated connections cannot make the worker buffer
    // message_size_limit octets each.
    l.maxAppendLiteral = l.maxLiteral;
    l.maxCommandSize = l.maxLiteral + 2 * c.imap_max_line + (64 << 10);
  }
  return l;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Session::Session(Server& server, int fd, uint64_t conn, std::string peer, tls::Security sec)
    : server_(server), fd_(fd), conn_(conn), peer_(std::move(peer)), sec_(sec), stream_(fd),
      parser_(limitsFrom(server.runtime().config(), false)) {
  id_ = server.runtime().name() + "/" + std::to_string(conn);
  started_ = last_input_ = EventLoop::now();
  ++alive_;
}

Session::~Session() {
  if (!closed_ && fd_ >= 0) close(fd_);
  --alive_;
}

std::atomic<int> Session::alive_{0};

WorkerRuntime& Session::runtime() { return server_.runtime(); }
StoreClient& Session::store() { return server_.runtime().store(); }

void Session::start() {
  interest_ = EPOLLIN | EPOLLRDHUP;
  auto weak = weak_from_this();
  runtime().loop().add(fd_, interest_, [weak](uint32_t ev) {
    if (auto s = weak.lock()) s->onEvents(ev);
  });
  log::info("connect", {{"session", id_}, {"ip", peer_}, {"proto", sec_.implicit_tls ? "imaps" : "imap"}});
  if (sec_.implicit_tls) {
    // RFC 8314: TLS from the first byte; the greeting waits in out_ and
    // goes out encrypted once the handshake is done.
    if (Error e = stream_.startTls(runtime().tlsContext()); !e.ok()) {
      log::warn("implicit TLS unavailable", {{"session", id_}, {"ip", peer_}, {"error", e.message}});
      closeNow(e.message);
      return;
    }
  }
  write("* OK [CAPABILITY " + capabilities(*this) + "] Postern IMAP4rev1 ready.\r\n");
  armTimeout();
}

void Session::setState(State s) {
  bool was_preauth = state_ == State::kNotAuthenticated;
  state_ = s;
  if (was_preauth && s != State::kNotAuthenticated) parser_.setLimits(limitsFrom(runtime().config(), true));
  if (was_preauth && s != State::kNotAuthenticated && timeout_timer_ && !closed_) {
    runtime().loop().cancel(timeout_timer_);
    timeout_timer_ = 0;
    armTimeout();
  }
}

std::chrono::steady_clock::time_point Session::idleSince() const {
  // Before login the clock runs from the connection: sending NOOPs does not
  // buy a client that never logs in more time.
  return state_ == State::kNotAuthenticated ? started_ : last_input_;
}

std::chrono::seconds Session::idleLimit() const {
  // Before login a connection only holds a slot that a hostile client
  // would hoard: auth.preauth_timeout from the connection. After it,
  // imap.timeout of silence (RFC 3501 5.4: at least 30 minutes; IDLE
  // clients re-issue IDLE well within).
  const Config& c = server_.runtime().config();
  return std::chrono::seconds(state_ == State::kNotAuthenticated ? c.auth_preauth_timeout_s : c.imap_timeout_s);
}

void Session::armTimeout() {
  auto weak = weak_from_this();
  auto due = idleSince() + idleLimit();
  auto now = EventLoop::now();
  auto wait = due > now ? std::chrono::duration_cast<std::chrono::milliseconds>(due - now)
                        : std::chrono::milliseconds(0);
  timeout_timer_ = runtime().loop().after(wait + std::chrono::milliseconds(10), [weak] {
    auto s = weak.lock();
    if (!s || s->closed_) return;
    s->timeout_timer_ = 0;
    if (EventLoop::now() - s->idleSince() >= s->idleLimit()) {
      log::info("autologout", {{"session", s->id_}, {"user", s->user_}, {"ip", s->peer_},
                               {"state", s->state_ == State::kNotAuthenticated ? "not authenticated" : ""}});
      s->bye(s->state_ == State::kNotAuthenticated ? "Autologout; no login in time" : "Autologout; idle for too long");
    } else {
      s->armTimeout();
    }
  });
}

void Session::onEvents(uint32_t ev) {
  auto keep = shared_from_this();
  if (ev & EPOLLERR) {
    closeNow("socket error");
    return;
  }
  if (!stream_.tls()) {
    if (ev & EPOLLOUT) flushOutput();
    if (closed_) return;
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) readInput();
    return;
  }
  // TLS: a read may need the socket writable and a write readable, so on
  // any event retry whatever is waiting; OpenSSL answers "want" cheaply.
  if (!stream_.handshakeDone()) {
    tls::Io io = stream_.handshake();
    if (io == tls::Io::kError || io == tls::Io::kEof) return ioFailed("handshake");
  }
  if (stream_.handshakeDone() && !tls_logged_) {
    tls_logged_ = true;
    log::info("tls", {{"session", id_}, {"ip", peer_}, {"tls", stream_.description()}});
  }
  if (pendingOutput() > 0) flushOutput();
  if (closed_) return;
  if (canRead() || (ev & (EPOLLHUP | EPOLLRDHUP))) readInput();
  if (!closed_) updateInterest();
}

void Session::ioFailed(const std::string& what) {
  if (stream_.tls() && !stream_.handshakeDone())
    log::info("TLS handshake failed", {{"session", id_}, {"ip", peer_}, {"error", stream_.lastError()}});
  closeNow(what + " error: " + stream_.lastError());
}

void Session::readInput() {
  char buf[kReadChunk];
  for (;;) {
    size_t n = 0;
    tls::Io io = stream_.read(buf, sizeof buf, &n);
    if (io == tls::Io::kEof) {
      closeNow("client closed the connection");
      return;
    }
    if (io == tls::Io::kError) return ioFailed("read");
    if (io != tls::Io::kOk) break;
    bytes_in_ += static_cast<uint64_t>(n);
    last_input_ = EventLoop::now();
    parser_.feed(buf, n);
    processInput();
    // Decrypted bytes left inside OpenSSL raise no epoll event: take them now.
    if (closed_ || !stream_.hasBuffered() || !canRead()) break;
  }
  updateInterest();
}

void Session::processInput() {
  auto keep = shared_from_this();
  while (!closed_ && !closing_) {
    if (raw_line_cb_) {
      auto line = parser_.nextLine();
      if (!line) break;
      auto cb = std::move(raw_line_cb_);
      raw_line_cb_ = nullptr;
      cb(std::move(*line));
      continue;
    }
    if (next_) {
      if (!tryStart(*next_)) break;
      next_.reset();
      continue;
    }
    if (running_.size() >= kMaxRunning) break;
    if (pendingOutput() > kOutputHighWater) break;
    // Before login nothing runs ahead: a LOGIN in flight changes the limits
    // the next command is parsed with.
    if (state_ == State::kNotAuthenticated && !running_.empty()) break;
    imap::ParseEvent ev = parser_.next();
    if (ev.kind == imap::ParseEvent::kNeedMore) break;
    if (ev.kind == imap::ParseEvent::kNeedContinuation) {
      write("+ Ready for literal data\r\n");
      continue;
    }
    next_ = prepare(std::move(ev));
  }
  updateInterest();
}

Session::Pending Session::prepare(imap::ParseEvent ev) {
  Pending p;
  if (ev.kind == imap::ParseEvent::kError) {
    log::info("bad input", {{"session", id_}, {"user", user_}, {"ip", peer_}, {"reason", ev.error.reason}});
    p.cmd.tag = ev.error.tag.empty() ? "*" : ev.error.tag;
    p.error = ev.error.reason;
    p.fatal = ev.error.fatal;
    return p;
  }
  p.cmd = std::move(ev.command);
  std::string name = p.cmd.name;
  if (name == "UID") {
    if (p.cmd.args.empty() || p.cmd.args[0].type != imap::Arg::kAtom) {
      p.error = "UID needs a command";
      return p;
    }
    name = upper(p.cmd.args[0].value);
    p.cmd.args.erase(p.cmd.args.begin());
    p.cmd.name = name;
    p.uid = true;
  }
  p.def = findCommand(name);
  if (!p.def || (p.uid && !(p.def->flags & kUidVariant))) {
    p.def = nullptr;
    p.error = "Unknown command " + std::string(p.uid ? "UID " : "") + name.substr(0, 40);
  }
  return p;
}

std::string Session::stateError(const CommandDef& def) const {
  if ((def.flags & kNotAuthOnly) && state_ != State::kNotAuthenticated) return "Already authenticated";
  if ((def.flags & (kAuthOnly | kSelectedOnly)) && state_ == State::kNotAuthenticated) return "Please log in first";
  if ((def.flags & kSelectedOnly) && state_ != State::kSelected) return "No mailbox selected";
  return {};
}

bool Session::tryStart(Pending& p) {
  if (!running_.empty()) {
    // Errors, and commands not valid in the current state, wait for every
    // earlier command: their BAD comes in order, and the state is checked
    // once the commands before them have changed it.
    if (!p.error.empty() || !p.def || !stateError(*p.def).empty()) return false;
    if (resync_needed_ && view_) return false;
    uint32_t f = effectiveFlags(*p.def, p.cmd, p.uid);
    for (const auto& r : running_)
      if (!mayRunBeside(r->flags(), f)) return false;
  }
  std::string err = p.error;
  if (err.empty() && p.def) err = stateError(*p.def);
  if (!err.empty()) {
    if (p.fatal) {
      bye(err);
      return true;
    }
    write(p.cmd.tag + " BAD " + err + "\r\n");
    noteBad();
    return true;
  }
  auto ctx = std::make_shared<CommandContext>(shared_from_this(), std::move(p.cmd), p.def, p.uid);
  running_.push_back(ctx);
  if (running_.size() == 1) ctx->becomeHead();
  if (resync_needed_ && view_ && !resyncing_) {
    // The change feed broke: catch up with the store before running anything.
    resyncing_ = true;
    auto self = shared_from_this();
    const uint64_t gen = view_gen_;
    store().selectMailbox(user_, view_->name(), false, [self, ctx, gen](Result<SelectedMailbox> r) {
      self->resyncing_ = false;
      if (!self->takeResync(r, gen) || self->closed_) return;
      ctx->def().run(*ctx);  // after a failed re-read too: the next command tries again
    });
    return true;
  }
  p.def->run(*ctx);
  return true;
}

void Session::noteBad() {
  if (++bad_in_a_row_ >= kMaxBadCommands) {
    log::info("too many invalid commands", {{"session", id_}, {"user", user_}, {"ip", peer_}});
    bye("Too many invalid IMAP commands.");
  }
}

void Session::claimThen(std::function<void()> next) {
  if (claiming_) return;  // the claim in flight runs its own continuation
  if (!view_ || closed_ || !view_->unclaimedNewPending()) return next();
  claiming_ = true;
  auto self = shared_from_this();
  uint32_t id = view_->id();
  store().claimRecent(user_, id, [self, id, next = std::move(next)](Result<std::pair<uint32_t, uint32_t>> r) {
    self->claiming_ = false;
    if (self->closed_) return;
    if (r.ok() && self->view_ && self->view_->id() == id) self->view_->addRecent(r->first, r->second);
    next();
    // A command that finished while the claim was in flight waited for it.
    if (!self->closed_ && !self->running_.empty() && self->running_.front()->finished()) self->commandFinished();
  });
}

void Session::pushUpdates() {
  // EXISTS goes out at once, with the RECENT count known so far; the
  // \Recent claim follows (flushUpdates) and, when this session got new
  // messages, a second RECENT with the new count: a client in IDLE waits
  // for no store round trip before it hears of new mail.
  if (!idling_ || closing_) return;  // nothing after a BYE
  flushUpdates(true, false);
  // Nothing else will be said in this turn (no tagged line follows in IDLE):
  // out now, not from a task posted behind every other session's.
  flushOutput();
}

void Session::commandFinished() {
  auto keep = shared_from_this();
  if (claiming_) return;  // the claim's continuation comes back here
  while (!running_.empty() && running_.front()->finished()) {
    if (claimed_for_ != running_.front().get() && view_ && view_->unclaimedNewPending()) {
      claimed_for_ = running_.front().get();
      auto weak = weak_from_this();
      return claimThen([weak] {
        if (auto s = weak.lock()) s->commandFinished();
      });
    }
    auto c = std::move(running_.front());
    running_.pop_front();
    claimed_for_ = nullptr;
    // EXPUNGE renumbers: while later commands run (their held responses
    // carry sequence numbers computed before it) it waits for a quieter time.
    flushUpdates(c->allowsExpunge() && running_.empty(), c->uid());
    write(c->taggedLine());
    if (!running_.empty()) running_.front()->becomeHead();
  }
  // Continue with pipelined input from the loop, not recursively.
  auto weak = weak_from_this();
  runtime().loop().post([weak] {
    if (auto s = weak.lock()) s->processInput();
  });
}

void Session::readRawLine(std::function<void(std::string)> cb) {
  raw_line_cb_ = std::move(cb);
  auto weak = weak_from_this();
  runtime().loop().post([weak] {
    if (auto s = weak.lock()) s->processInput();
  });
}

void Session::write(std::string_view data) {
  if (closed_ || data.empty()) return;
  out_.append(data);
  // One send() for everything a command says in one go (untagged lines,
  // the tagged line): flushed once the current event has been handled.
  // Large answers flush at once, so buffering stays bounded.
  if (pendingOutput() >= kReadChunk) return flushOutput();
  if (flush_posted_) return;
  flush_posted_ = true;
  auto weak = weak_from_this();
  runtime().loop().post([weak] {
    auto s = weak.lock();
    if (!s) return;
    s->flush_posted_ = false;
    if (!s->closed_) s->flushOutput();
  });
}

void Session::flushOutput() {
  while (!closed_ && out_pos_ < out_.size()) {
    size_t n = 0;
    tls::Io io = stream_.write(out_.data() + out_pos_, out_.size() - out_pos_, &n);
    if (io == tls::Io::kWantRead || io == tls::Io::kWantWrite) break;
    if (io != tls::Io::kOk) return ioFailed("write");
    out_pos_ += n;
    bytes_out_ += static_cast<uint64_t>(n);
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ > (1 << 20) && out_pos_ > out_.size() / 2) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
  if (closed_) return;
  if (starttls_ctx_ && pendingOutput() == 0) {
    // The tagged OK to STARTTLS is out, in the clear: TLS starts with the
    // next byte (RFC 3501 6.2.1).
    auto ctx = std::move(starttls_ctx_);
    starttls_ctx_ = nullptr;
    if (Error e = stream_.startTls(std::move(ctx)); !e.ok()) {
      closeNow("STARTTLS: " + e.message);
      return;
    }
  }
  if (pendingOutput() < kOutputLowWater && drain_cb_) {
    auto cb = std::move(drain_cb_);
    drain_cb_ = nullptr;
    cb();
  }
  if (closing_ && pendingOutput() == 0) {
    finishClose();
    return;
  }
  updateInterest();
}

void Session::onDrain(std::function<void()> cb) {
  drain_cb_ = std::move(cb);
  flushOutput();
}

bool Session::canRead() const {
  return !closing_ && !starttls_ctx_ &&
         (raw_line_cb_ || (!next_ && running_.size() < kMaxRunning &&
                           (state_ != State::kNotAuthenticated || running_.empty()))) &&
         pendingOutput() <= kOutputHighWater;
}

void Session::updateInterest() {
  if (closed_) return;
  bool can_read = canRead();
  uint32_t want = EPOLLRDHUP | stream_.interest(can_read, pendingOutput() > 0);
  if (want != interest_) {
    interest_ = want;
    runtime().loop().modify(fd_, want);
  }
  if (can_read && stream_.hasBuffered() && !reread_posted_) {
    reread_posted_ = true;
    auto weak = weak_from_this();
    runtime().loop().post([weak] {
      auto s = weak.lock();
      if (!s) return;
      s->reread_posted_ = false;
      if (!s->closed_ && s->canRead()) s->readInput();
    });
  }
}

bool Session::starttlsOffered() const {
  return sec_.starttls && !stream_.tls() && !starttls_ctx_ && server_.runtime().tlsContext() != nullptr;
}

bool Session::plaintextAllowed() const {
  return stream_.tls() || sec_.trusted || server_.runtime().config().auth_allow_plaintext;
}

void Session::beginStarttls(std::shared_ptr<tls::Context> ctx) {
  // Whatever followed STARTTLS in the same packet was sent before TLS and
  // must not run as if it came over TLS (command injection, CVE-2011-0411).
  if (parser_.buffered() > 0)
    log::info("discarded input pipelined after STARTTLS", {{"session", id_}, {"ip", peer_},
                                                           {"octets", std::to_string(parser_.buffered())}});
  parser_ = imap::Parser(parser_.limits());
  raw_line_cb_ = nullptr;
  starttls_ctx_ = std::move(ctx);
}

void Session::queueChange(const Change& c) {
  if (view_) view_->queue(c);
}

void Session::flushUpdates(bool allow_expunge, bool uid_cmd) {
  if (resync_needed_ && idling_ && view_ && !resyncing_) {
    resyncing_ = true;
    auto self = shared_from_this();
    const uint64_t gen = view_gen_;
    store().selectMailbox(user_, view_->name(), false, [self, gen](Result<SelectedMailbox> r) {
      self->resyncing_ = false;
      if (!self->takeResync(r, gen) || self->closed_) return;
      if (!r.ok()) {
        if (r.error().code == ErrorCode::kNotFound) {
          self->bye("Selected mailbox was deleted or renamed");
          return;
        }
        // Nothing else would try again while the client idles: the feed
        // holds nothing of this mailbox until the re-read succeeds. 1 s,
        // doubling to 30 s, spread so a store coming back is not hit by
        // every idle session at once.
        const auto wait = std::min(kResyncRetryMax, kResyncRetry * (1 << std::min(self->resync_failures_, 5))) *
                          (100 + int(std::hash<std::string>{}(self->id_) % 25)) / 100;
        self->resync_failures_++;
        std::weak_ptr<Session> weak = self;
        self->runtime().loop().after(wait, [weak] {
          if (auto s = weak.lock(); s && !s->closed_ && s->idling_) s->flushUpdates(true, false);
        });
        return;
      }
      self->resync_failures_ = 0;
      if (self->idling_) self->flushUpdates(true, false);
    });
    return;
  }
  if (view_ && view_->hasPending()) write(view_->flush(allow_expunge, uid_cmd));
  if (view_ && view_->takeClaimNeeded()) {
    // New messages were announced: claim the ones no session has seen as
    // \Recent yet (one store call for every session of this worker that
    // asks for the mailbox in the same turn: recent_claims.h); the count
    // follows at the next point updates may go out.
    std::weak_ptr<Session> weak = shared_from_this();
    uint32_t id = view_->id();
    server().recentClaims().request(user_, id, [weak, id](Result<RecentClaims::Range> r) {
      auto self = weak.lock();
      // Only a session that can still show it takes the range: not one on
      // its way out, nor one that has since EXAMINEd the mailbox.
      if (!self || self->closed_ || self->closing_ || !self->view_ || self->view_->id() != id ||
          self->view_->readOnly())
        return false;
      if (r.ok()) self->view_->addRecent(r->first, r->second);
      if (self->idling_) self->flushUpdates(true, false);
      return r.ok();
    });
  }
}

bool Session::takeResync(Result<SelectedMailbox>& r, uint64_t gen) {
  if (!r.ok()) return true;  // resync_needed_ stays
  if (closed_ || !view_ || view_gen_ != gen) {
    // The mailbox was left (or selected anew) meanwhile: the re-read's
    // hold on the feed goes back.
    server_.holdFeed(r->watcher, user_);
    server_.releaseFeed(r->watcher, user_);
    return true;
  }
  resync_needed_ = false;
  if (!resyncView(r.value())) {
    bye("[UIDVALIDITY] Mailbox UIDVALIDITY changed");
    return false;
  }
  return true;
}

bool Session::resyncView(const SelectedMailbox& fresh) {
  const uint64_t before = view_->watcher();
  if (!view_->resync(fresh)) {
    server_.holdFeed(fresh.watcher, user_);  // the fresh select's hold goes back
    server_.releaseFeed(fresh.watcher, user_);
    return false;
  }
  // The fresh select holds the user on the feed that is up now (or, if that
  // one broke meanwhile too, the next re-read will).
  server_.holdFeed(view_->watcher(), user_);
  server_.releaseFeed(before, user_);
  if (fresh.feed_stale) resync_needed_ = true;
  return true;
}

void Session::needResync() {
  resync_needed_ = true;
  if (idling_) flushUpdates(true, false);
}

void Session::select(std::unique_ptr<MailboxView> v) {
  unselect();
  if (closed_) {
    // The connection went while the store answered: nothing may point here
    // once the session is gone, and the select's hold goes back.
    server_.holdFeed(v->watcher(), user_);
    server_.releaseFeed(v->watcher(), user_);
    return;
  }
  view_ = std::move(v);
  view_gen_++;
  server_.watchMailbox(this, view_->id());
  server_.holdFeed(view_->watcher(), user_);
  // Selected while the feed broke and came back: changes since may have
  // gone by; re-read before the next command (or at once in IDLE).
  if (view_->feedStale()) resync_needed_ = true;
  state_ = State::kSelected;
}

void Session::unselect() {
  if (view_) {
    server_.unwatchMailbox(this, view_->id());
    server_.releaseFeed(view_->watcher(), user_);
  }
  view_.reset();
  resync_needed_ = false;
  if (state_ == State::kSelected) state_ = State::kAuthenticated;
}

void Session::bye(const std::string& text) {
  if (closed_ || closing_) return;
  if (!text.empty()) write("* BYE " + text + "\r\n");
  closing_ = true;
  flushOutput();
  if (!closed_) {
    // A client that never reads must not keep us waiting forever.
    auto weak = weak_from_this();
    runtime().loop().after(std::chrono::seconds(5), [weak] {
      if (auto s = weak.lock()) s->finishClose();
    });
  }
}

void Session::closeNow(const std::string& why) {
  if (closed_) return;
  log::debug("closing", {{"session", id_}, {"why", why}});
  finishClose();
}

void Session::finishClose() {
  if (closed_) return;
  closed_ = true;
  auto keep = shared_from_this();
  runtime().loop().remove(fd_);
  stream_.shutdown();
  ::close(fd_);
  fd_ = -1;
  if (timeout_timer_) runtime().loop().cancel(timeout_timer_);
  // Commands still waiting for the store hold the session, and it holds
  // them: break the cycle (their callbacks see closed()). So do the
  // callbacks a command left here (IDLE's DONE reader, a FETCH waiting
  // for the output to drain).
  running_.clear();
  next_.reset();
  raw_line_cb_ = nullptr;
  drain_cb_ = nullptr;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(EventLoop::now() - started_).count();
  log::info("disconnect", {{"session", id_}, {"user", user_}, {"ip", peer_},
                           {"duration_s", std::to_string(secs)}, {"in", std::to_string(bytes_in_)},
                           {"out", std::to_string(bytes_out_)}});
  unselect();
  server_.removed(this);
  runtime().connectionClosed(conn_);
}

}  // namespace postern::imapd
