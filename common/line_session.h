#pragma once
// The connection side of a line-based protocol session (POP3, LMTP): the
// socket and its tls::Stream, the input and output buffers, line framing,
// flow control, STARTTLS, the idle and pre-authentication timers, and the
// close. A protocol derives from LineSession and supplies what differs
// (greeting, commands, goodbye words) through the hooks below; LineServer
// keeps a worker's live sessions; RuntimeHost adapts WorkerRuntime to a
// protocol's host interface.
//
// Memory stays bounded: reading stops (EPOLLIN removed) while a store call
// is in flight (busy_), while unprocessed input is buffered, or while the
// output buffer is above Limits::out_high; pipelined commands run strictly
// in order.
//
// Lifetime: a session is owned through shared_ptr by its LineServer;
// asynchronous callbacks hold weak references, so a session that has gone
// ignores late results. Everything runs on the loop thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "event_loop.h"
#include "line_reader.h"
#include "log.h"
#include "store_client.h"
#include "tls.h"
#include "worker.h"

namespace postern {

// What every line-protocol session needs from its worker process. The
// protocols extend it (pop3d: login admission and lock owners; lmtpd: the
// host name); main.cc adapts WorkerRuntime (RuntimeHost), tests supply fakes.
class SessionHostBase {
 public:
  virtual ~SessionHostBase() = default;
  virtual EventLoop& loop() = 0;
  virtual StoreClient& store() = 0;
  virtual const Config& config() const = 0;
  // The TLS context for new handshakes, or nullptr (no STARTTLS offered,
  // implicit-TLS connections closed). Tests without TLS keep the default.
  virtual std::shared_ptr<tls::Context> tlsContext() const { return nullptr; }
  // The session on `conn` has ended; called exactly once per session.
  virtual void connectionClosed(uint64_t conn) = 0;
};

class LineSession : public std::enable_shared_from_this<LineSession> {
 public:
  // What differs between the protocols at the connection level.
  struct Limits {
    const char* proc = "";           // the "proc" field of every log line
    size_t out_high = 256 << 10;     // output above this pauses input
    size_t read_chunk = 16 << 10;    // bytes per read()
    size_t max_line = 512;           // longer lines are refused (LineReader)
    const char* starttls_verb = "";  // in the close reason when the TLS start fails
  };

  // Takes ownership of the non-blocking socket `fd`. `on_gone` runs (on the
  // loop thread, from within the session: free it later) once the session
  // has closed. `sec`: implicit TLS, STARTTLS offered, trusted client.
  LineSession(SessionHostBase& host, int fd, uint64_t conn, std::string peer,
              std::function<void(uint64_t conn)> on_gone, tls::Security sec, Limits limits);
  virtual ~LineSession();
  LineSession(const LineSession&) = delete;
  LineSession& operator=(const LineSession&) = delete;

  // Starts TLS when implicit, sends greeting() and starts reading. Call once.
  void start();
  // Says goodbye in the protocol's words and closes once it is sent (what
  // posternctl kick and a worker shutdown use).
  virtual void shutdown(const std::string& reason) = 0;
  // posternctl who: this session as the worker sees it.
  SessionReport report() const;

 protected:
  // ---- hooks for the protocol ------------------------------------------
  // The first line(s) sent, CRLF included.
  virtual std::string greeting() = 0;
  // Runs in start(), after the timers are armed and before the greeting.
  virtual void onStart() {}
  // How long the client may neither send nor read; read at every check.
  virtual std::chrono::milliseconds idleTimeout() const = 0;
  // The client was idle for idleTimeout(): close, or say goodbye. Doing
  // nothing (e.g. a delivery in flight) waits another idleTimeout().
  virtual void idleTimedOut() = 0;
  // Consumes a prefix of `rest` (never empty) and runs what it completes;
  // returns the bytes consumed. The default frames lines (LineReader) and
  // calls onLine() / onLineTooLong(); LMTP's message text overrides it.
  virtual size_t consume(std::string_view rest);
  virtual void onLine(const std::string& line) = 0;
  virtual void onLineTooLong() = 0;
  // After a flush left `pending` bytes unsent (resume paused streams).
  virtual void onOutputRoom(size_t /*pending*/) {}
  // closeNow() is closing the socket: cancel the protocol's timers and
  // streams, release what the session holds.
  virtual void onClosing() {}
  // For report() and the close log line.
  virtual std::string stateName() const = 0;
  virtual std::string logUser() const { return ""; }
  virtual std::string closeEvent() const { return "disconnect"; }
  // One more field of the close log line ({"", ""}: none).
  virtual log::Field closeDetail() const { return {"", ""}; }

  // ---- services ----------------------------------------------------------
  // Queues raw protocol text (CRLF included); flush() sends it.
  void send(std::string_view text);
  void flush();
  // Closes once the queued output is sent; no more input is read.
  void closeAfterFlush();
  // Closes at once (logs `why`). Idempotent.
  void closeNow(std::string_view why);
  // Marks a store call finished (busy_ = false) and carries on with
  // buffered input.
  void done();
  // STARTTLS / STLS accepted: drops the input buffered behind the command
  // (CVE-2011-0411); TLS starts once the answer queued next has been sent.
  void beginStarttls();
  // STARTTLS may be offered now: allowed for this connection, not yet
  // active or starting, and a TLS context is loaded.
  bool starttlsOffered() const;
  // Closes the session `timeout` after start() unless authenticated() was
  // called by then; a login in flight (busy_) gets to finish first.
  void armPreauthTimer(std::chrono::milliseconds timeout);
  void authenticated();
  size_t pendingOutput() const { return out_.size() - out_off_; }
  // A weak reference of the derived type, for asynchronous callbacks.
  template <typename T>
  std::weak_ptr<T> weakAs() {
    return std::static_pointer_cast<T>(shared_from_this());
  }

  EventLoop& loop_;
  const Limits limits_;
  uint64_t conn_;
  std::string peer_;
  tls::Security sec_;
  tls::Stream sock_;
  std::string sid_;
  LineReader reader_;
  std::string out_;  // appended to directly by bulk answers (RETR); then flush()
  bool busy_ = false;
  bool processing_ = false;  // inside processInput (no re-entry)
  bool closing_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_activity_;

 private:
  void onEvents(uint32_t events);
  // A read or write failed for good: logs TLS failures, closes.
  void ioFailed(const std::string& what);
  bool canRead() const;
  void readInput();
  void processInput();
  void updateInterest();
  void armIdleTimer(std::chrono::milliseconds delay);
  void onIdleTimer();
  void onPreauthTimer();

  SessionHostBase& base_host_;
  int fd_;
  std::function<void(uint64_t)> on_gone_;
  std::shared_ptr<tls::Context> starttls_ctx_;  // between the STARTTLS answer and the handshake
  bool tls_logged_ = false;
  bool reread_posted_ = false;
  bool authenticated_ = false;
  std::string in_;
  size_t in_off_ = 0;
  uint64_t input_epoch_ = 0;  // moves when beginStarttls() drops the input
  size_t out_off_ = 0;
  uint32_t interest_ = 0;
  EventLoop::TimerId idle_timer_ = 0;
  EventLoop::TimerId preauth_timer_ = 0;
  std::chrono::steady_clock::time_point started_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

// The live sessions of one worker process, by connection id.
class LineServer {
 public:
  // `goodbye`: the reason each session gives at a worker shutdown.
  LineServer(EventLoop& loop, std::string goodbye) : loop_(loop), goodbye_(std::move(goodbye)) {}
  virtual ~LineServer() = default;
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  // Takes ownership of the connected, non-blocking `fd`. `sec`: how it
  // arrived (common/tls.h); the default is plaintext from a trusted client.
  void onConnection(int fd, uint64_t conn, const std::string& peer, tls::Security sec = {});
  // Says goodbye to every session; each closes once its goodbye is sent.
  void shutdown();
  size_t activeConnections() const { return sessions_.size(); }
  // posternctl kick / who.
  void kick(uint64_t conn, const std::string& reason);
  std::vector<SessionReport> report() const;
  // The worker hooks that feed this server (the runtime's loop outlives it).
  WorkerHooks workerHooks();

 protected:
  // A new, not yet started session. `on_gone` must reach the session's
  // constructor.
  virtual std::shared_ptr<LineSession> makeSession(int fd, uint64_t conn, const std::string& peer,
                                                   tls::Security sec,
                                                   std::function<void(uint64_t)> on_gone) = 0;

 private:
  EventLoop& loop_;
  std::string goodbye_;
  std::unordered_map<uint64_t, std::shared_ptr<LineSession>> sessions_;
};

// Adapts WorkerRuntime to a protocol's host interface `Host` (derived from
// SessionHostBase); the protocol's main.cc adds what only it needs.
template <typename Host>
class RuntimeHost : public Host {
 public:
  explicit RuntimeHost(WorkerRuntime& rt) : rt_(rt) {}
  EventLoop& loop() override { return rt_.loop(); }
  StoreClient& store() override { return rt_.store(); }
  const Config& config() const override { return rt_.config(); }
  std::shared_ptr<tls::Context> tlsContext() const override { return rt_.tlsContext(); }
  void connectionClosed(uint64_t conn) override { rt_.connectionClosed(conn); }

 protected:
  WorkerRuntime& rt_;
};

}  // namespace postern
