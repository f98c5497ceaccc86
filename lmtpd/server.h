#pragma once
// The set of live LMTP sessions of one worker process, and the worker
// hooks that feed it.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "lmtpd/session.h"
#include "lmtpd/session_host.h"

namespace postern::lmtpd {

class Server {
 public:
  explicit Server(SessionHost& host) : host_(host) {}

  // Takes ownership of the connected, non-blocking `fd`. `sec`: how it
  // arrived (common/tls.h); the default is plaintext from a trusted client.
  void onConnection(int fd, uint64_t conn, const std::string& peer, tls::Security sec = {});
  // Says goodbye to every session; each closes once its goodbye is sent.
  void shutdown();
  size_t activeConnections() const { return sessions_.size(); }
  // posternctl kick / who.
  void kick(uint64_t conn, const std::string& reason);
  std::vector<SessionReport> report() const;

 private:
  SessionHost& host_;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions_;
};

}  // namespace postern::lmtpd
