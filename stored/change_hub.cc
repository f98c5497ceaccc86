#include "change_hub.h"

#include <algorithm>

namespace postern::stored {

Subscription::Status Subscription::next(std::chrono::milliseconds wait, ChangeBatch* out) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, wait, [&] { return !queue_.empty() || dropped_ || closed_; });
  if (dropped_) return Status::kDropped;
  if (!queue_.empty()) {
    *out = std::move(queue_.front());
    queue_.pop_front();
    backlog_ -= out->changes.size();
    return Status::kBatch;
  }
  return closed_ ? Status::kClosed : Status::kTimeout;
}

Subscription::~Subscription() {
  if (auto hub = hub_.lock()) hub->remove(this);
}

std::shared_ptr<Subscription> ChangeHub::subscribe() {
  auto s = std::make_shared<Subscription>();
  s->hub_ = weak_from_this();
  std::lock_guard lk(mu_);
  if (closed_) s->closed_ = true;
  else subs_.push_back(s.get());
  return s;
}

void ChangeHub::remove(Subscription* s) {
  std::lock_guard lk(mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), s), subs_.end());
}

void ChangeHub::publish(std::vector<Change> changes) {
  if (changes.empty()) return;
  std::lock_guard lk(mu_);
  ChangeBatch batch{++sequence_, std::move(changes)};
  for (Subscription* s : subs_) {
    std::lock_guard sl(s->mu_);
    if (s->dropped_) continue;
    if (s->backlog_ + batch.changes.size() > max_backlog_) {
      // Too far behind: free its queue and make it reconnect and resync.
      s->dropped_ = true;
      s->queue_.clear();
      s->backlog_ = 0;
    } else {
      s->queue_.push_back(batch);
      s->backlog_ += batch.changes.size();
    }
    s->cv_.notify_all();
  }
}

void ChangeHub::close() {
  std::lock_guard lk(mu_);
  closed_ = true;
  for (Subscription* s : subs_) {
    std::lock_guard sl(s->mu_);
    s->closed_ = true;
    s->cv_.notify_all();
  }
}

size_t ChangeHub::subscriberCount() {
  std::lock_guard lk(mu_);
  return subs_.size();
}

uint64_t ChangeHub::lastSequence() {
  std::lock_guard lk(mu_);
  return sequence_;
}

}  // namespace postern::stored
