#pragma once
// Every client connection the master has handed to a worker, from accept
// until the worker reports it closed (or dies). This is where the global,
// per-IP and per-user counts live; the limits and licence seats of the
// governance work are decided against these counts.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace postern::master {

struct ConnInfo {
  uint64_t id = 0;
  std::string protocol;  // imap, pop3, lmtp
  std::string peer;      // numeric address
  std::string listener;  // listener name, e.g. "imap0"
  int worker = -1;       // process slot index
  std::string user;      // set once the login was admitted
  int64_t since = 0;     // unix seconds
};

class ConnTable {
 public:
  void add(ConnInfo c);
  // Removes a connection; returns false if unknown (already gone).
  bool remove(uint64_t id);
  // Removes every connection held by `worker`; returns how many.
  size_t removeWorker(int worker);
  void setUser(uint64_t id, const std::string& user);
  // Moves a connection to `worker` (a pending connection has worker -1).
  void setWorker(uint64_t id, int worker);
  const ConnInfo* find(uint64_t id) const;

  size_t total() const { return conns_.size(); }
  size_t authenticated() const { return authenticated_; }
  size_t byPeer(const std::string& peer) const;
  size_t byUser(const std::string& user) const;
  // Counts within one protocol ("imap", "pop3", "lmtp").
  size_t byPeer(const std::string& peer, const std::string& protocol) const;
  size_t byUser(const std::string& user, const std::string& protocol) const;
  // Counts within one listener (virtual server).
  size_t byListener(const std::string& listener) const;
  size_t byPeerOnListener(const std::string& peer, const std::string& listener) const;
  size_t byUserOnListener(const std::string& user, const std::string& listener) const;
  size_t byWorker(int worker) const;
  // Connections from `peer` over `protocol` that have not logged in yet
  // (no user set): the pre-authentication count behind
  // limits.max_preauth_per_ip. A pending connection (worker -1) counts.
  size_t preauthByPeer(const std::string& peer, const std::string& protocol) const;
  size_t byProtocol(const std::string& protocol) const;
  std::vector<ConnInfo> all() const;

 private:
  void dropCounts(const ConnInfo& c);

  std::unordered_map<uint64_t, ConnInfo> conns_;
  std::unordered_map<std::string, size_t> per_peer_;
  std::unordered_map<std::string, size_t> per_user_;
  std::unordered_map<std::string, size_t> per_peer_proto_;  // peer + '\n' + protocol
  std::unordered_map<std::string, size_t> preauth_peer_proto_;  // the same, not logged in
  std::unordered_map<std::string, size_t> per_user_proto_;
  std::unordered_map<std::string, size_t> per_listener_;
  std::unordered_map<std::string, size_t> per_peer_listener_;  // peer + '\t' + listener
  std::unordered_map<std::string, size_t> per_user_listener_;
  std::unordered_map<int, size_t> per_worker_;
  std::map<std::string, size_t> per_protocol_;
  size_t authenticated_ = 0;
};

}  // namespace postern::master
