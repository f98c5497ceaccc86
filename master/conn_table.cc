#include "conn_table.h"

namespace postern::master {
namespace {
template <typename M, typename K>
void dec(M& m, const K& k) {
  auto it = m.find(k);
  if (it == m.end()) return;
  if (--it->second == 0) m.erase(it);
}
template <typename M, typename K>
size_t get(const M& m, const K& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}
std::string key(const std::string& a, const std::string& b) { return a + '\n' + b; }
}  // namespace

void ConnTable::add(ConnInfo c) {
  ++per_peer_[c.peer];
  ++per_peer_proto_[key(c.peer, c.protocol)];
  ++per_listener_[c.listener];
  ++per_peer_listener_[c.peer + '\t' + c.listener];
  ++per_worker_[c.worker];
  ++per_protocol_[c.protocol];
  if (!c.user.empty()) {
    ++per_user_[c.user];
    ++per_user_proto_[key(c.user, c.protocol)];
    ++per_user_listener_[c.user + '\t' + c.listener];
    ++authenticated_;
  } else {
    ++preauth_peer_proto_[key(c.peer, c.protocol)];
  }
  conns_[c.id] = std::move(c);
}

void ConnTable::dropCounts(const ConnInfo& c) {
  dec(per_peer_, c.peer);
  dec(per_peer_proto_, key(c.peer, c.protocol));
  dec(per_listener_, c.listener);
  dec(per_peer_listener_, c.peer + '\t' + c.listener);
  dec(per_worker_, c.worker);
  dec(per_protocol_, c.protocol);
  if (!c.user.empty()) {
    dec(per_user_, c.user);
    dec(per_user_proto_, key(c.user, c.protocol));
    dec(per_user_listener_, c.user + '\t' + c.listener);
    --authenticated_;
  } else {
    dec(preauth_peer_proto_, key(c.peer, c.protocol));
  }
}

bool ConnTable::remove(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return false;
  dropCounts(it->second);
  conns_.erase(it);
  return true;
}

size_t ConnTable::removeWorker(int worker) {
  size_t n = 0;
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (it->second.worker == worker) {
      dropCounts(it->second);
      it = conns_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void ConnTable::setUser(uint64_t id, const std::string& user) {
  auto it = conns_.find(id);
  if (it == conns_.end() || user.empty()) return;
  if (!it->second.user.empty()) {
    dec(per_user_, it->second.user);
    dec(per_user_proto_, key(it->second.user, it->second.protocol));
    dec(per_user_listener_, it->second.user + '\t' + it->second.listener);
    --authenticated_;
  } else {
    dec(preauth_peer_proto_, key(it->second.peer, it->second.protocol));  // logged in: no longer pre-auth
  }
  it->second.user = user;
  ++per_user_[user];
  ++per_user_proto_[key(user, it->second.protocol)];
  ++per_user_listener_[user + '\t' + it->second.listener];
  ++authenticated_;
}

void ConnTable::setWorker(uint64_t id, int worker) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  dec(per_worker_, it->second.worker);
  it->second.worker = worker;
  ++per_worker_[worker];
}

const ConnInfo* ConnTable::find(uint64_t id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

size_t ConnTable::byPeer(const std::string& peer) const { return get(per_peer_, peer); }
size_t ConnTable::byUser(const std::string& user) const { return get(per_user_, user); }
size_t ConnTable::byPeer(const std::string& peer, const std::string& protocol) const {
  return get(per_peer_proto_, key(peer, protocol));
}
size_t ConnTable::byUser(const std::string& user, const std::string& protocol) const {
  return get(per_user_proto_, key(user, protocol));
}
size_t ConnTable::byListener(const std::string& l) const { return get(per_listener_, l); }
size_t ConnTable::byPeerOnListener(const std::string& peer, const std::string& l) const {
  return get(per_peer_listener_, peer + '\t' + l);
}
size_t ConnTable::byUserOnListener(const std::string& user, const std::string& l) const {
  return get(per_user_listener_, user + '\t' + l);
}
size_t ConnTable::byWorker(int worker) const { return get(per_worker_, worker); }
size_t ConnTable::byProtocol(const std::string& p) const { return get(per_protocol_, p); }
size_t ConnTable::preauthByPeer(const std::string& peer, const std::string& protocol) const {
  return get(preauth_peer_proto_, key(peer, protocol));
}

std::vector<ConnInfo> ConnTable::all() const {
  std::vector<ConnInfo> out;
  out.reserve(conns_.size());
  for (const auto& [id, c] : conns_) out.push_back(c);
  return out;
}

}  // namespace postern::master
