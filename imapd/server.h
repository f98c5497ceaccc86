#pragma once
// The imapd worker: its sessions, and the routing of the store's change
// feed to the sessions that have the changed mailbox selected.
#include <cstdint>
#include <map>
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
  // The change feed's holds on a user's changes, one per session with a
  // mailbox of it selected (SelectedMailbox::watcher; 0 is none). Released
  // to the store together, a while after the last of the user's sessions
  // here left its mailbox: a client that re-selects costs no store call.
  void holdFeed(uint64_t watcher, const std::string& user);
  void releaseFeed(uint64_t watcher, const std::string& user);

  WorkerRuntime& runtime() { return rt_; }
  // \Recent claims of sessions told of new mail by the change feed.
  RecentClaims& recentClaims() { return claims_; }

 private:
  void onChanges(const std::vector<Change>& changes);
  void onResync();
  void sendReleases();

  struct FeedHold {
    uint32_t live = 0;      // sessions holding
    uint32_t released = 0;  // holds given back, not yet told to the store
  };

  WorkerRuntime& rt_;
  RecentClaims claims_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  std::unordered_map<uint32_t, std::set<Session*>> by_mailbox_;
  std::map<std::pair<uint64_t, std::string>, FeedHold> feed_holds_;
  bool releases_due_ = false;  // sendReleases() is scheduled
};

}  // namespace postern::imapd
