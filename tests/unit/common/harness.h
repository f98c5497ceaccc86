#pragma once
// Drives one session over a socketpair: the EventLoop runs on its own
// thread, the test thread plays the client with blocking reads (bounded by
// a timeout). Shared by the pop3d and lmtpd session tests.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <thread>

#include "config.h"
#include "event_loop.h"
#include "fake_store.h"

namespace postern::testing {

class LoopThread {
 public:
  LoopThread() : store(loop) {}
  ~LoopThread() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop.run(); });
  }
  void stop() {
    if (thread_.joinable()) {
      loop.stop();
      thread_.join();
    }
  }
  // Runs f on the loop thread and waits for its result.
  template <typename F>
  auto onLoop(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    loop.post([&task] { task(); });
    return fut.get();
  }

  EventLoop loop;
  FakeStore store;
  Config config;

 private:
  std::thread thread_;
};

// The client end of a socketpair.
class Client {
 public:
  // Returns the server end (non-blocking) for the session.
  int open() {
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    fd_ = sv[0];
    ::fcntl(sv[1], F_SETFL, ::fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    return sv[1];
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void write(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until the received text contains `term`; returns everything up
  // to and including it (the rest stays buffered). Empty on timeout.
  std::string readUntil(std::string_view term, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      size_t pos = buf_.find(term);
      if (pos != std::string::npos) {
        std::string out = buf_.substr(0, pos + term.size());
        buf_.erase(0, pos + term.size());
        return out;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char tmp[65536];
      ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) {
        eof_ = true;
        return "";
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  std::string line() { return readUntil("\r\n"); }
  std::string cmd(std::string_view c) {
    write(std::string(c) + "\r\n");
    return line();
  }
  // True once the server has closed its end (waits up to timeout_ms).
  bool closedByPeer(int timeout_ms = 5000) {
    readUntil("\x01\x02never", timeout_ms);
    return eof_;
  }
  std::string& pending() { return buf_; }
  // The client's end of the socketpair (e.g. to start TLS on it).
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace postern::testing
