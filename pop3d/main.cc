// postern-pop3d: a POP3 worker process. The master hands it client sockets;
// the WorkerRuntime runs the loop, the store client and the master channel.
#include <unistd.h>

#include <string>

#include "line_session.h"
#include "log.h"
#include "pop3d/server.h"
#include "pop3d/session_host.h"
#include "worker.h"

namespace {

class Pop3RuntimeHost : public postern::RuntimeHost<postern::pop3d::SessionHost> {
 public:
  using RuntimeHost::RuntimeHost;
  void requestLogin(uint64_t conn, const std::string& user, uint32_t login_delay_s, LoginCallback cb) override {
    rt_.requestLogin(conn, user, std::move(cb), login_delay_s);
  }
  void authFailed(uint64_t conn, std::chrono::milliseconds,
                  std::function<void(std::chrono::milliseconds)> cb) override {
    rt_.authFailed(conn, std::move(cb));
  }
  // "<worker name>/<pid>/<conn>": the master restarts a worker under the
  // same name, so "<name>/" covers every incarnation and the pid tells them
  // apart.
  std::string lockOwner(uint64_t conn) const override { return incarnation() + std::to_string(conn); }
  std::string workerPrefix() const { return rt_.name() + "/"; }
  std::string incarnation() const { return workerPrefix() + std::to_string(::getpid()) + "/"; }
};

}  // namespace

int main(int argc, char** argv) {
  return postern::WorkerRuntime::main(argc, argv, "pop3d", [](postern::WorkerRuntime& rt) {
    // Live as long as the process: the runtime's loop outlives every hook call.
    static Pop3RuntimeHost host(rt);
    static postern::pop3d::Server server(host);
    // A predecessor killed with SIGKILL could not unlock its maildrops:
    // free them now rather than after their lease, so its users can log in
    // again as soon as the master has restarted us.
    rt.store().releaseLocks(host.workerPrefix(), host.incarnation(), [](postern::Result<uint32_t> r) {
      if (!r.ok()) {
        postern::log::warn("cannot release stale maildrop locks", {{"error", r.error().message}});
      } else if (r.value() > 0) {
        postern::log::info("released stale maildrop locks", {{"locks", std::to_string(r.value())}});
      }
    });
    return server.workerHooks();
  });
}
