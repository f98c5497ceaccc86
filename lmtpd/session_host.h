#pragma once
// What an LMTP session needs from its process: the loop, the store, the
// config (SessionHostBase, common/line_session.h) and the host name.
// main.cc adapts WorkerRuntime to it; tests supply a fake. LMTP never asks
// the master for a login: it only reports when a connection ends.
#include <string>

#include "line_session.h"
#include "lmtpd/user_cache.h"

namespace postern::lmtpd {

class SessionHost : public SessionHostBase {
 public:
  virtual std::string hostname() const = 0;
  // Recipients known to exist, shared by the process's sessions (loop thread).
  UserCache& knownUsers() { return known_users_; }

 private:
  UserCache known_users_;
};

}  // namespace postern::lmtpd
