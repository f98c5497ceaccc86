#pragma once
// \Recent claims of sessions that learn of new mail from the change feed,
// one store call per mailbox instead of one per session.
//
// RFC 3501 2.3.2: a new message is \Recent in exactly one session. When a
// delivery reaches many sessions of one mailbox at once (clients idling in
// the same INBOX), one claim serves them all: its range goes to the first
// waiting session that still has the mailbox selected, the others learn
// there is nothing for them. A request made while a claim for the mailbox
// is in flight waits for the next one (the claim in flight may have been
// made before its messages existed). Claims start from the loop, after the
// task that asked for them, so the EXISTS lines written in the same turn
// are sent first: a client hears of new mail without waiting for a claim.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "error.h"

namespace postern {
class EventLoop;
class StoreClient;
}  // namespace postern

namespace postern::imapd {

class RecentClaims {
 public:
  using Range = std::pair<uint32_t, uint32_t>;  // uids [first, second)
  // Gets the claim's answer; returns true when it took the range (its
  // session still has the mailbox selected). Those after the taker get an
  // empty range.
  using Taker = std::function<bool(Result<Range>)>;

  RecentClaims(EventLoop& loop, StoreClient& store);
  ~RecentClaims();
  RecentClaims(const RecentClaims&) = delete;
  RecentClaims& operator=(const RecentClaims&) = delete;

  void request(const std::string& user, uint32_t mailbox_id, Taker taker);
  // Store calls made so far (tests).
  uint64_t calls() const;

 private:
  struct State;
  std::shared_ptr<State> st_;
};

}  // namespace postern::imapd
