#pragma once
// What a POP3 session needs from its process: the loop, the store, the
// config (SessionHostBase, common/line_session.h) and the master. main.cc
// adapts WorkerRuntime to it; tests supply a fake, so sessions are testable
// without a master or a stored.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "line_session.h"

namespace postern::pop3d {

class SessionHost : public SessionHostBase {
 public:
  using LoginCallback = std::function<void(bool ok, const std::string& reason)>;
  // Asks the master whether `user` may log in, `login_delay_s` being the
  // user's LOGIN-DELAY (the master enforces it across pop3d processes);
  // `cb` runs on the loop thread.
  virtual void requestLogin(uint64_t conn, const std::string& user, uint32_t login_delay_s, LoginCallback cb) = 0;
  // A failed authentication on `conn`: `cb` gets how long to wait before
  // answering it (the master's penalty table, WorkerRuntime::authFailed).
  // Fakes answer `fallback` at once.
  virtual void authFailed(uint64_t conn, std::chrono::milliseconds fallback,
                          std::function<void(std::chrono::milliseconds)> cb) {
    (void)conn;
    cb(fallback);
  }
  // The owner name of the maildrop lock a session on `conn` takes in stored:
  // unique among every live session of every pop3d process, and starting
  // with the prefix this worker's successor frees at start (main.cc).
  virtual std::string lockOwner(uint64_t conn) const { return "pop3d/" + std::to_string(conn); }
};

}  // namespace postern::pop3d
