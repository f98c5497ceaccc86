#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ipc.h"

using namespace postern;

TEST_CASE("ipc: a message and its fd cross a seqpacket pair") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  int p[2];
  REQUIRE(pipe(p) == 0);
  auto m = ipc::makeMsg(ipc::MsgType::kNewConn, 42, 1143, "127.0.0.2", "imap");
  REQUIRE(ipc::send(sv[0], m, p[1]));
  ipc::IpcMsg got{};
  int fd = -1;
  REQUIRE(ipc::recv(sv[1], &got, &fd) == 1);
  CHECK(got.type == ipc::MsgType::kNewConn);
  CHECK(got.conn == 42);
  CHECK(got.value == 1143);
  CHECK(std::string(got.peer) == "127.0.0.2");
  CHECK(std::string(got.text) == "imap");
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "x", 1) == 1);
  char c = 0;
  REQUIRE(read(p[0], &c, 1) == 1);
  CHECK(c == 'x');
  close(fd);
  close(sv[0]);
  REQUIRE(ipc::recv(sv[1], &got, &fd) == 0);  // EOF
  close(sv[1]);
  close(p[0]);
  close(p[1]);
}

TEST_CASE("ipc: over-long text is truncated and NUL-terminated") {
  std::string big(1000, 'u');
  auto m = ipc::makeMsg(ipc::MsgType::kLoginRequest, 1, 0, "", big);
  CHECK(strlen(m.text) == sizeof m.text - 1);
}
