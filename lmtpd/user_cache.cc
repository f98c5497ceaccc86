#include "lmtpd/user_cache.h"

namespace postern::lmtpd {

bool UserCache::known(const std::string& user, Clock::time_point now) const {
  if (max_ == 0) return false;
  auto it = until_.find(user);
  return it != until_.end() && now < it->second;
}

void UserCache::remember(const std::string& user, Clock::time_point now) {
  if (max_ == 0 || ttl_ <= Clock::duration::zero()) return;
  if (until_.size() >= max_ && !until_.count(user)) {
    std::erase_if(until_, [now](const auto& e) { return e.second <= now; });
    if (until_.size() >= max_) until_.clear();
  }
  until_[user] = now + ttl_;
}

}  // namespace postern::lmtpd
