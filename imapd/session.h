#pragma once
// One IMAP connection: socket I/O, the incremental parser, the state
// machine (not authenticated / authenticated / selected / logout), the
// selected MailboxView, IDLE, and the dispatch of commands through the
// command table. Loop thread only.
//
// Pipelining (RFC 3501 section 5.5): a command starts while earlier ones
// wait for the store when the command table's flags say no ambiguity can
// result (mayRunBeside()); at most kMaxRunning run at once. Responses keep
// the client's order: only the oldest running command writes to the socket,
// later ones hold their output (bounded by the same back-pressure) until it
// is their turn. A command that may not start yet waits, parsed, and
// reading stops behind it (bounded memory).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "event_loop.h"
#include "mailbox_view.h"
#include "parser.h"
#include "store_client.h"
#include "tls.h"

namespace postern {
class WorkerRuntime;
}

namespace postern::imapd {

class Server;
class CommandContext;
struct CommandDef;

enum class State { kNotAuthenticated, kAuthenticated, kSelected, kLogout };

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `sec`: how the master says the connection arrived (implicit TLS,
  // STARTTLS offered, trusted client). The default, for tests, is a
  // plaintext connection from a trusted client.
  Session(Server& server, int fd, uint64_t conn, std::string peer, tls::Security sec = {});
  ~Session();
  // Session objects in memory, closed or not (tests: a closed session must
  // not be kept alive by a cycle of callbacks).
  static int alive() { return alive_.load(); }

  void start();
  // Says `* BYE <text>` and closes once the output is flushed.
  void bye(const std::string& text);
  void closeNow(const std::string& why);

  // Output. Writes are dropped once the session is closed.
  void write(std::string_view data);
  size_t pendingOutput() const { return out_.size() - out_pos_; }
  // Runs `cb` once pending output drops below the low-water mark.
  void onDrain(std::function<void()> cb);

  // Untagged updates for the selected mailbox.
  void queueChange(const Change& c);
  void flushUpdates(bool allow_expunge, bool uid_cmd);
  // IDLE: sends what is queued now; a RECENT with the count of new
  // messages this session claimed as \Recent follows the claim's answer.
  void pushUpdates();
  void needResync();
  // view_->resync(fresh), moving the session's hold on the change feed to
  // the fresh select's (Server::holdFeed).
  bool resyncView(const SelectedMailbox& fresh);
  // A re-read's answer (resync_needed_), sent for view_gen_ `gen`: applied
  // to the view if it is still that one, its feed hold given back if not. False when the session
  // ended over it (UIDVALIDITY changed).
  bool takeResync(Result<SelectedMailbox>& r, uint64_t gen);

  // Command completion: called once by every command (via CommandContext)
  // once its tagged line is ready; sends, in order, what the finished
  // commands at the head of the queue have to say.
  void commandFinished();
  static constexpr size_t kMaxRunning = 16;
  size_t running() const { return running_.size(); }
  // Counts a BAD answer; after kMaxBadCommands in a row the client is
  // disconnected with BYE (a confused or hostile client). Any accepted
  // command resets the count.
  void noteBad();
  void noteGood() { bad_in_a_row_ = 0; }
  static constexpr int kMaxBadCommands = 20;

  // IDLE / AUTHENTICATE continuation: the next raw line goes to `cb`.
  void readRawLine(std::function<void(std::string line)> cb);

  Server& server() { return server_; }
  WorkerRuntime& runtime();
  StoreClient& store();
  uint64_t conn() const { return conn_; }
  const std::string& id() const { return id_; }
  const std::string& peer() const { return peer_; }
  const std::string& user() const { return user_; }
  void setUser(const std::string& u) { user_ = u; }
  State state() const { return state_; }
  // Logging in changes the idle limit (idleLimit()): the timer is re-armed.
  void setState(State s);
  bool closed() const { return closed_; }
  bool idling() const { return idling_; }
  void setIdling(bool on) { idling_ = on; }

  // TLS. starttlsOffered(): STARTTLS may be used now (listener allows it, a
  // certificate is loaded, TLS not yet active). plaintextAllowed(): LOGIN
  // and AUTHENTICATE PLAIN are accepted (over TLS, from trusted_networks,
  // or auth.allow_plaintext).
  bool tlsActive() const { return stream_.tls(); }
  // The TLS stream, for SASL channel binding (tls::Stream::channelBinding).
  const tls::Stream& tlsStream() const { return stream_; }
  bool starttlsOffered() const;
  bool plaintextAllowed() const;
  // STARTTLS accepted: drops every byte the client sent after the command
  // (they were sent in the clear), stops reading, and starts the handshake
  // with `ctx` once the pending output (the tagged OK) is flushed.
  void beginStarttls(std::shared_ptr<tls::Context> ctx);

  MailboxView* selected() { return view_.get(); }
  void select(std::unique_ptr<MailboxView> v);
  void unselect();

  std::chrono::steady_clock::time_point lastInput() const { return last_input_; }
  uint64_t bytesIn() const { return bytes_in_; }
  uint64_t bytesOut() const { return bytes_out_; }

 private:
  void onEvents(uint32_t ev);
  void readInput();
  void processInput();
  // A parsed command (or a syntax error) waiting for its turn.
  struct Pending {
    imap::Command cmd;
    const CommandDef* def = nullptr;
    bool uid = false;
    std::string error;  // BAD text when the command cannot run at all
    bool fatal = false;
  };
  Pending prepare(imap::ParseEvent ev);
  // Starts `p` (or answers its BAD) if it may run now; false: it must wait.
  bool tryStart(Pending& p);
  // BAD text when `def` is not valid in the current state, else empty.
  std::string stateError(const CommandDef& def) const;
  void flushOutput();
  void updateInterest();
  bool canRead() const;
  // A read or write failed for good: logs TLS failures, closes.
  void ioFailed(const std::string& what);
  void armTimeout();
  // How long the session may stay silent in its current state, and since when.
  std::chrono::seconds idleLimit() const;
  std::chrono::steady_clock::time_point idleSince() const;
  void finishClose();

  Server& server_;
  int fd_;
  uint64_t conn_;
  std::string peer_;
  tls::Security sec_;
  tls::Stream stream_;
  std::shared_ptr<tls::Context> starttls_ctx_;  // set between STARTTLS's OK and the handshake
  bool tls_logged_ = false;
  bool reread_posted_ = false;
  bool flush_posted_ = false;  // a flushOutput() is queued on the loop (write())
  std::string id_;
  std::string user_;
  State state_ = State::kNotAuthenticated;
  imap::Parser parser_;
  std::string out_;
  size_t out_pos_ = 0;
  std::deque<std::shared_ptr<CommandContext>> running_;
  // \Recent claims made before updates go out (claimThen()).
  bool claiming_ = false;
  const CommandContext* claimed_for_ = nullptr;  // the head command a claim was made for
  // Runs `next` now, or after asking the store for \Recent on the new
  // messages about to be announced (RFC 3501: exactly one session gets
  // them), so that EXISTS and the right RECENT count go out together.
  void claimThen(std::function<void()> next);
  std::optional<Pending> next_;
  bool closed_ = false;
  bool closing_ = false;  // close after the output is flushed
  bool idling_ = false;
  bool resync_needed_ = false;
  bool resyncing_ = false;
  int resync_failures_ = 0;  // re-reads failed in a row (IDLE retries back off)
  uint64_t view_gen_ = 0;    // counts select(): tells a re-read's view from a newer one
  uint32_t interest_ = 0;
  std::function<void(std::string)> raw_line_cb_;
  std::function<void()> drain_cb_;
  static std::atomic<int> alive_;
  std::unique_ptr<MailboxView> view_;
  EventLoop::TimerId timeout_timer_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_input_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  int bad_in_a_row_ = 0;
};

}  // namespace postern::imapd
