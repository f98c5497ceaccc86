#pragma once
// Starts, watches and restarts the child processes (stored and the worker
// pools). Each child gets one end of a SOCK_SEQPACKET pair (common/ipc.h)
// and dies with the master (PR_SET_PDEATHSIG). A crashed child is restarted
// after a doubling backoff that resets once it has run for a healthy period.
// Loop thread only.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <deque>
#include <vector>

#include "config.h"
#include "event_loop.h"
#include "ipc.h"
#include "privileges.h"

namespace postern::master {

struct Child {
  std::string kind;  // stored, imapd, pop3d, lmtpd
  std::string name;  // imapd#0
  pid_t pid = -1;
  int ipc = -1;      // master's end of the socketpair
  bool ready = false;
  bool stopping = false;  // expected to exit (shutdown)
  uint32_t restarts = 0;
  uint32_t consecutive_failures = 0;
  int64_t started_unix = 0;
  std::chrono::steady_clock::time_point started;
  std::string last_exit;  // "killed by signal 9 (Killed)"
  EventLoop::TimerId restart_timer = 0;
};

class Supervisor {
 public:
  struct Hooks {
    // A message from child `slot`; `fd` is an attached descriptor or -1.
    std::function<void(int slot, const ipc::IpcMsg&, int fd)> on_message;
    // Child `slot` exited (its connections must be dropped).
    std::function<void(int slot)> on_exit;
  };

  Supervisor(EventLoop& loop, std::string config_path, Hooks hooks);

  // Adds a child slot and starts it. Returns the slot index.
  int add(const std::string& kind, const std::string& name);
  void setConfig(const Config& cfg) { cfg_ = cfg; }
  // The users the children run as (privileges.h); set before the first add().
  void setPrivileges(const Privileges& p) { privileges_ = p; }
  // The TLS memfd workers (not stored) inherit at start as ipc::kTlsFdEnv;
  // -1 for none. The caller keeps ownership.
  void setTlsFd(int fd) { tls_fd_ = fd; }

  // Reaps exited children (call on SIGCHLD) and schedules restarts.
  void reap();
  // Sends `msg` to a child; false if it is not running.
  bool send(int slot, const ipc::IpcMsg& msg, int fd = -1);
  // `fd`, when >= 0, goes with every message (each child gets its own copy).
  void sendAll(const ipc::IpcMsg& msg, const std::string& kind = "", int fd = -1);
  // Marks children as stopping (no restarts) and signals them.
  void stopAll(const std::string& kind, int signo);
  bool anyRunning(const std::string& kind = "") const;
  void killAll(int signo);

  std::deque<Child>& children() { return children_; }
  const std::deque<Child>& children() const { return children_; }
  // Where the child binaries are (the build tree or the install dir).
  static std::string findBinary(const std::string& kind);

 private:
  void start(int slot);
  void onIpc(int slot);

  EventLoop& loop_;
  std::string config_path_;
  Hooks hooks_;
  Config cfg_;
  Privileges privileges_;
  int tls_fd_ = -1;
  std::deque<Child> children_;  // a deque: references stay valid when a hook adds a child
};

// "exited with status 3", "killed by signal 9 (Killed)".
std::string describeExit(int status);

}  // namespace postern::master
