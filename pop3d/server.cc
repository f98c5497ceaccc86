#include "pop3d/server.h"

#include <vector>

namespace postern::pop3d {

void Server::onConnection(int fd, uint64_t conn, const std::string& peer, tls::Security sec) {
  auto session = std::make_shared<Session>(host_, fd, conn, peer, [this](uint64_t c) {
    // The session is inside one of its own member functions: free it later.
    host_.loop().post([this, c] { sessions_.erase(c); });
  }, sec);
  session->setAuthFailDelay(auth_fail_delay_);
  session->setLockLease(lock_lease_);
  sessions_[conn] = session;
  session->start();
}

void Server::kick(uint64_t conn, const std::string& reason) {
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  auto keep = it->second;
  keep->shutdown(reason);
}

std::vector<SessionReport> Server::report() const {
  std::vector<SessionReport> out;
  for (const auto& [conn, s] : sessions_) out.push_back(s->report());
  return out;
}

void Server::shutdown() {
  std::vector<std::shared_ptr<Session>> all;
  all.reserve(sessions_.size());
  for (auto& [conn, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->shutdown();
}

}  // namespace postern::pop3d
