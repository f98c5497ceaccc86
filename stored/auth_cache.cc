#include "auth_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>

namespace postern::stored {

AuthCache::AuthCache(uint32_t ttl_s, size_t max_entries)
    : ttl_s_(ttl_s), max_entries_(max_entries ? max_entries : 1), now_([] {
        return int64_t(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count());
      }) {
  key_ok_ = RAND_bytes(key_, int(sizeof key_)) == 1;
  if (!key_ok_) ttl_s_ = 0;  // no key, no cache
}

bool AuthCache::mac(std::string_view user, std::string_view stored_hash, std::string_view password,
                    unsigned char out[32]) const {
  std::string msg;
  msg.reserve(user.size() + stored_hash.size() + password.size() + 2);
  msg.append(user).push_back('\0');
  msg.append(stored_hash).push_back('\0');
  msg.append(password);
  unsigned int len = 0;
  bool ok = HMAC(EVP_sha256(), key_, int(sizeof key_), reinterpret_cast<const unsigned char*>(msg.data()),
                 msg.size(), out, &len) != nullptr &&
            len == 32;
  OPENSSL_cleanse(msg.data(), msg.size());  // held the password
  return ok;
}

bool AuthCache::lookup(std::string_view user, std::string_view stored_hash, std::string_view password) {
  if (!enabled() || stored_hash.empty()) return false;
  unsigned char m[32];
  if (!mac(user, stored_hash, password, m)) return false;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(std::string(user));
  if (it == map_.end()) return false;
  if (now_() >= it->second.expires) {
    map_.erase(it);
    return false;
  }
  if (CRYPTO_memcmp(m, it->second.mac, sizeof m) != 0) return false;
  ++hits_;
  return true;
}

void AuthCache::insert(std::string_view user, std::string_view stored_hash, std::string_view password) {
  if (!enabled() || stored_hash.empty()) return;
  Entry e;
  if (!mac(user, stored_hash, password, e.mac)) return;
  std::lock_guard<std::mutex> lk(mu_);
  e.expires = now_() + int64_t(ttl_s_);
  auto it = map_.find(std::string(user));
  if (it != map_.end()) {
    it->second = e;
    return;
  }
  if (map_.size() >= max_entries_) {
    // Random eviction: an arbitrary entry goes (expired ones also go at lookup).
    map_.erase(map_.begin());
  }
  map_.emplace(std::string(user), e);
}

void AuthCache::erase(std::string_view user) {
  std::lock_guard<std::mutex> lk(mu_);
  map_.erase(std::string(user));
}

size_t AuthCache::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return map_.size();
}

uint64_t AuthCache::hits() const {
  std::lock_guard<std::mutex> lk(mu_);
  return hits_;
}

void AuthCache::setClock(std::function<int64_t()> now) {
  std::lock_guard<std::mutex> lk(mu_);
  now_ = std::move(now);
}

}  // namespace postern::stored
