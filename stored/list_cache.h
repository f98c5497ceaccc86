#pragma once
// SELECT's message list of large mailboxes, kept in stored's memory so a
// SELECT of an unchanged mailbox reads one mailbox record instead of every
// message record (Dovecot maps its index file for the same reason).
//
// Validity needs no invalidation hook: an entry is keyed by the mailbox
// record's (id, uidvalidity, uidnext, messages, highestmodseq), read in the
// same read transaction as the lookup. Every change to a message's meta
// (new message, flags, expunge) moves uidnext, messages or highestmodseq
// (CONDSTORE: every flag change gets a new modseq), so an entry whose key
// matches the current record holds exactly the list a scan would return.
// Mailbox ids are never reused. Entries are shared and immutable.
//
// Bounded: at most max_bytes of lists (about 48 bytes per message), least
// recently used dropped first; lists shorter than min_messages are cheap to
// read and are never kept.
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "store_client.h"

namespace postern::stored {

class ListCache {
 public:
  using List = std::shared_ptr<const std::vector<MessageMeta>>;
  struct Key {
    uint32_t mailbox_id = 0;
    uint32_t uidvalidity = 0;
    uint32_t uidnext = 0;
    uint32_t messages = 0;
    uint64_t highestmodseq = 0;
    bool operator==(const Key&) const = default;
  };

  // max_bytes 0 disables the cache.
  explicit ListCache(size_t max_bytes = 64u << 20, size_t min_messages = 1024);

  // The list for `key`, or null (absent, or the mailbox changed since).
  List get(const Key& key);
  // Keeps `list` as the list of key.mailbox_id, replacing an older one.
  void put(const Key& key, List list);

  size_t bytes() const;
  size_t entries() const;
  uint64_t hits() const;

  static size_t cost(size_t messages) { return messages * sizeof(MessageMeta); }

 private:
  struct Entry {
    Key key;
    List list;
    std::list<uint32_t>::iterator lru;  // position in lru_ (front = most recent)
  };
  void eraseLocked(std::unordered_map<uint32_t, Entry>::iterator it);

  const size_t max_bytes_;
  const size_t min_messages_;
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, Entry> entries_;
  std::list<uint32_t> lru_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
};

}  // namespace postern::stored
