#pragma once
// The imapd worker: its sessions, and the routing of the store's change
// feed to the sessions that have the changed mailbox selected.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "recent_claims.h"
#include "session.h"
#include "worker.h"

namespace postern {
class WorkerRuntime;
}

namespace postern::imapd {

class Server {
 public:
  explicit Server(WorkerRuntime& rt);

  // `sec`: how the connection arrived (common/tls.h); the default is a
  // plaintext connection from a trusted client (tests).
  void accept(int fd, uint64_t conn, const std::string& peer, tls::Security sec = {});
  void shutdown();
  // posternctl kick: say BYE to the session of master connection `conn`.
  void kick(uint64_t conn, const std::string& reason);
  std::vector<SessionReport> report() const;
  size_t sessions() const { return sessions_.size(); }

  // Session bookkeeping (called by Session).
  void removed(Session* s);
  void watchMailbox(Session* s, uint32_t mailbox_id);
  void unwatchMailbox(Session* s, uint32_t mailbox_id);

  WorkerRuntime& runtime() { return rt_; }
  // \Recent claims of sessions told of new mail by the change feed.
  RecentClaims& recentClaims() { return claims_; }

 private:
  void onChanges(const std::vector<Change>& changes);
  void onResync();

  WorkerRuntime& rt_;
  RecentClaims claims_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  std::unordered_map<uint32_t, std::set<Session*>> by_mailbox_;
};

}  // namespace postern::imapd
