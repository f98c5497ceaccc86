#pragma once
// Forward-confirmed reverse DNS for the access domain rules: the address's
// PTR name counts only if that name resolves back to the same address.
// Lookups block, so they run on a small resolver pool; results come back
// on the master's loop. Bounded: a full queue answers "" at once.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "event_loop.h"

namespace postern::master {

class ReverseDns {
 public:
  using Done = std::function<void(const std::string& confirmed_name)>;

  explicit ReverseDns(EventLoop& loop, size_t threads = 2, size_t max_queue = 1000);
  ~ReverseDns();

  // `done` runs on the loop with the confirmed name, or "" if none.
  void lookup(const std::string& ip, Done done);

  // The lookup itself (blocking); public for tests.
  static std::string confirmedName(const std::string& ip);

 private:
  void worker();

  EventLoop& loop_;
  size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, Done>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
  // ip -> (name, expiry); loop thread only.
  std::unordered_map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> cache_;
};

}  // namespace postern::master
