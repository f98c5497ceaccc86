#pragma once
// What a POP3 session needs from its process: the loop, the store, the
// config and the master. main.cc adapts WorkerRuntime to it; tests supply a
// fake, so sessions are testable without a master or a stored.
#include <cstdint>
#include <memory>
#include <functional>
#include <string>

#include "config.h"
#include "event_loop.h"
#include "store_client.h"
#include "tls.h"

namespace postern::pop3d {

class SessionHost {
 public:
  using LoginCallback = std::function<void(bool ok, const std::string& reason)>;
  virtual ~SessionHost() = default;
  virtual EventLoop& loop() = 0;
  virtual StoreClient& store() = 0;
  virtual const Config& config() const = 0;
  // Asks the master whether `user` may log in; `cb` runs on the loop thread.
  virtual void requestLogin(uint64_t conn, const std::string& user, LoginCallback cb) = 0;
  // The TLS context for new handshakes, or nullptr (no STARTTLS offered,
  // implicit-TLS connections closed). Tests without TLS keep the default.
  virtual std::shared_ptr<tls::Context> tlsContext() const { return nullptr; }
  // The session on `conn` has ended; called exactly once per session.
  virtual void connectionClosed(uint64_t conn) = 0;
  // The owner name of the maildrop lock a session on `conn` takes in stored:
  // unique among every live session of every pop3d process, and starting
  // with the prefix this worker's successor frees at start (main.cc).
  virtual std::string lockOwner(uint64_t conn) const { return "pop3d/" + std::to_string(conn); }
};

}  // namespace postern::pop3d
