#pragma once
// One LMTP connection (RFC 2033), driven by the EventLoop. Owned through
// shared_ptr by the Server; asynchronous callbacks hold weak references.
//
// Memory stays bounded: reading stops (EPOLLIN removed) while a store call
// is in flight, while unprocessed input is buffered, or while the output
// buffer is large; pipelined commands run strictly in order. Message text
// beyond message_size_limit is read and discarded, never stored.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "event_loop.h"
#include "lmtpd/proto/command.h"
#include "lmtpd/proto/data_reader.h"
#include "lmtpd/proto/line_reader.h"
#include "worker.h"
#include "lmtpd/session_host.h"

namespace postern::lmtpd {

class Session : public std::enable_shared_from_this<Session> {
 public:
  static constexpr size_t kOutHigh = 256 << 10;
  static constexpr size_t kMaxRecipients = 1000;

  // Takes ownership of the non-blocking socket `fd`. `on_gone` runs once
  // the session has closed (from within the session: free it later).
  // `sec`: implicit TLS, STARTTLS offered, trusted client (common/tls.h).
  Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
          std::function<void(uint64_t conn)> on_gone, tls::Security sec = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Sends the greeting and starts reading. Call once.
  void start();
  // Says "421 4.3.2 Service shutting down" and closes; a delivery in
  // flight is answered first.
  void shutdown(const std::string& reason = "Service shutting down");
  // posternctl who: this session as the worker sees it.
  SessionReport report() const;

 private:
  struct Rcpt {
    std::string address;
    std::string user;
  };

  void onEvents(uint32_t events);
  // A read or write failed for good: logs TLS failures, closes.
  void ioFailed(const std::string& what);
  bool canRead() const;
  // STARTTLS/STLS accepted: drop buffered input, handshake after the flush.
  void beginStarttls();
  void readInput();
  void processInput();
  void flush();
  void updateInterest();
  void send(std::string_view line);  // appends CRLF
  void closeAfterFlush();
  void closeNow(std::string_view why);
  void armIdleTimer(std::chrono::milliseconds delay);
  void onIdleTimer();
  void done();
  void resetTransaction();

  void execute(const Command& cmd);
  void cmdLhlo(const Command& cmd);
  void cmdMail(const Command& cmd);
  void cmdRcpt(const Command& cmd);
  void cmdData();
  void finishData();
  void cmdStarttls();  // RFC 3207
  bool starttlsOffered() const;

  SessionHost& host_;
  EventLoop& loop_;
  int fd_;
  uint64_t conn_;
  std::string peer_;
  tls::Security sec_;
  tls::Stream sock_;
  std::shared_ptr<tls::Context> starttls_ctx_;  // between the STARTTLS answer and the handshake
  bool tls_logged_ = false;
  bool reread_posted_ = false;
  std::string sid_;
  std::string host_name_;
  std::function<void(uint64_t)> on_gone_;

  LineReader reader_{kMaxCommandLine};
  std::unique_ptr<DataReader> data_;  // set while reading message text
  std::string in_;
  size_t in_off_ = 0;
  std::string out_;
  size_t out_off_ = 0;
  uint32_t interest_ = 0;
  bool busy_ = false;
  bool delivering_ = false;
  bool shutdown_requested_ = false;
  bool closing_ = false;
  bool closed_ = false;

  std::string lhlo_;
  bool have_mail_ = false;
  std::string sender_;
  std::vector<Rcpt> rcpts_;
  uint64_t transactions_ = 0;

  EventLoop::TimerId idle_timer_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_activity_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t delivered_ = 0;
};

}  // namespace postern::lmtpd
