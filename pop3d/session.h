#pragma once
// One POP3 connection (RFC 1939 with RFC 2449 CAPA/RESP-CODES, UIDL, TOP,
// USER, RFC 5034 AUTH PLAIN, RFC 3206 response codes), driven by the
// EventLoop. Owned through shared_ptr by the Server;
// asynchronous callbacks hold weak references, so a session that has gone
// ignores late store results.
//
// Memory stays bounded: reading stops (EPOLLIN removed) while a store call
// is in flight, while unprocessed input is buffered, or while the output
// buffer is above kOutHigh; pipelined commands run strictly in order.
//
// The maildrop (INBOX) is locked in stored (StoreClient::acquireLock) from
// login until the session ends: taken before the master admits the login,
// renewed every lease/3 while in TRANSACTION, released after UPDATE or when
// the connection closes for any reason. A worker killed with SIGKILL leaves
// its locks to its successor (main.cc) or to the lease.
//
// The session works on the snapshot of INBOX taken at login; a message
// expunged meanwhile (by IMAP) answers RETR/TOP with -ERR [SYS/PERM], and
// QUIT expunges, in one store call, the DELE'd messages that still exist.
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
  // `sec`: implicit TLS, STARTTLS offered, trusted client (common/tls.h).
  Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
          std::function<void(uint64_t conn)> on_gone, tls::Security sec = {});
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
  // Lease of the maildrop lock; renewed every third of it (tests shorten it).
  void setLockLease(std::chrono::milliseconds d) { lock_lease_ = d; }
  // Mark retrieved messages \Seen at QUIT (default on, as Dovecot's
  // pop3_no_flag_updates = no).
  void setMarkSeen(bool on) { mark_seen_ = on; }

  // This many invalid commands in a row end the session.
  static constexpr int kMaxBadCommands = 20;
  // The name of the maildrop lock in stored.
  static constexpr const char* kLockName = "pop3-maildrop";

 private:
  enum class State { kAuthorization, kTransaction, kUpdate };
  struct Msg {
    uint32_t uid = 0;
    uint32_t size = 0;
    bool deleted = false;
    bool retrieved = false;  // RETR sent it whole: \Seen at QUIT
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
  void send(std::string_view text);
  void closeAfterFlush();
  void closeNow(std::string_view why);
  void armIdleTimer(std::chrono::milliseconds delay);
  void onIdleTimer();
  // Marks a store call finished and carries on with buffered input.
  void done();

  void execute(const Command& cmd);
  // Answers an invalid command ("-ERR <reason>"); the kMaxBadCommands-th in
  // a row ends the session instead.
  void bad(const std::string& reason);
  void cmdPass(const Command& cmd);
  void cmdAuth(const Command& cmd);
  // One line of an AUTH exchange (the client's answer to "+ ").
  void saslResponse(const std::string& line);
  void saslPlain(const std::string& b64);
  // USER/PASS and AUTH PLAIN end here: password check, maildrop lock,
  // admission by the master, then openMailbox().
  void login(const std::string& user, const std::string& password);
  void authFailed(const std::string& user, const Error& e);
  void lockRefused(const std::string& user, const Error& e);
  void renewLock();
  void releaseLock();
  // UPDATE state (RFC 1939 section 6): \Seen, expunge, unlock, then +OK.
  void update();
  void signOff(const std::string& text);
  void cmdStat();
  void cmdList(const Command& cmd, bool uidl);
  void cmdRetr(const Command& cmd, bool top);
  void cmdDele(const Command& cmd);
  void cmdRset();
  void cmdQuit();
  void cmdCapa();
  void cmdStls();
  // USER/PASS and AUTH PLAIN are accepted: over TLS, from trusted_networks,
  // or with auth.allow_plaintext (RFC 2595 section 2.3).
  bool plaintextAllowed() const;
  bool starttlsOffered() const;
  void openMailbox();
  // The message with number n, or nullptr with *err set for "-ERR <err>".
  Msg* findMsg(uint32_t n, std::string* err);
  std::string uniqueId(const Msg& m) const;

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
  int bad_in_a_row_ = 0;
  bool sasl_pending_ = false;  // waiting for the answer to "+ "
  std::string lock_owner_;     // non-empty while this session holds the maildrop lock
  std::string lock_user_;
  EventLoop::TimerId renew_timer_ = 0;
  std::chrono::milliseconds lock_lease_{60000};
  bool mark_seen_ = true;

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
