// postern-pop3d: a POP3 worker process. The master hands it client sockets;
// the WorkerRuntime runs the loop, the store client and the master channel.
#include <unistd.h>

#include <memory>
#include <string>

#include "log.h"

#include "pop3d/server.h"
#include "pop3d/session_host.h"
#include "worker.h"

namespace {

class RuntimeHost : public postern::pop3d::SessionHost {
 public:
  explicit RuntimeHost(postern::WorkerRuntime& rt) : rt_(rt) {}
  postern::EventLoop& loop() override { return rt_.loop(); }
  postern::StoreClient& store() override { return rt_.store(); }
  const postern::Config& config() const override { return rt_.config(); }
  void requestLogin(uint64_t conn, const std::string& user, LoginCallback cb) override {
    rt_.requestLogin(conn, user, std::move(cb));
  }
  void connectionClosed(uint64_t conn) override { rt_.connectionClosed(conn); }
  std::shared_ptr<postern::tls::Context> tlsContext() const override { return rt_.tlsContext(); }
  // "<worker name>/<pid>/<conn>": the master restarts a worker under the
  // same name, so "<name>/" covers every incarnation and the pid tells them
  // apart.
  std::string lockOwner(uint64_t conn) const override { return incarnation() + std::to_string(conn); }
  std::string workerPrefix() const { return rt_.name() + "/"; }
  std::string incarnation() const { return workerPrefix() + std::to_string(::getpid()) + "/"; }

 private:
  postern::WorkerRuntime& rt_;
};

}  // namespace

int main(int argc, char** argv) {
  return postern::WorkerRuntime::main(argc, argv, "pop3d", [](postern::WorkerRuntime& rt) {
    // Live as long as the process: the runtime's loop outlives every hook call.
    static RuntimeHost host(rt);
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
    postern::WorkerHooks hooks;
    hooks.on_connection = [](const postern::NewConnection& c) { server.onConnection(c.fd, c.conn, c.peer, c.security); };
    hooks.on_shutdown = [](uint32_t) { server.shutdown(); };
    hooks.on_reload = [] {};  // sessions read config() at each use
    hooks.active_connections = [] { return server.activeConnections(); };
    hooks.on_kick = [](uint64_t conn, const std::string& reason) { server.kick(conn, reason); };
    hooks.sessions = [] { return server.report(); };
    return hooks;
  });
}
