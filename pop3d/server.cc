#include "pop3d/server.h"

namespace postern::pop3d {

std::shared_ptr<LineSession> Server::makeSession(int fd, uint64_t conn, const std::string& peer,
                                                 tls::Security sec, std::function<void(uint64_t)> on_gone) {
  auto session = std::make_shared<Session>(host_, fd, conn, peer, std::move(on_gone), sec);
  session->setAuthFailDelay(auth_fail_delay_);
  session->setLockLease(lock_lease_);
  return session;
}

}  // namespace postern::pop3d
