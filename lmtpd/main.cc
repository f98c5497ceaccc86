// postern-lmtpd: an LMTP worker process (how Postfix delivers into
// Postern). The master hands it client sockets; the WorkerRuntime runs the
// loop, the store client and the master channel.
#include <memory>

#include "lmtpd/server.h"
#include "lmtpd/session_host.h"
#include "worker.h"

namespace {

class RuntimeHost : public postern::lmtpd::SessionHost {
 public:
  explicit RuntimeHost(postern::WorkerRuntime& rt) : rt_(rt) {}
  postern::EventLoop& loop() override { return rt_.loop(); }
  postern::StoreClient& store() override { return rt_.store(); }
  const postern::Config& config() const override { return rt_.config(); }
  std::string hostname() const override { return rt_.hostname(); }
  void connectionClosed(uint64_t conn) override { rt_.connectionClosed(conn); }
  std::shared_ptr<postern::tls::Context> tlsContext() const override { return rt_.tlsContext(); }

 private:
  postern::WorkerRuntime& rt_;
};

}  // namespace

int main(int argc, char** argv) {
  return postern::WorkerRuntime::main(argc, argv, "lmtpd", [](postern::WorkerRuntime& rt) {
    // Live as long as the process: the runtime's loop outlives every hook call.
    static RuntimeHost host(rt);
    static postern::lmtpd::Server server(host);
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
