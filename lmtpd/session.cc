// Lifetime of an LMTP session on top of LineSession: greeting, idle
// timeout, input dispatch (commands or message text) and goodbye; the
// commands are in session_commands.cc.
#include "lmtpd/session.h"

#include "log.h"

namespace postern::lmtpd {

Session::Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
                 std::function<void(uint64_t)> on_gone, tls::Security sec)
    : LineSession(host, fd, conn, std::move(peer), std::move(on_gone), sec,
                  {.proc = "lmtpd",
                   .out_high = kOutHigh,
                   .read_chunk = 64 << 10,
                   .max_line = kMaxCommandLine,
                   .starttls_verb = "STARTTLS"}),
      host_(host),
      host_name_(host.hostname()) {}

std::string Session::greeting() { return "220 " + host_name_ + " Postern LMTP ready\r\n"; }

void Session::shutdown(const std::string& reason) {
  if (closed_ || closing_) return;
  if (delivering_) {
    // The replies to DATA go out first, so the client knows what is durable.
    shutdown_requested_ = true;
    return;
  }
  reply("421 4.3.2 " + reason);
  closeAfterFlush();
}

std::chrono::milliseconds Session::idleTimeout() const {
  return std::chrono::seconds(host_.config().lmtp_timeout_s);
}

void Session::idleTimedOut() {
  if (delivering_) return;  // the store answers first
  if (closing_) {
    closeNow("timeout");  // it did not even read its goodbye
    return;
  }
  reply("421 4.4.2 " + host_name_ + " Timeout exceeded, closing connection");
  closeAfterFlush();
}

size_t Session::consume(std::string_view rest) {
  if (!data_) return LineSession::consume(rest);
  size_t n = data_->consume(rest);
  if (data_->done()) finishData();
  return n;
}

void Session::onLine(const std::string& line) { execute(parseCommand(line)); }

void Session::onLineTooLong() { reply("500 5.5.2 Line too long"); }

void Session::reply(std::string_view line) {
  send(line);
  send("\r\n");
  bool protocol_error = line.size() > 8 && line[0] == '5' && line.substr(4, 4) == "5.5.";
  if (!protocol_error) {
    if (line[0] == '2' || line[0] == '3') bad_in_a_row_ = 0;
    return;
  }
  if (++bad_in_a_row_ == kMaxBadCommands) {
    log::info("too many invalid commands", {{"session", sid_}, {"ip", peer_}});
    send("421 4.7.0 " + host_name_ + " Too many errors, closing connection\r\n");
    closeAfterFlush();
  }
}

}  // namespace postern::lmtpd
