#pragma once
// Small socket helpers shared by the master and the workers.
#include <cstdint>
#include <string>

#include "config.h"

namespace postern::net {

// Creates a listening TCP socket (non-blocking, CLOEXEC, SO_REUSEADDR).
// Returns the fd or -1 with *err set.
int listenTcp(const ListenAddr& addr, std::string* err);
// The port a socket is bound to (after binding to port 0).
uint16_t localPort(int fd);
// Numeric peer address and port of a connected socket.
std::string peerAddress(int fd, uint16_t* port);
bool setNonBlocking(int fd);

}  // namespace postern::net
