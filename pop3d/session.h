#pragma once
// One POP3 connection (RFC 1939 with RFC 2449 CAPA/RESP-CODES, UIDL, TOP,
// USER, RFC 5034 AUTH PLAIN, RFC 3206 response codes). The connection side
// (socket, TLS, buffers, flow control, timers, close) is LineSession's
// (common/line_session.h); this class is the POP3 state machine. Owned
// through shared_ptr by the Server; asynchronous callbacks hold weak
// references, so a session that has gone ignores late store results.
//
// Before login the session ends after auth.preauth_timeout seconds; after
// it, after pop3.timeout seconds without activity (RFC 1939 autologout: no
// response, no UPDATE).
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
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "line_session.h"
#include "pop3d/proto/command.h"
#include "pop3d/session_host.h"
#include "sasl/exchange.h"

namespace postern::pop3d {

class Session : public LineSession {
 public:
  // Output above this pauses input and body streams; below kOutLow resumes.
  static constexpr size_t kOutHigh = 1 << 20;
  static constexpr size_t kOutLow = 256 << 10;

  // Takes ownership of the non-blocking socket `fd`. `on_gone` runs (on the
  // loop thread, from within the session) once the session has closed.
  // `sec`: implicit TLS, STARTTLS offered, trusted client (common/tls.h).
  Session(SessionHost& host, int fd, uint64_t conn, std::string peer,
          std::function<void(uint64_t conn)> on_gone, tls::Security sec = {});

  // Says "-ERR [SYS/TEMP] <reason>" and closes once flushed.
  void shutdown(const std::string& reason) override;

  // Delay before answering a failed authentication (tests shorten it).
  void setAuthFailDelay(std::chrono::milliseconds d) { auth_fail_delay_ = d; }
  // Lease of the maildrop lock; renewed every third of it (tests shorten it).
  void setLockLease(std::chrono::milliseconds d) { lock_lease_ = d; }

  // This many invalid commands in a row end the session.
  static constexpr int kMaxBadCommands = 20;
  // The name of the maildrop lock in stored.
  static constexpr const char* kLockName = "pop3-maildrop";

 private:
  enum class State { kAuthorization, kTransaction, kUpdate };
  // The POP3 settings of the logged-in user: pop3.expire, pop3.login_delay
  // and pop3.mark_seen from the config, overridden by the user's own
  // (stored, posternctl user set) at login.
  struct Policy {
    int32_t expire_days = -1;  // RFC 2449 EXPIRE; -1 = NEVER
    uint32_t login_delay_s = 0;
    bool mark_seen = true;  // \Seen for IMAP at QUIT (as Dovecot's pop3_no_flag_updates = no)
  };
  struct Msg {
    uint32_t uid = 0;
    uint32_t size = 0;
    bool deleted = false;
    bool retrieved = false;  // RETR sent it whole: \Seen and the retrieval time at QUIT
  };

  // LineSession hooks.
  std::string greeting() override;
  void onStart() override;
  std::chrono::milliseconds idleTimeout() const override;
  void idleTimedOut() override;
  void onLine(const std::string& line) override;
  void onLineTooLong() override;
  void onOutputRoom(size_t pending) override;
  void onClosing() override;
  std::string stateName() const override;
  std::string logUser() const override { return user_; }
  std::string closeEvent() const override { return user_.empty() ? "disconnect" : "logout"; }
  std::weak_ptr<Session> weakSelf() { return weakAs<Session>(); }

  void execute(const Command& cmd);
  // Answers an invalid command ("-ERR <reason>"); the kMaxBadCommands-th in
  // a row ends the session instead.
  void bad(const std::string& reason);
  void cmdPass(const Command& cmd);
  void cmdAuth(const Command& cmd);
  // One line of an AUTH exchange (the client's answer to "+ ").
  void saslResponse(const std::string& line);
  // The SASL exchange of AUTH (common/sasl; session_auth.cc).
  sasl::Context saslContext() const;
  sasl::Next saslNext();
  void saslOutcome(sasl::Outcome o);
  // USER/PASS and AUTH PLAIN end here: password check, maildrop lock,
  // admission by the master, then openMailbox().
  void login(const std::string& user, const std::string& password);
  // The credentials were right for `canonical`: the user's settings, the
  // maildrop lock (lockMaildrop), admission by the master, expiry of old
  // retrieved messages (expireRetrieved), then openMailbox().
  void admit(const std::string& canonical);
  void lockMaildrop(const std::string& canonical);
  // RFC 2449 EXPIRE, before the snapshot: stored removes the messages first
  // retrieved at least expire_days ago. A failure removes nothing and the
  // login goes on.
  void expireRetrieved();
  // The server's pop3.* settings with the user's overrides applied
  // (session_policy.cc).
  Policy userPolicy(const StoreClient::UserSettings& overrides, const std::string& user) const;
  // CAPA's EXPIRE and LOGIN-DELAY lines: after login the user's values;
  // before it the server's, or the lowest any user has followed by USER
  // when users' values differ (RFC 2449 sections 6.5, 6.7).
  std::string policyCapa() const;
  static std::string policyCapa(const Config& cfg, const StoreClient::SettingsSummary& summary);
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
  // The RETR / TOP answer for message `index` (0-based) from its body.
  void answerRetr(size_t index, bool top, uint32_t lines, const std::string& body);
  void cmdDele(const Command& cmd);
  void cmdRset();
  void cmdQuit();
  void cmdCapa();
  // Sends the capability list with `policy` (policyCapa()) in it.
  void sendCapa(const std::string& policy);
  void cmdStls();
  // USER/PASS and AUTH PLAIN are accepted: over TLS, from trusted_networks,
  // or with auth.allow_plaintext (RFC 2595 section 2.3).
  bool plaintextAllowed() const;
  void openMailbox();
  // The message with number n, or nullptr with *err set for "-ERR <err>".
  Msg* findMsg(uint32_t n, std::string* err);
  std::string uniqueId(const Msg& m) const;

  SessionHost& host_;

  State state_ = State::kAuthorization;
  std::string user_pending_;  // from USER
  std::string user_;          // logged-in user
  uint32_t mailbox_id_ = 0;
  uint32_t uidvalidity_ = 0;
  std::vector<Msg> msgs_;
  int bad_in_a_row_ = 0;
  bool sasl_pending_ = false;  // waiting for the answer to "+ "
  std::shared_ptr<sasl::Exchange> sasl_;  // the AUTH exchange in progress
  std::string lock_owner_;     // non-empty while this session holds the maildrop lock
  std::string lock_user_;
  EventLoop::TimerId renew_timer_ = 0;
  std::chrono::milliseconds lock_lease_{60000};
  Policy settings_;

  std::shared_ptr<BodyStream> stream_;
  bool stream_paused_ = false;
  // Read-ahead: clients RETR message after message (fetchmail, getmail,
  // Outlook), so a RETR that follows the previous one fetches the next few
  // messages in the same store stream (window doubling up to
  // kReadAheadMax, at most kReadAheadBytes beyond the message asked for)
  // and keeps them here, by index, for the RETRs that follow. Any other
  // access pattern drops them.
  static constexpr unsigned kReadAheadMax = 32;
  static constexpr size_t kReadAheadBytes = 1 << 20;
  std::map<size_t, std::string> read_ahead_;
  size_t last_retr_ = SIZE_MAX;  // index of the last RETR
  unsigned window_ = 1;
  EventLoop::TimerId delay_timer_ = 0;
  std::chrono::milliseconds auth_fail_delay_{1000};
};

}  // namespace postern::pop3d
