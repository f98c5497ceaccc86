#pragma once
// Advisory locks with leases, kept in stored's memory: the POP3 maildrop
// lock (RFC 1939 section 8: a maildrop is locked while a session is in the
// TRANSACTION state). Any number of pop3d processes share them through
// stored, so a second login of the same user through any worker is refused.
//
// A lock is held by an opaque owner string (pop3d uses
// "<worker name>/<pid>/<connection>") until it is released or its lease
// runs out; the holder renews by acquiring again. A worker killed with
// SIGKILL cannot release: its successor releases every lock of its previous
// incarnation at start (releaseOwners), and the lease frees whatever is left.
//
// Nothing is persisted: a stored restart drops every lock. That is
// acceptable because a stored restart also breaks every session's store
// calls; a session that outlives it re-takes its lock at its next renewal
// (acquire on a free lock succeeds), and a conflicting session that got in
// meanwhile makes that renewal fail with kInUse.
//
// Thread-safe: gRPC calls arrive on many threads.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "error.h"

namespace postern::stored {

class LockTable {
 public:
  // Milliseconds on a monotonic clock; tests inject their own.
  using Clock = std::function<int64_t()>;
  static int64_t steadyMs();

  // Leases are clamped to [kMinLeaseMs, kMaxLeaseMs].
  static constexpr uint32_t kMinLeaseMs = 100;
  static constexpr uint32_t kMaxLeaseMs = 3600 * 1000;

  explicit LockTable(Clock now = steadyMs) : now_(std::move(now)) {}

  // Takes lock `name` of `user` for `owner` for `lease_ms`, or renews it
  // when `owner` already holds it (also after its lease ran out, as long as
  // nobody else took it). kInUse when another owner holds an unexpired
  // lease (the message names the holder, for the log only); kBadArgs for an
  // empty user, name or owner.
  Error acquire(const std::string& user, const std::string& name, const std::string& owner,
                uint32_t lease_ms);
  // Releases the lock if `owner` holds it; otherwise does nothing.
  void release(const std::string& user, const std::string& name, const std::string& owner);
  // Releases every lock whose owner starts with `owner_prefix` but not with
  // `keep_prefix` (when non-empty). Returns how many were released.
  uint32_t releaseOwners(const std::string& owner_prefix, const std::string& keep_prefix);
  // Locks held now (expired ones not counted).
  size_t size();

 private:
  struct Entry {
    std::string owner;
    int64_t expires_ms = 0;
  };
  using Key = std::pair<std::string, std::string>;  // user, name
  void sweepLocked(int64_t now);

  Clock now_;
  std::mutex mu_;
  std::map<Key, Entry> locks_;
  size_t ops_since_sweep_ = 0;
};

}  // namespace postern::stored
