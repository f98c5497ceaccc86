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
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "admission.h"
#include "config.h"
#include "conn_table.h"
#include "licence.h"
#include "penalty.h"
#include "privileges.h"
#include "reverse_dns.h"
#include "seat_ledger.h"
#include "event_loop.h"
#include "supervisor.h"

namespace postern::master {

class AdminServer;

struct Listener {
  std::string name;      // "imap0", "pop31": scope of access rules
  std::string protocol;
  ListenAddr addr;  // with the real port once bound
  std::string tls = "starttls";  // starttls | implicit | off (ListenerConfig::tls)
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
  Admission& admission() { return admission_; }
  SeatLedger& seats() { return *seats_; }
  PenaltyTable& penalty() { return penalty_; }
  // Who may use the admin socket (SO_PEERCRED); thread-safe (read-only after run()).
  const AdminAccess& adminAccess() const { return admin_access_; }
  const LicenceCheck& licenceCheck() const { return licence_check_; }
  const Licence& licence() const { return licence_; }
  std::string licencePath() const;

  // Live governance changes (loop thread). Each persists its state under
  // data_dir and returns an error text, or "" on success.
  std::string setLimits(const std::vector<std::pair<std::string, std::string>>& kv);
  std::string resetLimits(const std::vector<std::string>& keys);
  std::string changeAccess(bool add, const std::string& rule);
  // Verifies and activates `text` as the licence; on success writes it to
  // licencePath(). Returns "" or the reason it was refused.
  std::string installLicence(const std::string& text);
  // Closes matching sessions with a protocol-correct goodbye; returns how many.
  size_t kick(const std::string& user, uint64_t session, const std::string& cidr, std::string* err);
  // `posternctl who`: asks every worker for its view of its sessions;
  // `done` runs (on the loop) when all answered. takeWho() returns the
  // answers, conn -> "state\tidle_s\tbytes_in\tbytes_out".
  uint32_t startWho(std::function<void()> done);
  std::map<uint64_t, std::string> takeWho(uint32_t id);
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
  // Gives counted connection `id` to the least-loaded worker, or refuses it.
  void handOff(uint64_t id, int fd, uint16_t port, size_t listener);
  // Generates the self-signed certificate when none is configured and
  // checks that the TLS files load. Empty string on success, else why.
  std::string prepareTls(const Config& cfg);
  bool trusted(const std::string& peer);
  void loadGovernanceState();
  void loadLicence();
  void releaseSeat(uint64_t conn);
  // Brute-force penalty: a worker reported a failed authentication.
  void onAuthFailed(int slot, uint64_t conn);
  // The penalty table has just blocked `peer`: close its sessions that have
  // not logged in (`failing` after its answer went out, `delay` from now).
  void closeBlocked(const std::string& peer, uint64_t failing, std::chrono::milliseconds delay);
  void configurePenalty(const Config& cfg);
  std::string blockedReason(std::chrono::seconds left) const;
  void whoWorkerDone(uint32_t id, int slot);

  struct WhoCollect {
    std::set<int> waiting;
    std::map<uint64_t, std::string> info;
    std::function<void()> done;
  };
  std::map<uint32_t, WhoCollect> who_pending_;
  uint32_t next_who_ = 1;
  std::vector<std::string> trustedKeys() const;

  std::string config_path_;
  Config cfg_;
  EventLoop loop_;
  std::unique_ptr<Supervisor> sup_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<ReverseDns> dns_;
  std::vector<Listener> listeners_;
  std::vector<std::string> trusted_src_;  // admission's trusted_networks that trusted_set_ was built from
  NetworkSet trusted_set_;
  ConnTable conns_;
  Admission admission_{conns_};
  PenaltyTable penalty_;
  Privileges privileges_;   // resolved once at start (user changes need a restart)
  AdminAccess admin_access_;
  int tls_fd_ = -1;         // memfd with the TLS chain + key for the workers (privileges.h)
  std::unique_ptr<SeatLedger> seats_;
  LicenceCheck licence_check_;
  Licence licence_ = evaluationLicence();
  std::map<std::string, uint64_t> counters_;
  uint64_t next_conn_ = 1;
  int sigfd_ = -1;
  bool shutting_down_ = false;
  bool children_started_ = false;  // worker pools started (once stored is ready)
  bool ready_notified_ = false;    // systemd told READY=1
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> pop3_last_login_;
  std::string last_status_;
  void notifyReadyOnce();
  void notifyStatus();
  bool stored_stopping_ = false;
  std::atomic<bool> loop_alive_{true};
  int64_t started_unix_ = 0;
};

}  // namespace postern::master
