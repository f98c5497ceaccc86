#include "event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "log.h"

namespace postern {

EventLoop::EventLoop() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || wakefd_ < 0) {
    log::error("cannot create epoll/eventfd");
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wakefd_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
}

EventLoop::~EventLoop() {
  close(wakefd_);
  close(epfd_);
}

void EventLoop::add(int fd, uint32_t events, FdCallback cb) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  fds_[fd] = std::make_shared<FdCallback>(std::move(cb));
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    log::error("epoll_ctl add failed", {{"fd", std::to_string(fd)}});
  }
}

void EventLoop::modify(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::remove(int fd) {
  if (fds_.erase(fd) > 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::post(Task task) {
  if (loop_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
    local_.push_back(std::move(task));
    return;
  }
  bool wake;
  {
    std::lock_guard lk(mu_);
    // Only the first task of a batch wakes the loop: drainPosted() takes
    // them all (it empties the queue after draining the eventfd), so a task
    // queued behind others needs no write of its own.
    wake = posted_.empty();
    posted_.push_back(std::move(task));
  }
  if (!wake) return;
  uint64_t one = 1;
  ssize_t n = write(wakefd_, &one, sizeof one);
  (void)n;
}

EventLoop::TimerId EventLoop::after(std::chrono::milliseconds delay, Task task) {
  TimerId id = next_timer_++;
  auto when = now() + delay;
  timers_.emplace(id, std::make_pair(when, std::move(task)));
  timer_order_.emplace(when, id);
  return id;
}

void EventLoop::cancel(TimerId id) { timers_.erase(id); }

void EventLoop::stop() {
  post([this] { stopping_ = true; });
}

void EventLoop::drainPosted() {
  uint64_t v;
  ssize_t r = read(wakefd_, &v, sizeof v);  // an eventfd's counter comes whole
  (void)r;
  std::vector<Task> tasks;
  {
    std::lock_guard lk(mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
}

void EventLoop::runLocal() {
  if (local_.empty()) return;
  // What these tasks post waits for the next turn: I/O is polled between.
  local_run_.swap(local_);
  for (auto& t : local_run_) t();
  local_run_.clear();
}

int EventLoop::runTimers() {
  while (!timer_order_.empty()) {
    auto it = timer_order_.begin();
    auto t = timers_.find(it->second);
    if (t == timers_.end() || t->second.first != it->first) {  // cancelled
      timer_order_.erase(it);
      continue;
    }
    auto n = now();
    if (it->first > n) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(it->first - n).count();
      return static_cast<int>(ms + 1);
    }
    Task task = std::move(t->second.second);
    timers_.erase(t);
    timer_order_.erase(it);
    task();
  }
  return -1;
}

void EventLoop::run() {
  epoll_event events[128];
  loop_thread_.store(std::this_thread::get_id());
  while (!stopping_) {
    int timeout = runTimers();
    if (stopping_) break;
    if (!local_.empty()) timeout = 0;
    int n = epoll_wait(epfd_, events, 128, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("epoll_wait failed");
      std::abort();
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wakefd_) {
        drainPosted();
        continue;
      }
      auto it = fds_.find(fd);
      if (it == fds_.end()) continue;
      auto cb = it->second;  // keep alive if the callback removes itself
      (*cb)(events[i].events);
    }
    runLocal();
  }
  loop_thread_.store(std::thread::id());
}

}  // namespace postern
