#pragma once
// Fan-out of committed changes to Watch subscribers. The engine publishes one
// batch per commit; every subscriber gets every batch, tagged with a
// process-wide sequence number (strictly increasing, starting at 1). Each
// subscriber has a bounded queue: one that falls more than `max_backlog`
// changes behind is dropped (it must reconnect and resync).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
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
  ~Subscription();

 private:
  friend class ChangeHub;
  std::weak_ptr<ChangeHub> hub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChangeBatch> queue_;
  size_t backlog_ = 0;  // changes queued
  bool dropped_ = false;
  bool closed_ = false;
};

class ChangeHub : public std::enable_shared_from_this<ChangeHub> {
 public:
  explicit ChangeHub(size_t max_backlog = 100000) : max_backlog_(max_backlog) {}

  std::shared_ptr<Subscription> subscribe();
  // Never blocks on a subscriber. Empty batches are ignored.
  void publish(std::vector<Change> changes);
  // Wakes every subscriber with kClosed; later subscribes are closed at once.
  void close();
  size_t subscriberCount();
  uint64_t lastSequence();

 private:
  friend class Subscription;
  void remove(Subscription* s);

  const size_t max_backlog_;
  std::mutex mu_;
  std::vector<Subscription*> subs_;
  uint64_t sequence_ = 0;
  bool closed_ = false;
};

}  // namespace postern::stored
