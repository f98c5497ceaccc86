#pragma once
// Fan-out of committed changes to Watch subscribers. The engine publishes one
// batch per commit, tagged with a process-wide sequence number (strictly
// increasing, starting at 1). An unfiltered subscriber gets every batch; a
// filtered one (an imapd worker) only the changes of the users it holds an
// interest in (addInterest, counted: one per selected mailbox, released by
// dropInterest), so a worker with no session of a user is not woken by that
// user's writes; it sees gaps in the sequence. Each subscriber has a bounded
// queue: one that falls more than `max_backlog` changes behind is dropped
// (it must reconnect and resync).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store_client.h"

namespace postern::stored {

struct ChangeBatch {
  uint64_t sequence = 0;
  std::vector<Change> changes;
};

class ChangeHub;

class Subscription {
 public:
  enum class Status { kBatch, kTimeout, kDropped, kClosed };
  // Waits up to `wait` for the next batch. Thread-safe, one consumer.
  Status next(std::chrono::milliseconds wait, ChangeBatch* out);
  // Names this subscriber in addInterest / dropInterest; unique also across
  // restarts of the store (a worker's release for an earlier store's
  // subscriber must not touch a new one).
  uint64_t id() const { return id_; }
  ~Subscription();

 private:
  friend class ChangeHub;
  std::weak_ptr<ChangeHub> hub_;
  uint64_t id_ = 0;
  bool filtered_ = false;
  std::unordered_map<std::string, uint32_t> interest_;  // filtered: user -> holds (under the hub's mu_)
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChangeBatch> queue_;
  size_t backlog_ = 0;  // changes queued
  bool dropped_ = false;
  bool closed_ = false;
};

class ChangeHub : public std::enable_shared_from_this<ChangeHub> {
 public:
  explicit ChangeHub(size_t max_backlog = 100000);

  std::shared_ptr<Subscription> subscribe(bool filtered = false);
  // A hold of subscriber `id` on the changes of `user` (canonical): from the
  // return on, every batch published carries them to it. Unknown ids are
  // ignored (the subscriber is gone: its worker resyncs on a new one).
  void addInterest(uint64_t id, const std::string& user);
  // Releases `count` holds of `id` on `user`.
  void dropInterest(uint64_t id, const std::string& user, uint32_t count);
  // Never blocks on a subscriber. Empty batches are ignored.
  void publish(std::vector<Change> changes);
  // Wakes every subscriber with kClosed; later subscribes are closed at once.
  void close();
  size_t subscriberCount();
  uint64_t lastSequence();

 private:
  friend class Subscription;
  void remove(Subscription* s);
  Subscription* findLocked(uint64_t id);

  const size_t max_backlog_;
  std::mutex mu_;
  std::vector<Subscription*> subs_;
  uint64_t sequence_ = 0;
  uint64_t next_id_;  // random start: see Subscription::id()
  bool closed_ = false;
};

}  // namespace postern::stored
