#pragma once
// Verified-credential cache (like Dovecot's auth_cache): after a password
// has been verified against a user's stored hash, a later login with the
// same user, password and stored hash within the TTL skips the slow hash.
//
// Kept per user: HMAC-SHA256(process-random key, user \0 stored hash \0
// password) and an expiry. No plaintext and no hash string is kept; a key
// made at startup never leaves the process, so the MACs are useless outside
// it. Because the stored hash is part of the MAC, any change to it (new
// password, import, upgrade, deletion and re-creation) makes the entry miss:
// a stale accept is impossible. Only successes are ever inserted.
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace postern::stored {

class AuthCache {
 public:
  // ttl_s 0 disables the cache (lookups miss, inserts do nothing).
  explicit AuthCache(uint32_t ttl_s = 300, size_t max_entries = 100000);

  // True when `password` was verified for `user` with this `stored_hash`
  // less than ttl seconds ago.
  bool lookup(std::string_view user, std::string_view stored_hash, std::string_view password);
  // Remembers a successful verification.
  void insert(std::string_view user, std::string_view stored_hash, std::string_view password);
  // Forgets `user` (password set, user deleted).
  void erase(std::string_view user);

  bool enabled() const { return ttl_s_ > 0; }
  size_t size() const;
  uint64_t hits() const;
  // Tests: a monotonic clock in seconds.
  void setClock(std::function<int64_t()> now);

 private:
  struct Entry {
    unsigned char mac[32];
    int64_t expires;
  };
  bool mac(std::string_view user, std::string_view stored_hash, std::string_view password,
           unsigned char out[32]) const;

  uint32_t ttl_s_;
  size_t max_entries_;
  unsigned char key_[32];
  bool key_ok_ = false;
  mutable std::mutex mu_;
  std::function<int64_t()> now_;
  std::unordered_map<std::string, Entry> map_;
  uint64_t hits_ = 0;
};

}  // namespace postern::stored
