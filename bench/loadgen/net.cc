#include "net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "util.h"

namespace postern::bench {

void requireLoopback(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) return;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6)) return;
  fail("refusing host '" + host + "': the load generator only talks to loopback addresses");
}

long raiseFdLimit(long want) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t target = static_cast<rlim_t>(want);
  if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
  if (rl.rlim_cur < target) {
    rl.rlim_cur = target;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return static_cast<long>(rl.rlim_cur);
}

static std::atomic<bool> g_quick_ack{false};
void setQuickAck(bool on) { g_quick_ack = on; }

static void quickAck(int fd) {
  if (!g_quick_ack.load(std::memory_order_relaxed)) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static SSL_CTX* clientContext() {
  static std::once_flag once;
  static SSL_CTX* ctx = nullptr;
  std::call_once(once, [] {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) fail("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  });
  return ctx;
}

static std::string sslError(const char* what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + ": " + (e ? buf : std::strerror(errno));
}

std::unique_ptr<Conn> Conn::open(const std::string& host, int port, bool tls, double timeout_s) {
  requireLoopback(host);
  std::unique_ptr<Conn> c(new Conn());
  bool v6 = host.find(':') != std::string::npos;
  c->fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) fail(std::string("socket: ") + std::strerror(errno));
  c->setTimeout(timeout_s);
  int one = 1;
  setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc;
  if (v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &sa.sin6_addr);
    rc = ::connect(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
    rc = ::connect(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  quickAck(c->fd_);
  if (rc != 0) fail("connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
  if (tls) {
    c->ssl_ = SSL_new(clientContext());
    if (!c->ssl_) fail(sslError("SSL_new"));
    SSL_set_fd(c->ssl_, c->fd_);
    if (SSL_connect(c->ssl_) != 1) fail(sslError("TLS handshake"));
  }
  c->buf_.reserve(1 << 18);
  return c;
}

Conn::~Conn() { close(); }

void Conn::close() {
  if (ssl_) {
    SSL_free(ssl_);  // no close_notify round trip: the protocol already said goodbye
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Conn::setTimeout(double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void Conn::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n;
    if (ssl_) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
      if (n <= 0) fail(sslError("TLS write"));
    } else {
      n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(errno == EAGAIN ? "write timed out" : std::string("write: ") + std::strerror(errno));
      }
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

size_t Conn::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1 << 20)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  constexpr size_t kChunk = 1 << 18;
  buf_.resize(old + kChunk);
  ssize_t n;
  for (;;) {
    if (ssl_) {
      n = SSL_read(ssl_, buf_.data() + old, static_cast<int>(kChunk));
      if (n <= 0) {
        buf_.resize(old);
        int e = SSL_get_error(ssl_, static_cast<int>(n));
        if (e == SSL_ERROR_ZERO_RETURN) fail("connection closed by server (TLS)");
        fail(sslError("TLS read"));
      }
    } else {
      n = ::recv(fd_, buf_.data() + old, kChunk, 0);
      if (n < 0 && errno == EINTR) continue;
      quickAck(fd_);
      if (n <= 0) {
        buf_.resize(old);
        if (n == 0) fail("connection closed by server");
        fail(errno == EAGAIN ? "read timed out" : std::string("read: ") + std::strerror(errno));
      }
    }
    break;
  }
  buf_.resize(old + static_cast<size_t>(n));
  return static_cast<size_t>(n);
}

std::string Conn::readLine() {
  size_t scanned = 0;  // relative to pos_: fill() may move the buffered bytes
  for (;;) {
    size_t nl = buf_.find('\n', pos_ + scanned);
    if (nl != std::string::npos) {
      size_t end = nl > pos_ && buf_[nl - 1] == '\r' ? nl - 1 : nl;
      std::string line = buf_.substr(pos_, end - pos_);
      pos_ = nl + 1;
      return line;
    }
    scanned = buf_.size() - pos_;
    if (scanned > (64u << 20)) fail("line longer than 64 MiB");
    fill();
  }
}

void Conn::readExact(size_t n, std::string& out) {
  while (n > 0) {
    if (pos_ == buf_.size()) fill();
    size_t take = std::min(n, buf_.size() - pos_);
    out.append(buf_, pos_, take);
    pos_ += take;
    n -= take;
  }
}

bool Conn::fillNonBlocking() {
  char tmp[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    return false;
  }
}

bool Conn::takeBufferedLine(std::string& line) {
  size_t nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) return false;
  size_t end = nl > pos_ && buf_[nl - 1] == '\r' ? nl - 1 : nl;
  line = buf_.substr(pos_, end - pos_);
  pos_ = nl + 1;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return true;
}

}  // namespace postern::bench
