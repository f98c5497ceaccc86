#pragma once
// Recipients the store said exist, remembered for a short while, so that an
// MTA's RCPT TO for the same users again (Postfix sends a stream of mail to
// the same mailboxes) costs no store round trip: without it, RCPT's lookup
// was a quarter of the time of every delivery (bench: deliver, 4 sessions).
//
// Only "exists" is kept: an unknown user is asked for every time, so a user
// added a moment ago is found at once. A user deleted within the TTL is
// still accepted at RCPT; stored then refuses that recipient's delivery and
// the session answers 550 for it after DATA (RFC 2033 per-recipient
// replies): nothing is lost or misdelivered. Bounded: at `max_entries` the
// expired entries go, and if none had expired, all of them.
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace postern::lmtpd {

class UserCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kDefaultTtl{30};
  static constexpr size_t kDefaultMaxEntries = 10000;

  explicit UserCache(Clock::duration ttl = kDefaultTtl, size_t max_entries = kDefaultMaxEntries)
      : ttl_(ttl), max_(max_entries) {}

  // True when `user` was seen to exist less than the TTL ago.
  bool known(const std::string& user, Clock::time_point now = Clock::now()) const;
  void remember(const std::string& user, Clock::time_point now = Clock::now());
  // The store said the user is gone (a delivery found no such user).
  void forget(const std::string& user) { until_.erase(user); }
  size_t size() const { return until_.size(); }

 private:
  Clock::duration ttl_;
  size_t max_;
  std::unordered_map<std::string, Clock::time_point> until_;  // user -> expiry
};

}  // namespace postern::lmtpd
