#pragma once
// The live POP3 sessions of one worker process (LineServer) and the
// settings every new session gets.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "line_session.h"
#include "pop3d/session.h"
#include "pop3d/session_host.h"

namespace postern::pop3d {

class Server : public LineServer {
 public:
  explicit Server(SessionHost& host) : LineServer(host.loop(), "Server shutting down"), host_(host) {}

  // Applied to every new session (see Session's setters); tests shorten them.
  void setAuthFailDelay(std::chrono::milliseconds d) { auth_fail_delay_ = d; }
  void setLockLease(std::chrono::milliseconds d) { lock_lease_ = d; }

 private:
  std::shared_ptr<LineSession> makeSession(int fd, uint64_t conn, const std::string& peer, tls::Security sec,
                                           std::function<void(uint64_t)> on_gone) override;

  SessionHost& host_;
  std::chrono::milliseconds auth_fail_delay_{1000};
  std::chrono::milliseconds lock_lease_{60000};
};

}  // namespace postern::pop3d
