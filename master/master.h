#pragma once
// postern-master: owns the listening sockets, admits every connection and
// hands it to the least-loaded worker of its protocol, supervises all
// children, reloads the config live and serves the admin API. Single
// threaded: everything runs on one EventLoop; the admin gRPC threads reach
// master state only through runOnLoop().
#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "conn_table.h"
#include "event_loop.h"
#include "supervisor.h"

namespace postern::master {

class AdminServer;

struct Listener {
  std::string protocol;
  ListenAddr addr;  // with the real port once bound
  int fd = -1;
};

class Master {
 public:
  Master(std::string config_path, Config cfg);
  ~Master();

  // Binds, starts stored and the workers, runs until stopped. Returns the
  // process exit code.
  int run();

  // Runs `f` on the loop thread and waits for it (admin threads). Returns
  // false if the master is shutting down or did not answer in time.
  bool runOnLoop(const std::function<void()>& f);

  // Re-reads the config file. Empty string on success, else the reason
  // (the running config is kept).
  std::string reload();

  // Snapshot helpers for the admin API (loop thread only).
  const Config& config() const { return cfg_; }
  const ConnTable& connections() const { return conns_; }
  const Supervisor& supervisor() const { return *sup_; }
  const std::vector<Listener>& listeners() const { return listeners_; }
  const std::map<std::string, uint64_t>& counters() const { return counters_; }
  int64_t startedUnix() const { return started_unix_; }

 private:
  bool bindListeners(std::string* err);
  void writePortsFile();
  void startChildren();
  void onAccept(size_t listener);
  int pickWorker(const std::string& kind);
  void onChildMessage(int slot, const ipc::IpcMsg& m, int fd);
  void onChildExit(int slot);
  void onSignal();
  void beginShutdown();
  void checkShutdownDone();
  void refuse(int fd, const std::string& protocol, const std::string& why);

  std::string config_path_;
  Config cfg_;
  EventLoop loop_;
  std::unique_ptr<Supervisor> sup_;
  std::unique_ptr<AdminServer> admin_;
  std::vector<Listener> listeners_;
  ConnTable conns_;
  std::map<std::string, uint64_t> counters_;
  uint64_t next_conn_ = 1;
  int sigfd_ = -1;
  bool shutting_down_ = false;
  bool stored_stopping_ = false;
  std::atomic<bool> loop_alive_{true};
  int64_t started_unix_ = 0;
};

}  // namespace postern::master
