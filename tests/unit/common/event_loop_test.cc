// EventLoop: what post() promises, from the loop thread and from others.
#include "event_loop.h"

#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"

using namespace postern;

TEST_CASE("event loop: a task posted from the loop runs after the current callback, in order, on the loop thread") {
  EventLoop loop;
  std::vector<std::string> seen;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::thread::id loop_id;
  loop.add(fds[0], EPOLLIN, [&](uint32_t) {
    char c;
    REQUIRE(read(fds[0], &c, 1) == 1);
    loop_id = std::this_thread::get_id();
    loop.post([&] { seen.push_back("a"); });
    loop.post([&] {
      seen.push_back("b");
      CHECK(std::this_thread::get_id() == loop_id);
      loop.stop();
    });
    seen.push_back("callback");  // not inside post()
  });
  REQUIRE(write(fds[1], "x", 1) == 1);
  loop.run();
  CHECK(seen == std::vector<std::string>{"callback", "a", "b"});
  loop.remove(fds[0]);
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE("event loop: a task a task posts waits for the next turn, after the I/O that is ready") {
  EventLoop loop;
  std::vector<std::string> seen;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  loop.add(fds[0], EPOLLIN, [&](uint32_t) {
    char c;
    REQUIRE(read(fds[0], &c, 1) == 1);
    seen.push_back(std::string("read ") + c);
    if (c == '1') {
      loop.post([&] {
        seen.push_back("first task");
        // The pipe becomes readable now; the task posted next runs after it is read.
        REQUIRE(write(fds[1], "2", 1) == 1);
        loop.post([&] {
          seen.push_back("second task");
          loop.stop();
        });
      });
    }
  });
  REQUIRE(write(fds[1], "1", 1) == 1);
  loop.run();
  CHECK(seen == std::vector<std::string>{"read 1", "first task", "read 2", "second task"});
  loop.remove(fds[0]);
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE("event loop: posts from other threads wake the waiting loop and keep their order") {
  EventLoop loop;
  std::vector<int> seen;
  std::thread::id ran_on;
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the loop waits in epoll by now
    for (int i = 0; i < 1000; i++) loop.post([&, i] { seen.push_back(i); });
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  poster.join();
  CHECK(ran_on == std::this_thread::get_id());
  REQUIRE(seen.size() == 1000);
  for (int i = 0; i < 1000; i++) CHECK(seen[size_t(i)] == i);
  // Once run() has returned, a post from this thread is queued, not run inline.
  bool ran = false;
  loop.post([&] { ran = true; });
  CHECK_FALSE(ran);
}
