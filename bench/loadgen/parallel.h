#pragma once
// Runs a function on n threads; the first exception stops the others (they poll stop())
// and is rethrown as BenchError after every thread joined.

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util.h"

namespace postern::bench {

class Parallel {
 public:
  // fn(thread_index); must return when stop() becomes true.
  template <typename F>
  void run(int n, F fn) {
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([this, t, &fn] {
        try {
          fn(t);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(mu_);
          if (error_.empty()) error_ = "thread " + std::to_string(t) + ": " + e.what();
          stop_ = true;
        }
      });
    }
    for (auto& th : threads) th.join();
    if (!error_.empty()) fail(error_);
  }
  bool stop() const { return stop_.load(std::memory_order_relaxed); }
  void requestStop() { stop_ = true; }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string error_;
};

}  // namespace postern::bench
