// postern-lmtpd: an LMTP worker process (how Postfix delivers into
// Postern). The master hands it client sockets; the WorkerRuntime runs the
// loop, the store client and the master channel.
#include <string>

#include "line_session.h"
#include "lmtpd/server.h"
#include "lmtpd/session_host.h"
#include "worker.h"

namespace {

class LmtpRuntimeHost : public postern::RuntimeHost<postern::lmtpd::SessionHost> {
 public:
  using RuntimeHost::RuntimeHost;
  std::string hostname() const override { return rt_.hostname(); }
};

}  // namespace

int main(int argc, char** argv) {
  return postern::WorkerRuntime::main(argc, argv, "lmtpd", [](postern::WorkerRuntime& rt) {
    // Live as long as the process: the runtime's loop outlives every hook call.
    static LmtpRuntimeHost host(rt);
    static postern::lmtpd::Server server(host);
    return server.workerHooks();
  });
}
