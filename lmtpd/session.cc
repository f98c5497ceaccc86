// Socket I/O and lifetime of an LMTP session; the commands are in
// session_commands.cc.
#include "lmtpd/session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "log.h"

namespace postern::lmtpd {

namespace {
constexpr size_t kReadChunk = 64 << 10;
}

Session::Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
                 std::function<void(uint64_t)> on_gone, tls::Security sec)
    : host_(host),
      loop_(host.loop()),
      fd_(fd),
      conn_(conn),
      peer_(std::move(peer)),
      sec_(sec),
      sock_(fd),
      sid_(std::to_string(conn)),
      on_gone_(std::move(on_gone)) {}

Session::~Session() {
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
}

void Session::start() {
  started_ = last_activity_ = EventLoop::now();
  host_name_ = host_.hostname();
  log::info("connect", {{"proc", "lmtpd"}, {"session", sid_}, {"ip", peer_}});
  std::weak_ptr<Session> weak = weak_from_this();
  interest_ = EPOLLIN;
  loop_.add(fd_, interest_, [weak](uint32_t ev) {
    if (auto self = weak.lock()) self->onEvents(ev);
  });
  armIdleTimer(std::chrono::seconds(host_.config().lmtp_timeout_s));
  if (sec_.implicit_tls) {
    if (Error e = sock_.startTls(host_.tlsContext()); !e.ok()) {
      log::warn("implicit TLS unavailable", {{"proc", "lmtpd"}, {"session", sid_}, {"ip", peer_}, {"error", e.message}});
      closeNow(e.message);
      return;
    }
  }
  send("220 " + host_name_ + " Postern LMTP ready");
  flush();
}

void Session::shutdown(const std::string& reason) {
  if (closed_ || closing_) return;
  if (delivering_) {
    // The replies to DATA go out first, so the client knows what is durable.
    shutdown_requested_ = true;
    return;
  }
  send("421 4.3.2 " + reason);
  closeAfterFlush();
}

SessionReport Session::report() const {
  SessionReport r;
  r.conn = conn_;
  r.state = delivering_ ? "delivering" : "connected";
  r.idle_seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - last_activity_).count();
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  return r;
}

void Session::onEvents(uint32_t events) {
  if (closed_) return;
  if (!sock_.tls()) {
    if (events & EPOLLOUT) flush();
    if (closed_) return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readInput();
    return;
  }
  // TLS: a read may need the socket writable and a write readable: retry both.
  if (!sock_.handshakeDone()) {
    tls::Io io = sock_.handshake();
    if (io == tls::Io::kError || io == tls::Io::kEof) return ioFailed("handshake");
  }
  if (sock_.handshakeDone() && !tls_logged_) {
    tls_logged_ = true;
    log::info("tls", {{"proc", "lmtpd"}, {"session", sid_}, {"ip", peer_}, {"tls", sock_.description()}});
  }
  flush();
  if (closed_) return;
  if (canRead() || (events & (EPOLLHUP | EPOLLERR))) readInput();
  if (!closed_) updateInterest();
}

void Session::ioFailed(const std::string& what) {
  if (sock_.tls() && !sock_.handshakeDone())
    log::info("TLS handshake failed", {{"proc", "lmtpd"}, {"session", sid_}, {"ip", peer_}, {"error", sock_.lastError()}});
  closeNow(what + " error");
}

bool Session::canRead() const {
  return !closing_ && !busy_ && !starttls_ctx_ && out_.size() - out_off_ < kOutHigh && in_off_ == in_.size();
}

bool Session::starttlsOffered() const {
  return sec_.starttls && !sock_.tls() && !starttls_ctx_ && host_.tlsContext() != nullptr;
}

void Session::beginStarttls() {
  // Bytes after STARTTLS were sent in the clear: drop them (RFC 3207
  // section 4.2 has the client wait; an attacker would not).
  in_.clear();
  in_off_ = 0;
  reader_ = LineReader(kMaxCommandLine);
  starttls_ctx_ = host_.tlsContext();
}

void Session::readInput() {
  if (closing_) {
    closeNow("peer closed");
    return;
  }
  char buf[kReadChunk];
  for (;;) {
    size_t n = 0;
    tls::Io io = sock_.read(buf, sizeof buf, &n);
    if (io == tls::Io::kEof) {
      closeNow("peer closed");
      return;
    }
    if (io == tls::Io::kError) return ioFailed("read");
    if (io != tls::Io::kOk) break;
    bytes_in_ += static_cast<uint64_t>(n);
    last_activity_ = EventLoop::now();
    in_.append(buf, n);
    processInput();
    if (closed_ || !sock_.hasBuffered() || !canRead()) break;
  }
  if (closed_) return;
  flush();
}

void Session::processInput() {
  while (!busy_ && !closing_ && !closed_ && !starttls_ctx_ && in_off_ < in_.size() &&
         out_.size() - out_off_ < kOutHigh) {
    std::string_view rest = std::string_view(in_).substr(in_off_);
    if (data_) {
      in_off_ += data_->consume(rest);
      if (data_->done()) finishData();
      continue;
    }
    LineReader::Event ev;
    std::string line;
    in_off_ += reader_.consume(rest, &ev, &line);
    if (ev == LineReader::Event::kTooLong) {
      send("500 5.5.2 Line too long");
    } else if (ev == LineReader::Event::kLine) {
      execute(parseCommand(line));
    }
  }
  if (in_off_ == in_.size()) {
    in_.clear();
    in_off_ = 0;
  }
  if (!closed_) updateInterest();
}

void Session::send(std::string_view line) {
  if (closed_) return;
  out_.append(line);
  out_.append("\r\n");
}

void Session::flush() {
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
  }
  size_t pending = out_.size() - out_off_;
  if (starttls_ctx_ && pending == 0 && !closing_) {
    // "220 2.0.0 Ready to start TLS" is out, in the clear: TLS starts now.
    auto ctx = std::move(starttls_ctx_);
    starttls_ctx_ = nullptr;
    if (Error e = sock_.startTls(std::move(ctx)); !e.ok()) {
      closeNow("STARTTLS failed");
      return;
    }
  }
  if (closing_ && pending == 0) {
    closeNow("closed");
    return;
  }
  if (pending < kOutHigh && !busy_ && in_off_ < in_.size()) {
    processInput();
    if (closed_) return;
    if (out_.size() - out_off_ > pending) {
      flush();
      return;
    }
  }
  updateInterest();
}

void Session::updateInterest() {
  if (closed_) return;
  bool can_read = canRead();
  uint32_t want = sock_.interest(can_read, out_.size() - out_off_ > 0);
  if (want != interest_) {
    interest_ = want;
    loop_.modify(fd_, want);
  }
  if (can_read && sock_.hasBuffered() && !reread_posted_) {
    reread_posted_ = true;
    std::weak_ptr<Session> weak = weak_from_this();
    loop_.post([weak] {
      auto self = weak.lock();
      if (!self) return;
      self->reread_posted_ = false;
      if (!self->closed_ && self->canRead()) self->readInput();
    });
  }
}

void Session::closeAfterFlush() {
  closing_ = true;
  flush();
}

void Session::closeNow(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  if (idle_timer_) loop_.cancel(idle_timer_);
  loop_.remove(fd_);
  sock_.shutdown();
  ::close(fd_);
  fd_ = -1;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(EventLoop::now() - started_).count();
  log::info("disconnect", {{"proc", "lmtpd"},
                           {"session", sid_},
                           {"ip", peer_},
                           {"reason", std::string(why)},
                           {"duration_s", std::to_string(secs)},
                           {"delivered", std::to_string(delivered_)},
                           {"bytes_in", std::to_string(bytes_in_)},
                           {"bytes_out", std::to_string(bytes_out_)}});
  host_.connectionClosed(conn_);
  if (on_gone_) on_gone_(conn_);
}

void Session::armIdleTimer(std::chrono::milliseconds delay) {
  std::weak_ptr<Session> weak = weak_from_this();
  idle_timer_ = loop_.after(delay, [weak] {
    if (auto self = weak.lock()) self->onIdleTimer();
  });
}

void Session::onIdleTimer() {
  idle_timer_ = 0;
  if (closed_) return;
  auto timeout = std::chrono::milliseconds(std::chrono::seconds(host_.config().lmtp_timeout_s));
  auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::now() - last_activity_);
  if (idle >= timeout && !delivering_) {
    if (closing_) {
      closeNow("timeout");  // it did not even read its goodbye
      return;
    }
    send("421 4.4.2 " + host_name_ + " Timeout exceeded, closing connection");
    closeAfterFlush();
    if (closed_) return;
    idle = std::chrono::milliseconds(0);
  }
  armIdleTimer(idle >= timeout ? timeout : timeout - idle);
}

void Session::done() {
  busy_ = false;
  if (closed_) return;
  processInput();
  flush();
}

}  // namespace postern::lmtpd
