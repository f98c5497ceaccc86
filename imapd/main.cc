// postern-imapd: an IMAP worker process, started by postern-master.
#include <memory>

#include "server.h"
#include "worker.h"

int main(int argc, char** argv) {
  static std::unique_ptr<postern::imapd::Server> server;
  return postern::WorkerRuntime::main(argc, argv, "imapd", [](postern::WorkerRuntime& rt) {
    server = std::make_unique<postern::imapd::Server>(rt);
    postern::WorkerHooks h;
    h.on_connection = [](const postern::NewConnection& c) { server->accept(c.fd, c.conn, c.peer, c.security); };
    h.on_reload = [] {};  // sessions read config() and tlsContext() at each use
    h.on_shutdown = [](uint32_t) { server->shutdown(); };
    h.active_connections = [] { return server->sessions(); };
    h.on_kick = [](uint64_t conn, const std::string& reason) { server->kick(conn, reason); };
    h.sessions = [] { return server->report(); };
    return h;
  });
}
