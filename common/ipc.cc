#include "ipc.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace postern::ipc {

IpcMsg makeMsg(MsgType type, uint64_t conn, uint32_t value, std::string_view peer,
               std::string_view text) {
  IpcMsg m{};
  m.type = type;
  m.conn = conn;
  m.value = value;
  // copy_n, not memcpy: an empty string_view may have a null data().
  size_t pn = std::min(peer.size(), sizeof m.peer - 1);
  std::copy_n(peer.data(), pn, m.peer);
  size_t tn = std::min(text.size(), sizeof m.text - 1);
  std::copy_n(text.data(), tn, m.text);
  return m;
}

bool send(int sock, const IpcMsg& msg, int fd) {
  iovec iov{const_cast<IpcMsg*>(&msg), sizeof msg};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    memset(cbuf, 0, sizeof cbuf);
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof msg)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

bool sendWait(int sock, const IpcMsg& msg, int fd, int timeout_ms) {
  for (int waited = 0;;) {
    if (send(sock, msg, fd)) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) return false;
    if (waited >= timeout_ms) return false;
    pollfd p{sock, POLLOUT, 0};
    poll(&p, 1, 50);
    waited += 50;
  }
}

int recv(int sock, IpcMsg* msg, int* fd) {
  *fd = -1;
  iovec iov{msg, sizeof *msg};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return 0;
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof(int));
  }
  if (n != static_cast<ssize_t>(sizeof *msg)) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    errno = EPROTO;
    return -1;
  }
  msg->peer[sizeof msg->peer - 1] = 0;
  msg->text[sizeof msg->text - 1] = 0;
  return 1;
}

}  // namespace postern::ipc
