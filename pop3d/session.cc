// Lifetime of a POP3 session on top of LineSession: greeting, timers, the
// line dispatch, goodbye and close; the commands are in
// session_commands.cc and session_auth.cc.
#include "pop3d/session.h"

#include "log.h"

namespace postern::pop3d {

Session::Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
                 std::function<void(uint64_t)> on_gone, tls::Security sec)
    : LineSession(host, fd, conn, std::move(peer), std::move(on_gone), sec,
                  {.proc = "pop3d",
                   .out_high = kOutHigh,
                   .read_chunk = 16 << 10,
                   .max_line = kMaxCommandLine,
                   .starttls_verb = "STLS"}),
      host_(host) {}

std::string Session::greeting() { return "+OK Postern POP3 ready.\r\n"; }

void Session::onStart() { armPreauthTimer(std::chrono::seconds(host_.config().auth_preauth_timeout_s)); }

void Session::shutdown(const std::string& reason) {
  if (closed_ || closing_) return;
  closing_ = true;  // before cancel(): its done callback must not run more commands
  if (auto s = std::move(stream_)) s->cancel();
  send("-ERR [SYS/TEMP] " + reason + "\r\n");
  closeAfterFlush();
}

std::string Session::stateName() const {
  return state_ == State::kAuthorization ? "not-authenticated"
         : state_ == State::kTransaction ? "transaction"
                                         : "update";
}

std::chrono::milliseconds Session::idleTimeout() const {
  return std::chrono::seconds(host_.config().pop3_timeout_s);
}

void Session::idleTimedOut() {
  // RFC 1939: autologout closes without entering UPDATE and without a response.
  closeNow("autologout");
}

void Session::onLine(const std::string& line) {
  if (sasl_pending_) {
    saslResponse(line);
  } else {
    execute(parseCommand(line));
  }
}

void Session::onLineTooLong() {
  if (sasl_pending_) {
    sasl_pending_ = false;
    send("-ERR [AUTH] Authentication response too long\r\n");
  } else {
    bad("Line too long");
  }
}

void Session::onOutputRoom(size_t pending) {
  if (pending < kOutLow && stream_ && stream_paused_) {
    stream_paused_ = false;
    stream_->resume();
  }
}

void Session::onClosing() {
  if (stream_) stream_->cancel();
  stream_.reset();
  if (delay_timer_) loop_.cancel(delay_timer_);
  delay_timer_ = 0;
  releaseLock();  // a dropped connection deletes nothing and frees the maildrop
}

bool Session::plaintextAllowed() const {
  return sock_.tls() || sec_.trusted || host_.config().auth_allow_plaintext;
}

}  // namespace postern::pop3d
