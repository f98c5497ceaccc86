#pragma once
// The live LMTP sessions of one worker process (LineServer).
#include <cstdint>
#include <memory>
#include <string>

#include "line_session.h"
#include "lmtpd/session.h"
#include "lmtpd/session_host.h"

namespace postern::lmtpd {

class Server : public LineServer {
 public:
  explicit Server(SessionHost& host) : LineServer(host.loop(), "Service shutting down"), host_(host) {}

 private:
  std::shared_ptr<LineSession> makeSession(int fd, uint64_t conn, const std::string& peer, tls::Security sec,
                                           std::function<void(uint64_t)> on_gone) override {
    return std::make_shared<Session>(host_, fd, conn, peer, std::move(on_gone), sec);
  }

  SessionHost& host_;
};

}  // namespace postern::lmtpd
