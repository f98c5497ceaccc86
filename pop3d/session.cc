// Socket I/O and lifetime of a POP3 session; the commands are in
// session_commands.cc.
#include "pop3d/session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "log.h"

namespace postern::pop3d {

namespace {
constexpr size_t kReadChunk = 16 << 10;
}

Session::Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
                 std::function<void(uint64_t)> on_gone)
    : host_(host),
      loop_(host.loop()),
      fd_(fd),
      conn_(conn),
      peer_(std::move(peer)),
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
  log::info("connect", {{"proc", "pop3d"}, {"session", sid_}, {"ip", peer_}});
  std::weak_ptr<Session> weak = weak_from_this();
  interest_ = EPOLLIN;
  loop_.add(fd_, interest_, [weak](uint32_t ev) {
    if (auto self = weak.lock()) self->onEvents(ev);
  });
  armIdleTimer(std::chrono::seconds(host_.config().pop3_timeout_s));
  send("+OK Postern POP3 ready.\r\n");
  flush();
}

void Session::shutdown(const std::string& reason) {
  if (closed_ || closing_) return;
  closing_ = true;  // before cancel(): its done callback must not run more commands
  if (auto s = std::move(stream_)) s->cancel();
  send("-ERR [SYS/TEMP] " + reason + "\r\n");
  closeAfterFlush();
}

SessionReport Session::report() const {
  SessionReport r;
  r.conn = conn_;
  r.state = state_ == State::kAuthorization ? "not-authenticated"
            : state_ == State::kTransaction ? "transaction"
                                            : "update";
  r.idle_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - last_activity_)
          .count();
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  return r;
}

void Session::onEvents(uint32_t events) {
  if (closed_) return;
  if (events & EPOLLOUT) flush();
  if (closed_) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readInput();
}

void Session::readInput() {
  if (closing_) {
    // Only EPOLLHUP/ERR can get here: the peer went away while we flush.
    closeNow("peer closed");
    return;
  }
  char buf[kReadChunk];
  ssize_t n = ::read(fd_, buf, sizeof buf);
  if (n == 0) {
    closeNow("peer closed");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    closeNow("read error");
    return;
  }
  bytes_in_ += static_cast<uint64_t>(n);
  last_activity_ = EventLoop::now();
  in_.append(buf, static_cast<size_t>(n));
  processInput();
  flush();
}

void Session::processInput() {
  while (!busy_ && !closing_ && !closed_ && in_off_ < in_.size() && out_.size() - out_off_ < kOutHigh) {
    LineReader::Event ev;
    std::string line;
    in_off_ += reader_.consume(std::string_view(in_).substr(in_off_), &ev, &line);
    if (ev == LineReader::Event::kTooLong) {
      if (sasl_pending_) {
        sasl_pending_ = false;
        send("-ERR [AUTH] Authentication response too long\r\n");
      } else {
        bad("Line too long");
      }
    } else if (ev == LineReader::Event::kLine) {
      if (sasl_pending_) {
        saslResponse(line);
      } else {
        execute(parseCommand(line));
      }
    }
  }
  if (in_off_ == in_.size()) {
    in_.clear();
    in_off_ = 0;
  }
  if (!closed_) updateInterest();
}

void Session::send(std::string_view text) {
  if (closed_) return;
  out_.append(text);
}

void Session::flush() {
  while (!closed_ && out_off_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      closeNow("write error");
      return;
    }
    out_off_ += static_cast<size_t>(n);
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
  size_t pending = out_.size() - out_off_;
  if (closing_ && pending == 0) {
    closeNow("closed");
    return;
  }
  if (pending < kOutLow && stream_ && stream_paused_) {
    stream_paused_ = false;
    stream_->resume();
    if (closed_) return;
  }
  if (pending < kOutHigh && !busy_ && in_off_ < in_.size()) {
    processInput();  // pipelined commands waiting for output room
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
  uint32_t want = 0;
  size_t pending = out_.size() - out_off_;
  if (!closing_ && !busy_ && pending < kOutHigh && in_off_ == in_.size()) want |= EPOLLIN;
  if (pending > 0) want |= EPOLLOUT;
  // With no interest at all we still learn of HUP/ERR (epoll always reports them).
  if (want != interest_) {
    interest_ = want;
    loop_.modify(fd_, want);
  }
}

void Session::closeAfterFlush() {
  closing_ = true;
  flush();
}

void Session::closeNow(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  if (stream_) stream_->cancel();
  stream_.reset();
  if (idle_timer_) loop_.cancel(idle_timer_);
  if (delay_timer_) loop_.cancel(delay_timer_);
  if (renew_timer_) loop_.cancel(renew_timer_);
  renew_timer_ = 0;
  releaseLock();  // a dropped connection deletes nothing and frees the maildrop
  loop_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(EventLoop::now() - started_).count();
  log::info(user_.empty() ? "disconnect" : "logout", {{"proc", "pop3d"},
                                                      {"session", sid_},
                                                      {"user", user_},
                                                      {"ip", peer_},
                                                      {"reason", std::string(why)},
                                                      {"duration_s", std::to_string(secs)},
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
  auto timeout = std::chrono::milliseconds(std::chrono::seconds(host_.config().pop3_timeout_s));
  auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::now() - last_activity_);
  // Reading our output counts as activity (see flush()), so only a client
  // that neither sends nor reads is logged out. RFC 1939: autologout closes
  // without entering UPDATE and without a response.
  if (idle >= timeout) {
    closeNow("autologout");
    return;
  }
  armIdleTimer(idle >= timeout ? timeout : timeout - idle);
}

void Session::done() {
  busy_ = false;
  if (closed_) return;
  processInput();
  flush();
}

}  // namespace postern::pop3d
