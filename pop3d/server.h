#pragma once
// The set of live POP3 sessions of one worker process, and the worker
// hooks that feed it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "pop3d/session.h"
#include "pop3d/session_host.h"

namespace postern::pop3d {

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

  // Applied to every new session (see Session's setters); tests shorten them.
  void setAuthFailDelay(std::chrono::milliseconds d) { auth_fail_delay_ = d; }
  void setLockLease(std::chrono::milliseconds d) { lock_lease_ = d; }

 private:
  SessionHost& host_;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions_;
  std::chrono::milliseconds auth_fail_delay_{1000};
  std::chrono::milliseconds lock_lease_{60000};
};

}  // namespace postern::pop3d
