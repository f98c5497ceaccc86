#pragma once
// One POP3 connection (RFC 1939 with RFC 2449 CAPA/RESP-CODES, UIDL, TOP,
// USER), driven by the EventLoop. Owned through shared_ptr by the Server;
// asynchronous callbacks hold weak references, so a session that has gone
// ignores late store results.
//
// Memory stays bounded: reading stops (EPOLLIN removed) while a store call
// is in flight, while unprocessed input is buffered, or while the output
// buffer is above kOutHigh; pipelined commands run strictly in order.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "event_loop.h"
#include "pop3d/proto/command.h"
#include "pop3d/proto/line_reader.h"
#include "pop3d/session_host.h"
#include "store_client.h"
#include "worker.h"

namespace postern::pop3d {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // Output above this pauses input and body streams; below kOutLow resumes.
  static constexpr size_t kOutHigh = 1 << 20;
  static constexpr size_t kOutLow = 256 << 10;

  // Takes ownership of the non-blocking socket `fd`. `on_gone` runs (on the
  // loop thread, from within the session) once the session has closed.
  Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
          std::function<void(uint64_t conn)> on_gone);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Sends the greeting and starts reading. Call once, after construction.
  void start();
  // Says "-ERR [SYS/TEMP] Server shutting down" and closes once flushed.
  void shutdown(const std::string& reason = "Server shutting down");
  // posternctl who: this session as the worker sees it.
  SessionReport report() const;

  // Delay before answering a failed authentication (tests shorten it).
  void setAuthFailDelay(std::chrono::milliseconds d) { auth_fail_delay_ = d; }

 private:
  enum class State { kAuthorization, kTransaction, kUpdate };
  struct Msg {
    uint32_t uid = 0;
    uint32_t size = 0;
    bool deleted = false;
  };

  void onEvents(uint32_t events);
  void readInput();
  void processInput();
  void flush();
  void updateInterest();
  void send(std::string_view text);
  void closeAfterFlush();
  void closeNow(std::string_view why);
  void armIdleTimer(std::chrono::milliseconds delay);
  void onIdleTimer();
  // Marks a store call finished and carries on with buffered input.
  void done();

  void execute(const Command& cmd);
  void cmdPass(const Command& cmd);
  void cmdStat();
  void cmdList(const Command& cmd, bool uidl);
  void cmdRetr(const Command& cmd, bool top);
  void cmdDele(const Command& cmd);
  void cmdRset();
  void cmdQuit();
  void cmdCapa();
  void openMailbox();
  // The message with number n, or nullptr with *err set for "-ERR <err>".
  Msg* findMsg(uint32_t n, std::string* err);
  std::string uniqueId(const Msg& m) const;

  SessionHost& host_;
  EventLoop& loop_;
  int fd_;
  uint64_t conn_;
  std::string peer_;
  std::string sid_;
  std::function<void(uint64_t)> on_gone_;

  LineReader reader_{kMaxCommandLine};
  std::string in_;
  size_t in_off_ = 0;
  std::string out_;
  size_t out_off_ = 0;
  uint32_t interest_ = 0;
  bool busy_ = false;
  bool closing_ = false;
  bool closed_ = false;

  State state_ = State::kAuthorization;
  std::string user_pending_;  // from USER
  std::string user_;          // logged-in user
  uint32_t mailbox_id_ = 0;
  uint32_t uidvalidity_ = 0;
  std::vector<Msg> msgs_;

  std::shared_ptr<BodyStream> stream_;
  bool stream_paused_ = false;
  EventLoop::TimerId idle_timer_ = 0;
  EventLoop::TimerId delay_timer_ = 0;
  std::chrono::milliseconds auth_fail_delay_{1000};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_activity_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

}  // namespace postern::pop3d
