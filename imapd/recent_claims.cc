#include "recent_claims.h"

#include "event_loop.h"
#include "store_client.h"

namespace postern::imapd {

namespace {
using Key = std::pair<std::string, uint32_t>;  // user, mailbox id
}

struct RecentClaims::State : std::enable_shared_from_this<RecentClaims::State> {
  struct Mailbox {
    std::vector<Taker> waiting;
    bool posted = false;     // start() is posted for it
    bool in_flight = false;  // a claim is out; `waiting` waits for the next
  };
  EventLoop& loop;
  StoreClient& store;
  std::map<Key, Mailbox> mailboxes;
  uint64_t calls = 0;

  State(EventLoop& l, StoreClient& s) : loop(l), store(s) {}

  void post(const Key& key) {
    std::weak_ptr<State> weak = shared_from_this();
    loop.post([weak, key] {
      if (auto st = weak.lock()) st->start(key);
    });
  }

  // Runs once per post: the entry has waiters and no claim in flight (a
  // post is made only then: request(), finished()).
  void start(const Key& key) {
    auto it = mailboxes.find(key);
    if (it == mailboxes.end()) return;
    it->second.posted = false;
    // Shared, not copied, as the callback travels.
    auto batch = std::make_shared<std::vector<Taker>>(std::move(it->second.waiting));
    it->second.waiting.clear();
    it->second.in_flight = true;
    ++calls;
    std::weak_ptr<State> weak = shared_from_this();
    store.claimRecent(key.first, key.second, [weak, key, batch](Result<Range> r) {
      auto st = weak.lock();
      if (!st) return;
      bool taken = false;
      for (const auto& take : *batch) {
        if (!r.ok()) take(r);
        else if (taken) take(Range{0, 0});
        else taken = take(r);
      }
      st->finished(key);
    });
  }

  void finished(const Key& key) {
    auto it = mailboxes.find(key);
    if (it == mailboxes.end()) return;
    it->second.in_flight = false;
    if (it->second.waiting.empty()) {
      mailboxes.erase(it);
      return;
    }
    if (!it->second.posted) {
      it->second.posted = true;
      post(key);
    }
  }
};

RecentClaims::RecentClaims(EventLoop& loop, StoreClient& store) : st_(std::make_shared<State>(loop, store)) {}

RecentClaims::~RecentClaims() = default;

void RecentClaims::request(const std::string& user, uint32_t mailbox_id, Taker taker) {
  Key key{user, mailbox_id};
  auto& m = st_->mailboxes[key];
  m.waiting.push_back(std::move(taker));
  if (m.posted || m.in_flight) return;
  m.posted = true;
  st_->post(key);
}

uint64_t RecentClaims::calls() const { return st_->calls; }

}  // namespace postern::imapd
