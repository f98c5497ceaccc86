#pragma once
// One LMTP connection (RFC 2033). The connection side (socket, TLS,
// buffers, flow control, idle timer, close) is LineSession's
// (common/line_session.h); this class is the LMTP state machine. Owned
// through shared_ptr by the Server; asynchronous callbacks hold weak
// references. Message text beyond message_size_limit is read and
// discarded, never stored.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "line_session.h"
#include "lmtpd/proto/command.h"
#include "lmtpd/proto/data_reader.h"
#include "lmtpd/session_host.h"

namespace postern::lmtpd {

class Session : public LineSession {
 public:
  static constexpr size_t kOutHigh = 256 << 10;
  static constexpr size_t kMaxRecipients = 1000;

  // Takes ownership of the non-blocking socket `fd`. `on_gone` runs once
  // the session has closed (from within the session: free it later).
  // `sec`: implicit TLS, STARTTLS offered, trusted client (common/tls.h).
  Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
          std::function<void(uint64_t conn)> on_gone, tls::Security sec = {});

  // Says "421 4.3.2 <reason>" and closes; a delivery in flight is answered
  // first.
  void shutdown(const std::string& reason) override;

 private:
  struct Rcpt {
    std::string address;
    std::string user;
  };

  // LineSession hooks.
  std::string greeting() override;
  std::chrono::milliseconds idleTimeout() const override;
  void idleTimedOut() override;
  // Message text (after DATA) goes to the DataReader, commands to lines.
  size_t consume(std::string_view rest) override;
  void onLine(const std::string& line) override;
  void onLineTooLong() override;
  std::string stateName() const override { return delivering_ ? "delivering" : "connected"; }
  log::Field closeDetail() const override { return {"delivered", std::to_string(delivered_)}; }
  std::weak_ptr<Session> weakSelf() { return weakAs<Session>(); }

  // Appends CRLF. Counts protocol errors (5.5.x replies) in a row: after
  // kMaxBadCommands the session ends with 421 4.7.0 (a confused or hostile
  // client); any success resets the count.
  void reply(std::string_view line);
  static constexpr int kMaxBadCommands = 20;
  void resetTransaction();

  void execute(const Command& cmd);
  void cmdLhlo(const Command& cmd);
  void cmdMail(const Command& cmd);
  void cmdRcpt(const Command& cmd);
  void cmdData();
  void finishData();
  void cmdStarttls();  // RFC 3207

  SessionHost& host_;
  std::string host_name_;

  std::unique_ptr<DataReader> data_;  // set while reading message text
  bool delivering_ = false;
  bool shutdown_requested_ = false;

  std::string lhlo_;
  bool have_mail_ = false;
  std::string sender_;
  std::vector<Rcpt> rcpts_;
  uint64_t transactions_ = 0;
  uint64_t delivered_ = 0;
  int bad_in_a_row_ = 0;
};

}  // namespace postern::lmtpd
