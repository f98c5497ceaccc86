#pragma once
// A single-threaded epoll loop. Every callback runs on the loop thread.
// post() is the only member safe to call from other threads (gRPC
// completion threads use it to hand results back). A task posted from the
// loop thread itself costs no system call: it runs once the events of the
// current turn have been handled, before the loop waits again.
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace postern {

class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t events)>;
  using Task = std::function<void()>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Registers fd for `events` (EPOLLIN/EPOLLOUT/...). The loop does not own fd.
  void add(int fd, uint32_t events, FdCallback cb);
  void modify(int fd, uint32_t events);
  // Safe to call from within a callback of the same fd.
  void remove(int fd);

  // Runs `task` on the loop thread soon, never inside the caller. Thread-safe.
  // Tasks posted by one thread run in the order posted.
  void post(Task task);

  // One-shot timer; returns an id for cancel(). Loop thread only.
  TimerId after(std::chrono::milliseconds delay, Task task);
  void cancel(TimerId id);

  // Runs until stop(). stop() is thread-safe.
  void run();
  void stop();

  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

 private:
  void drainPosted();
  void runLocal();  // the tasks the loop thread posted itself
  int runTimers();  // returns ms until next timer or -1

  int epfd_ = -1;
  int wakefd_ = -1;
  bool stopping_ = false;
  std::unordered_map<int, std::shared_ptr<FdCallback>> fds_;
  std::mutex mu_;
  std::vector<Task> posted_;  // from other threads, under mu_
  std::atomic<std::thread::id> loop_thread_{};  // the thread in run()
  std::vector<Task> local_;      // posted by the loop thread (no lock, no wake-up)
  std::vector<Task> local_run_;  // local_ being run (capacity kept)
  std::multimap<std::chrono::steady_clock::time_point, TimerId> timer_order_;
  std::unordered_map<TimerId, std::pair<std::chrono::steady_clock::time_point, Task>> timers_;
  TimerId next_timer_ = 1;
};

}  // namespace postern
