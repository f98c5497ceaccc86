#pragma once
// What an LMTP session needs from its process. main.cc adapts
// WorkerRuntime to it; tests supply a fake. LMTP never asks the master
// for a login: it only reports when a connection ends.
#include <cstdint>
#include <memory>
#include <string>

#include "config.h"
#include "event_loop.h"
#include "store_client.h"
#include "tls.h"

namespace postern::lmtpd {

class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual EventLoop& loop() = 0;
  virtual StoreClient& store() = 0;
  virtual const Config& config() const = 0;
  virtual std::string hostname() const = 0;
  // The TLS context for new handshakes, or nullptr (no STARTTLS offered,
  // implicit-TLS connections closed). Tests without TLS keep the default.
  virtual std::shared_ptr<tls::Context> tlsContext() const { return nullptr; }
  // The session on `conn` has ended; called exactly once per session.
  virtual void connectionClosed(uint64_t conn) = 0;
};

}  // namespace postern::lmtpd
