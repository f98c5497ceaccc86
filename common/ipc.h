#pragma once
// The master/worker contract, all of it. One SOCK_SEQPACKET socketpair per
// worker; every message is one fixed-size IpcMsg datagram, and kNewConn
// carries the client socket as SCM_RIGHTS ancillary data.
//
//   master -> worker   kNewConn     conn, peer, port + fd; text = protocol and
//                                   flags, "+"-separated: "imap", "imap+tls+trusted"
//                                   (tls: implicit TLS, handshake before the greeting;
//                                   notls: offer no STARTTLS; trusted: the peer is in
//                                   trusted_networks, plaintext login allowed).
//                                   tls::parseConnText / connText (common/tls.h).
//                      kLoginReply  conn, ok (value 1/0), text = reason
//                      kReload      re-read the config file; to workers, with the
//                                   TLS memfd attached (kTlsFdEnv)
//                      kShutdown    say BYE/-ERR/421 to every client, close, exit;
//                                   value = grace in ms
//                      kKick        conn: close this session with a goodbye,
//                                   text = reason
//                      kWhoRequest  value = request id: report every session
//                      kAuthPenalty conn, value = ms to wait before answering the
//                                   failed authentication reported with kAuthFailed
//                                   (answers come in the order of the reports)
//   worker -> master   kReady       worker is serving
//                      kLoginRequest conn, text = user: may this session log in?
//                                   value = the user's POP3 LOGIN-DELAY in seconds
//                                   (pop3d; pop3.login_delay or the user's override)
//                      kConnClosed  conn: the session has ended
//                      kSessionInfo conn, value = request id, text = the
//                                   worker's view: "state\tidle_s\tin\tout"
//                      kWhoDone     value = request id: report complete
//                      kAuthFailed  conn: an authentication on this connection
//                                   failed (wrong password, unknown user, bad
//                                   SASL exchange); the master records it against
//                                   the client address and answers kAuthPenalty
//
// The master counts a connection from kNewConn until kConnClosed or the
// worker's death, and a login from a kLoginReply(ok) until then.
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::ipc {

enum class MsgType : uint32_t {
  kNewConn = 1,
  kLoginReply = 2,
  kReload = 3,
  kShutdown = 4,
  kKick = 5,
  kWhoRequest = 6,
  kAuthPenalty = 7,
  kReady = 100,
  kLoginRequest = 101,
  kConnClosed = 102,
  kSessionInfo = 103,
  kWhoDone = 104,
  kAuthFailed = 105,
};

struct IpcMsg {
  MsgType type;
  uint32_t value;        // port, ok flag, grace ms: per type
  uint64_t conn;         // connection id, unique for the master's lifetime
  char peer[64];         // client address, NUL-terminated
  char text[320];        // user name or reason, NUL-terminated
};

IpcMsg makeMsg(MsgType type, uint64_t conn = 0, uint32_t value = 0,
               std::string_view peer = {}, std::string_view text = {});

// Sends one message, with `fd` attached when fd >= 0. Returns false on
// failure (errno set). Non-blocking sockets may fail with EAGAIN.
bool send(int sock, const IpcMsg& msg, int fd = -1);

// Like send(), but on a full socket waits (poll) up to `timeout_ms` for
// room, so a burst (posternctl who, many closes at once) is not lost.
bool sendWait(int sock, const IpcMsg& msg, int fd = -1, int timeout_ms = 2000);

// Receives one message. Returns 1 on success, 0 on EOF, -1 on error/EAGAIN.
// *fd receives an attached descriptor (or -1).
int recv(int sock, IpcMsg* msg, int* fd);

// Environment variable through which a child learns its IPC fd.
inline constexpr const char* kIpcFdEnv = "POSTERN_IPC_FD";
// Environment variable naming the fd of a sealed memfd holding the TLS
// certificate chain and private key (PEM), read by the master before any
// privileges were dropped. A kReload message carries the new one as its
// attached fd. Workers only; absent when the master has no certificate.
inline constexpr const char* kTlsFdEnv = "POSTERN_TLS_FD";

}  // namespace postern::ipc
