// Socket I/O, timers and lifetime shared by the line-based protocol
// sessions (pop3d, lmtpd); see line_session.h.
#include "line_session.h"

#include <sys/epoll.h>
#include <unistd.h>

namespace postern {

namespace {
// A login in flight when the pre-authentication time is up gets this long
// to finish before the timer looks again.
constexpr std::chrono::milliseconds kPreauthRecheck{1000};
}  // namespace

LineSession::LineSession(SessionHostBase& host, int fd, uint64_t conn, std::string peer,
                         std::function<void(uint64_t)> on_gone, tls::Security sec, Limits limits)
    : loop_(host.loop()),
      limits_(limits),
      conn_(conn),
      peer_(std::move(peer)),
      sec_(sec),
      sock_(fd),
      sid_(std::to_string(conn)),
      reader_(limits.max_line),
      base_host_(host),
      fd_(fd),
      on_gone_(std::move(on_gone)) {}

LineSession::~LineSession() {
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
}

void LineSession::start() {
  started_ = last_activity_ = EventLoop::now();
  log::info("connect", {{"proc", limits_.proc}, {"session", sid_}, {"ip", peer_}});
  std::weak_ptr<LineSession> weak = weak_from_this();
  interest_ = EPOLLIN;
  loop_.add(fd_, interest_, [weak](uint32_t ev) {
    if (auto self = weak.lock()) self->onEvents(ev);
  });
  armIdleTimer(idleTimeout());
  onStart();
  if (sec_.implicit_tls) {
    // RFC 8314: TLS first; the greeting waits in out_ for the handshake.
    if (Error e = sock_.startTls(base_host_.tlsContext()); !e.ok()) {
      log::warn("implicit TLS unavailable",
                {{"proc", limits_.proc}, {"session", sid_}, {"ip", peer_}, {"error", e.message}});
      closeNow(e.message);
      return;
    }
  }
  send(greeting());
  flush();
}

SessionReport LineSession::report() const {
  SessionReport r;
  r.conn = conn_;
  r.state = stateName();
  r.idle_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - last_activity_)
          .count();
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  return r;
}

void LineSession::onEvents(uint32_t events) {
  if (closed_) return;
  if (!sock_.tls()) {
    if (events & EPOLLOUT) flush();
    if (closed_) return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readInput();
    return;
  }
  // TLS: a read may need the socket writable and a write readable, so on
  // any event retry both; OpenSSL answers "want" cheaply.
  if (!sock_.handshakeDone()) {
    tls::Io io = sock_.handshake();
    if (io == tls::Io::kError || io == tls::Io::kEof) return ioFailed("handshake");
  }
  if (sock_.handshakeDone() && !tls_logged_) {
    tls_logged_ = true;
    log::info("tls",
              {{"proc", limits_.proc}, {"session", sid_}, {"ip", peer_}, {"tls", sock_.description()}});
  }
  flush();
  if (closed_) return;
  if (canRead() || (events & (EPOLLHUP | EPOLLERR))) readInput();
  if (!closed_) updateInterest();
}

void LineSession::ioFailed(const std::string& what) {
  if (sock_.tls() && !sock_.handshakeDone())
    log::info("TLS handshake failed",
              {{"proc", limits_.proc}, {"session", sid_}, {"ip", peer_}, {"error", sock_.lastError()}});
  closeNow(what + " error");
}

bool LineSession::canRead() const {
  return !closing_ && !busy_ && !starttls_ctx_ && pendingOutput() < limits_.out_high && in_off_ == in_.size();
}

bool LineSession::starttlsOffered() const {
  return sec_.starttls && !sock_.tls() && !starttls_ctx_ && base_host_.tlsContext() != nullptr;
}

void LineSession::beginStarttls() {
  // Bytes after the command were sent in the clear: never run them as if
  // they came over TLS (command injection, CVE-2011-0411).
  if (in_off_ < in_.size())
    log::info("discarded input pipelined after STARTTLS",
              {{"proc", limits_.proc}, {"session", sid_}, {"ip", peer_}});
  in_.clear();
  in_off_ = 0;
  ++input_epoch_;
  reader_ = LineReader(limits_.max_line);
  starttls_ctx_ = base_host_.tlsContext();
}

void LineSession::readInput() {
  if (closing_) {
    // Only EPOLLHUP/ERR can get here: the peer went away while we flush.
    closeNow("peer closed");
    return;
  }
  // One buffer per thread: sessions never read re-entrantly.
  static thread_local std::string buf;
  if (buf.size() < limits_.read_chunk) buf.resize(limits_.read_chunk);
  for (;;) {
    size_t n = 0;
    tls::Io io = sock_.read(buf.data(), limits_.read_chunk, &n);
    if (io == tls::Io::kEof) {
      closeNow("peer closed");
      return;
    }
    if (io == tls::Io::kError) return ioFailed("read");
    if (io != tls::Io::kOk) break;
    bytes_in_ += static_cast<uint64_t>(n);
    last_activity_ = EventLoop::now();
    in_.append(buf.data(), n);
    processInput();
    // Decrypted bytes left inside OpenSSL raise no epoll event: take them now.
    if (closed_ || !sock_.hasBuffered() || !canRead()) break;
  }
  if (closed_) return;
  flush();
}

size_t LineSession::consume(std::string_view rest) {
  LineReader::Event ev;
  std::string line;
  size_t n = reader_.consume(rest, &ev, &line);
  if (ev == LineReader::Event::kTooLong) {
    onLineTooLong();
  } else if (ev == LineReader::Event::kLine) {
    onLine(line);
  }
  return n;
}

void LineSession::processInput() {
  // A handler that answers at once may flush(), and flush() processes
  // pipelined input: that inner call must not take the line being handled
  // (in_off_ moves past it only when consume() returns).
  if (processing_) return;
  processing_ = true;
  while (!busy_ && !closing_ && !closed_ && !starttls_ctx_ && in_off_ < in_.size() &&
         pendingOutput() < limits_.out_high) {
    uint64_t epoch = input_epoch_;
    size_t n = consume(std::string_view(in_).substr(in_off_));
    // A STARTTLS among what was consumed dropped the whole buffer.
    if (epoch == input_epoch_) in_off_ += n;
  }
  processing_ = false;
  if (in_off_ == in_.size()) {
    in_.clear();
    in_off_ = 0;
  }
  if (!closed_) updateInterest();
}

void LineSession::send(std::string_view text) {
  if (closed_) return;
  out_.append(text);
}

void LineSession::flush() {
  while (!closed_ && out_off_ < out_.size()) {
    size_t n = 0;
    tls::Io io = sock_.write(out_.data() + out_off_, out_.size() - out_off_, &n);
    if (io == tls::Io::kWantRead || io == tls::Io::kWantWrite) break;
    if (io != tls::Io::kOk) return ioFailed("write");
    out_off_ += n;
    bytes_out_ += static_cast<uint64_t>(n);
    last_activity_ = EventLoop::now();  // a client reading a long answer is not idle
  }
  if (closed_) return;
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > (1 << 16) && out_off_ * 2 > out_.size()) {
    out_.erase(0, out_off_);  // keep the buffer from growing without bound
    out_off_ = 0;
  }
  size_t pending = pendingOutput();
  if (starttls_ctx_ && pending == 0 && !closing_) {
    // The answer to STARTTLS is out, in the clear: TLS starts now.
    auto ctx = std::move(starttls_ctx_);
    starttls_ctx_ = nullptr;
    if (Error e = sock_.startTls(std::move(ctx)); !e.ok()) {
      closeNow(std::string(limits_.starttls_verb) + " failed");
      return;
    }
  }
  if (closing_ && pending == 0) {
    closeNow("closed");
    return;
  }
  onOutputRoom(pending);
  if (closed_) return;
  if (pending < limits_.out_high && !busy_ && in_off_ < in_.size()) {
    processInput();  // pipelined commands waiting for output room
    if (closed_) return;
    if (pendingOutput() > pending) {
      flush();
      return;
    }
  }
  updateInterest();
}

void LineSession::updateInterest() {
  if (closed_) return;
  bool can_read = canRead();
  uint32_t want = sock_.interest(can_read, pendingOutput() > 0);
  // With no interest at all we still learn of HUP/ERR (epoll always reports them).
  if (want != interest_) {
    interest_ = want;
    loop_.modify(fd_, want);
  }
  if (can_read && sock_.hasBuffered() && !reread_posted_) {
    reread_posted_ = true;
    std::weak_ptr<LineSession> weak = weak_from_this();
    loop_.post([weak] {
      auto self = weak.lock();
      if (!self) return;
      self->reread_posted_ = false;
      if (!self->closed_ && self->canRead()) self->readInput();
    });
  }
}

void LineSession::closeAfterFlush() {
  closing_ = true;
  flush();
}

void LineSession::closeNow(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  if (idle_timer_) loop_.cancel(idle_timer_);
  if (preauth_timer_) loop_.cancel(preauth_timer_);
  idle_timer_ = preauth_timer_ = 0;
  onClosing();
  loop_.remove(fd_);
  sock_.shutdown();
  ::close(fd_);
  fd_ = -1;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(EventLoop::now() - started_).count();
  log::Field detail = closeDetail();
  log::info(closeEvent(), {{"proc", limits_.proc},
                           {"session", sid_},
                           {"user", logUser()},
                           {"ip", peer_},
                           {"reason", std::string(why)},
                           {"duration_s", std::to_string(secs)},
                           {detail.key, detail.value},
                           {"bytes_in", std::to_string(bytes_in_)},
                           {"bytes_out", std::to_string(bytes_out_)}});
  base_host_.connectionClosed(conn_);
  if (on_gone_) on_gone_(conn_);
}

void LineSession::armIdleTimer(std::chrono::milliseconds delay) {
  std::weak_ptr<LineSession> weak = weak_from_this();
  idle_timer_ = loop_.after(delay, [weak] {
    if (auto self = weak.lock()) self->onIdleTimer();
  });
}

void LineSession::onIdleTimer() {
  idle_timer_ = 0;
  if (closed_) return;
  auto timeout = idleTimeout();
  auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::now() - last_activity_);
  // Reading our output counts as activity (see flush()), so only a client
  // that neither sends nor reads times out.
  if (idle >= timeout) {
    idleTimedOut();
    if (closed_) return;
    idle = std::chrono::milliseconds(0);
  }
  armIdleTimer(timeout - idle);
}

void LineSession::armPreauthTimer(std::chrono::milliseconds timeout) {
  if (authenticated_) return;
  if (preauth_timer_) loop_.cancel(preauth_timer_);
  std::weak_ptr<LineSession> weak = weak_from_this();
  preauth_timer_ = loop_.after(timeout, [weak] {
    if (auto self = weak.lock()) self->onPreauthTimer();
  });
}

void LineSession::authenticated() {
  authenticated_ = true;
  if (preauth_timer_) loop_.cancel(preauth_timer_);
  preauth_timer_ = 0;
}

void LineSession::onPreauthTimer() {
  preauth_timer_ = 0;
  if (closed_ || authenticated_ || closing_) return;
  if (busy_) {
    armPreauthTimer(kPreauthRecheck);  // a login in flight finishes first
    return;
  }
  // Like an autologout: no response, nothing changed.
  closeNow("pre-authentication timeout");
}

void LineSession::done() {
  busy_ = false;
  if (closed_) return;
  processInput();
  flush();
}

// ---- LineServer -------------------------------------------------------------

void LineServer::onConnection(int fd, uint64_t conn, const std::string& peer, tls::Security sec) {
  auto session = makeSession(fd, conn, peer, sec, [this](uint64_t c) {
    // The session is inside one of its own member functions: free it later.
    loop_.post([this, c] { sessions_.erase(c); });
  });
  sessions_[conn] = session;
  session->start();
}

void LineServer::kick(uint64_t conn, const std::string& reason) {
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  auto keep = it->second;
  keep->shutdown(reason);
}

std::vector<SessionReport> LineServer::report() const {
  std::vector<SessionReport> out;
  for (const auto& [conn, s] : sessions_) out.push_back(s->report());
  return out;
}

void LineServer::shutdown() {
  std::vector<std::shared_ptr<LineSession>> all;
  all.reserve(sessions_.size());
  for (auto& [conn, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->shutdown(goodbye_);
}

WorkerHooks LineServer::workerHooks() {
  WorkerHooks hooks;
  hooks.on_connection = [this](const NewConnection& c) { onConnection(c.fd, c.conn, c.peer, c.security); };
  hooks.on_shutdown = [this](uint32_t) { shutdown(); };
  hooks.on_reload = [] {};  // sessions read config() at each use
  hooks.active_connections = [this] { return activeConnections(); };
  hooks.on_kick = [this](uint64_t conn, const std::string& reason) { kick(conn, reason); };
  hooks.sessions = [this] { return report(); };
  return hooks;
}

}  // namespace postern
