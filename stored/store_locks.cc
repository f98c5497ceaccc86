#include "store_locks.h"

#include <algorithm>
#include <chrono>

namespace postern::stored {

int64_t LockTable::steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Error LockTable::acquire(const std::string& user, const std::string& name, const std::string& owner,
                         uint32_t lease_ms) {
  if (user.empty() || name.empty() || owner.empty())
    return Error{ErrorCode::kBadArgs, "lock needs user, name and owner"};
  lease_ms = std::clamp(lease_ms, kMinLeaseMs, kMaxLeaseMs);
  int64_t now = now_();
  std::lock_guard<std::mutex> g(mu_);
  // Expired entries are dropped lazily; a sweep now and then keeps the map
  // as small as the number of live locks, at amortised O(1) per call.
  if (++ops_since_sweep_ > locks_.size()) sweepLocked(now);
  auto [it, fresh] = locks_.try_emplace(Key{user, name});
  Entry& e = it->second;
  if (!fresh && e.owner != owner && e.expires_ms > now) {
    return Error{ErrorCode::kInUse, "locked by " + e.owner};
  }
  e.owner = owner;
  e.expires_ms = now + lease_ms;
  return Error::none();
}

void LockTable::release(const std::string& user, const std::string& name, const std::string& owner) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = locks_.find(Key{user, name});
  if (it != locks_.end() && it->second.owner == owner) locks_.erase(it);
}

uint32_t LockTable::releaseOwners(const std::string& owner_prefix, const std::string& keep_prefix) {
  if (owner_prefix.empty()) return 0;  // never "everything" by accident
  int64_t now = now_();
  std::lock_guard<std::mutex> g(mu_);
  uint32_t n = 0;
  std::erase_if(locks_, [&](const auto& kv) {
    const std::string& o = kv.second.owner;
    bool hit = o.starts_with(owner_prefix) && (keep_prefix.empty() || !o.starts_with(keep_prefix));
    if (hit && kv.second.expires_ms > now) ++n;
    return hit;
  });
  return n;
}

size_t LockTable::size() {
  std::lock_guard<std::mutex> g(mu_);
  sweepLocked(now_());
  return locks_.size();
}

void LockTable::sweepLocked(int64_t now) {
  ops_since_sweep_ = 0;
  std::erase_if(locks_, [now](const auto& kv) { return kv.second.expires_ms <= now; });
}

}  // namespace postern::stored
