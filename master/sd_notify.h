#pragma once
// The systemd notification protocol (sd_notify(3)) without libsystemd: one
// datagram to $NOTIFY_SOCKET. A no-op when not started by systemd with
// Type=notify. Never blocks; failures are ignored (the service still runs).
#include <string>

namespace postern::master {

// "READY=1", "STATUS=...", "RELOADING=1", "STOPPING=1", ... ; true if sent.
bool sdNotify(const std::string& state);

}  // namespace postern::master
