#include "change_hub.h"

#include <algorithm>
#include <random>

namespace postern::stored {

ChangeHub::ChangeHub(size_t max_backlog) : max_backlog_(max_backlog) {
  std::random_device rd;
  // 63 random bits (never 0, which means no subscriber), counting up from there.
  next_id_ = ((uint64_t(rd()) << 32 | rd()) >> 1) | 1;
}

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

std::shared_ptr<Subscription> ChangeHub::subscribe(bool filtered) {
  auto s = std::make_shared<Subscription>();
  s->hub_ = weak_from_this();
  s->filtered_ = filtered;
  std::lock_guard lk(mu_);
  s->id_ = next_id_++;
  if (closed_) s->closed_ = true;
  else subs_.push_back(s.get());
  return s;
}

void ChangeHub::remove(Subscription* s) {
  std::lock_guard lk(mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), s), subs_.end());
}

Subscription* ChangeHub::findLocked(uint64_t id) {
  for (Subscription* s : subs_)
    if (s->id_ == id) return s;
  return nullptr;
}

void ChangeHub::addInterest(uint64_t id, const std::string& user) {
  std::lock_guard lk(mu_);
  if (Subscription* s = findLocked(id)) s->interest_[user]++;
}

void ChangeHub::dropInterest(uint64_t id, const std::string& user, uint32_t count) {
  std::lock_guard lk(mu_);
  Subscription* s = findLocked(id);
  if (!s) return;
  auto it = s->interest_.find(user);
  if (it == s->interest_.end()) return;
  if (it->second <= count) s->interest_.erase(it);
  else it->second -= count;
}

void ChangeHub::publish(std::vector<Change> changes) {
  if (changes.empty()) return;
  std::lock_guard lk(mu_);
  ChangeBatch batch{++sequence_, std::move(changes)};
  ChangeBatch mine;  // a filtered subscriber's part of it
  for (Subscription* s : subs_) {
    if (s->filtered_) {
      mine.sequence = batch.sequence;
      mine.changes.clear();
      for (const Change& c : batch.changes)
        if (s->interest_.count(c.user)) mine.changes.push_back(c);
      if (mine.changes.empty()) continue;
    }
    const ChangeBatch& b = s->filtered_ ? mine : batch;
    std::lock_guard sl(s->mu_);
    if (s->dropped_) continue;
    if (s->backlog_ + b.changes.size() > max_backlog_) {
      // Too far behind: free its queue and make it reconnect and resync.
      s->dropped_ = true;
      s->queue_.clear();
      s->backlog_ = 0;
    } else {
      s->queue_.push_back(b);
      s->backlog_ += b.changes.size();
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
