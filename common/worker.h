#pragma once
// The runtime every worker process (imapd, pop3d, lmtpd) is built on: it
// parses the command line (--config PATH --name NAME), loads the config,
// sets up logging, the EventLoop, the store client and the IPC channel to
// the master, and turns master messages into the hooks below.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
#include <utility>

#include "config.h"
#include "event_loop.h"
#include "store_client.h"
#include "tls.h"

namespace postern {

class WorkerRuntime;

// One session as its worker sees it (posternctl who).
struct SessionReport {
  uint64_t conn = 0;
  std::string state;     // "not-authenticated", "authenticated", "selected INBOX", ...
  int64_t idle_seconds = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

// A client connection handed over by the master (kNewConn).
struct NewConnection {
  int fd = -1;  // non-blocking, owned by the hook from now on
  uint64_t conn = 0;
  std::string peer;
  uint16_t port = 0;
  tls::Security security;  // implicit TLS, STARTTLS offered, trusted client
};

struct WorkerHooks {
  std::function<void(const NewConnection&)> on_connection;
  // Say goodbye to every session and close them; the runtime exits once
  // activeConnections() reaches 0 or `grace_ms` passes.
  std::function<void(uint32_t grace_ms)> on_shutdown;
  // The config was re-read successfully (the runtime's config() is already new).
  std::function<void()> on_reload;
  // Number of live sessions (for shutdown).
  std::function<size_t()> active_connections;
  // Close session `conn` with a protocol-correct goodbye (posternctl kick).
  std::function<void(uint64_t conn, const std::string& reason)> on_kick;
  // Every live session (posternctl who).
  std::function<std::vector<SessionReport>()> sessions;
};

class WorkerRuntime {
 public:
  // main() uses the defaults; tests pass a config. Without main() there is
  // no master channel (requestLogin admits everyone) and no store until
  // setStore().
  explicit WorkerRuntime(Config cfg = {}) : config_(std::move(cfg)) {}

  // Entry point: returns the process exit code. `setup` is called once the
  // runtime is ready and returns the hooks.
  static int main(int argc, char** argv, const std::string& kind,
                  const std::function<WorkerHooks(WorkerRuntime&)>& setup);

  EventLoop& loop() { return loop_; }
  StoreClient& store() { return *store_; }
  const Config& config() const { return config_; }
  const std::string& name() const { return name_; }
  std::string hostname() const;

  // Asks the master whether `user` may log in on connection `conn`
  // (per-user limits, licence seats; for POP3 also LOGIN-DELAY, with
  // `login_delay_s` the user's delay in seconds, pop3.login_delay or the
  // user's override). The callback runs on the loop thread.
  void requestLogin(uint64_t conn, const std::string& user,
                    std::function<void(bool ok, const std::string& reason)> cb, uint32_t login_delay_s = 0);
  // Tells the master the session on `conn` has ended. Call exactly once.
  void connectionClosed(uint64_t conn);

  // Reports a failed authentication on `conn` (wrong password, unknown user,
  // failed SASL exchange) to the master's brute-force penalty table
  // (master/penalty.h). `cb` runs on the loop thread with how long to wait
  // before answering the failure: wait on a loop timer, never block, so the
  // worker's other sessions carry on. Call it the same way for every kind
  // of failure, so they all take the same time. Without a master (tests)
  // the delay is kStandaloneAuthDelay. If the session ends first
  // (connectionClosed), `cb` is dropped uncalled. A successful login needs
  // no call: the master sees it in requestLogin.
  void authFailed(uint64_t conn, std::function<void(std::chrono::milliseconds delay)> cb);
  static constexpr std::chrono::milliseconds kStandaloneAuthDelay{1000};

  // Swap in a store client (tests with a fake store).
  void setStore(std::unique_ptr<StoreClient> s) { store_ = std::move(s); }

  // The TLS server context for new connections (tls.cert_file etc., read
  // by the master and handed over as a memfd, so a worker without the
  // right to read the key file still gets it), or
  // nullptr when none could be loaded (then STARTTLS is not offered and
  // implicit-TLS connections are closed). Rebuilt at reload; connections
  // keep the context they started with.
  std::shared_ptr<tls::Context> tlsContext() const { return tls_; }
  void setTlsContext(std::shared_ptr<tls::Context> c) { tls_ = std::move(c); }

 private:
  void onIpc();
  void beginShutdown(uint32_t grace_ms);
  void loadTls();

  std::string kind_;
  std::string name_;
  std::string config_path_;
  Config config_;
  EventLoop loop_;
  std::unique_ptr<StoreClient> store_;
  std::shared_ptr<tls::Context> tls_;
  int ipc_fd_ = -1;
  WorkerHooks hooks_;
  bool shutting_down_ = false;
  std::unordered_map<uint64_t, std::function<void(bool, const std::string&)>> login_waiters_;
  // kAuthFailed reports awaiting kAuthPenalty, per connection in order.
  std::unordered_map<uint64_t, std::deque<std::function<void(std::chrono::milliseconds)>>> penalty_waiters_;
  // The master's TLS memfd (ipc::kTlsFdEnv), or -1: then the files are read.
  int tls_fd_ = -1;
};

}  // namespace postern
