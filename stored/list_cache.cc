#include "list_cache.h"

namespace postern::stored {

ListCache::ListCache(size_t max_bytes, size_t min_messages) : max_bytes_(max_bytes), min_messages_(min_messages) {}

ListCache::List ListCache::get(const Key& key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key.mailbox_id);
  if (it == entries_.end()) return nullptr;
  if (!(it->second.key == key)) {
    eraseLocked(it);  // the mailbox changed: this list will never match again
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.list;
}

void ListCache::put(const Key& key, List list) {
  if (!list || list->size() < min_messages_) return;
  const size_t c = cost(list->size());
  if (c > max_bytes_) return;
  std::lock_guard lk(mu_);
  if (auto it = entries_.find(key.mailbox_id); it != entries_.end()) eraseLocked(it);
  while (bytes_ + c > max_bytes_ && !lru_.empty()) eraseLocked(entries_.find(lru_.back()));
  lru_.push_front(key.mailbox_id);
  entries_.emplace(key.mailbox_id, Entry{key, std::move(list), lru_.begin()});
  bytes_ += c;
}

void ListCache::eraseLocked(std::unordered_map<uint32_t, Entry>::iterator it) {
  bytes_ -= cost(it->second.list->size());
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

size_t ListCache::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

size_t ListCache::entries() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

uint64_t ListCache::hits() const {
  std::lock_guard lk(mu_);
  return hits_;
}

}  // namespace postern::stored
