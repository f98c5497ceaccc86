#pragma once
// A blocking client connection to 127.0.0.1 (plain TCP or TLS through OpenSSL) with
// buffered line and exact-length reads. Every read and write is bounded by the timeout
// given at connect (SO_RCVTIMEO / SO_SNDTIMEO); a timeout, EOF or error throws BenchError.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

namespace postern::bench {

// Throws unless host is a loopback address: the tool never sends traffic off the machine.
void requireLoopback(const std::string& host);

// Raises RLIMIT_NOFILE to at least `want` (or the hard limit); returns the new soft limit.
long raiseFdLimit(long want);

// With quick ACKs on, every plain connection acknowledges each segment at once
// (TCP_QUICKACK re-armed after each read), so a server that writes one response in several
// small segments without TCP_NODELAY is not held by Nagle's algorithm waiting for the
// client's delayed ACK (up to 40 ms on Linux). Off by default: real clients delay ACKs.
void setQuickAck(bool on);

class Conn {
 public:
  // Connects to host:port; with tls, completes a TLS handshake (certificate not verified:
  // the servers under test use self-signed certificates).
  static std::unique_ptr<Conn> open(const std::string& host, int port, bool tls, double timeout_s);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void send(std::string_view data);
  // One line without its CRLF (a bare LF also ends a line).
  std::string readLine();
  // Appends exactly n octets to out.
  void readExact(size_t n, std::string& out);
  // Bytes already read from the socket but not yet consumed.
  size_t buffered() const { return buf_.size() - pos_; }
  // Non-blocking read of whatever is available into the buffer (for epoll users):
  // returns false on EOF. Only for plain connections.
  bool fillNonBlocking();
  // A complete buffered line, if any (without CRLF).
  bool takeBufferedLine(std::string& line);
  int fd() const { return fd_; }
  void setTimeout(double seconds);
  void close();

 private:
  Conn() = default;
  size_t fill();  // reads at least one byte; throws on EOF/timeout

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace postern::bench
