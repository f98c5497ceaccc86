#include "worker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "grpc_process.h"
#include "ipc.h"
#include "log.h"
#include "store_client_grpc.h"

namespace postern {

std::string WorkerRuntime::hostname() const {
  if (!config_.hostname.empty()) return config_.hostname;
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

void WorkerRuntime::requestLogin(uint64_t conn, const std::string& user,
                                 std::function<void(bool, const std::string&)> cb, uint32_t login_delay_s) {
  if (ipc_fd_ < 0) {  // standalone (tests): no master to ask
    loop_.post([cb] { cb(true, ""); });
    return;
  }
  login_waiters_[conn] = std::move(cb);
  if (!ipc::sendWait(ipc_fd_, ipc::makeMsg(ipc::MsgType::kLoginRequest, conn, login_delay_s, "", user))) {
    auto it = login_waiters_.find(conn);
    auto f = std::move(it->second);
    login_waiters_.erase(it);
    loop_.post([f] { f(false, "temporary failure: master unreachable"); });
  }
}

void WorkerRuntime::authFailed(uint64_t conn, std::function<void(std::chrono::milliseconds)> cb) {
  if (ipc_fd_ < 0) {  // standalone (tests): a fixed delay, no shared table
    loop_.post([cb] { cb(kStandaloneAuthDelay); });
    return;
  }
  penalty_waiters_[conn].push_back(std::move(cb));
  if (!ipc::sendWait(ipc_fd_, ipc::makeMsg(ipc::MsgType::kAuthFailed, conn))) {
    // The master is unreachable (it is going away): still never answer at once.
    auto& q = penalty_waiters_[conn];
    auto f = std::move(q.back());
    q.pop_back();
    if (q.empty()) penalty_waiters_.erase(conn);
    loop_.post([f] { f(std::chrono::milliseconds(2000)); });
  }
}

void WorkerRuntime::connectionClosed(uint64_t conn) {
  login_waiters_.erase(conn);
  penalty_waiters_.erase(conn);
  if (ipc_fd_ >= 0) ipc::sendWait(ipc_fd_, ipc::makeMsg(ipc::MsgType::kConnClosed, conn));
  if (shutting_down_ && hooks_.active_connections && hooks_.active_connections() == 0) {
    loop_.post([this] { loop_.stop(); });
  }
}

void WorkerRuntime::loadTls() {
  // The master's memfd holds the chain and the key in one PEM; it is read
  // through /proc/self/fd so both loaders open it afresh (own offset).
  std::string pem = tls_fd_ >= 0 ? "/proc/self/fd/" + std::to_string(tls_fd_) : "";
  auto ctx = pem.empty() ? tls::Context::fromConfig(config_) : tls::Context::server(pem, pem, config_.tls_min_version);
  if (!ctx.ok()) {
    // At reload the previous context stays: a bad new file must not turn TLS off.
    log::error(tls_ ? "TLS certificate not reloaded, keeping the previous one" : "TLS unavailable",
               {{"error", ctx.error().message}});
    return;
  }
  tls_ = ctx.value();
  log::debug("TLS certificate loaded", {{"sha256", tls_->fingerprint()}});
}

void WorkerRuntime::beginShutdown(uint32_t grace_ms) {
  if (shutting_down_) return;
  shutting_down_ = true;
  log::info("shutting down", {{"grace_ms", std::to_string(grace_ms)}});
  if (hooks_.on_shutdown) hooks_.on_shutdown(grace_ms);
  if (!hooks_.active_connections || hooks_.active_connections() == 0) {
    loop_.stop();
    return;
  }
  loop_.after(std::chrono::milliseconds(grace_ms), [this] { loop_.stop(); });
}

void WorkerRuntime::onIpc() {
  for (;;) {
    ipc::IpcMsg m{};
    int fd = -1;
    int rc = ipc::recv(ipc_fd_, &m, &fd);
    if (rc == 0) {  // master gone: nothing more to serve
      log::warn("master closed the channel; exiting");
      loop_.remove(ipc_fd_);
      close(ipc_fd_);
      ipc_fd_ = -1;
      beginShutdown(0);
      return;
    }
    if (rc < 0) return;  // EAGAIN
    switch (m.type) {
      case ipc::MsgType::kNewConn:
        if (fd < 0) break;
        if (shutting_down_ || !hooks_.on_connection) {
          close(fd);
          ipc::sendWait(ipc_fd_, ipc::makeMsg(ipc::MsgType::kConnClosed, m.conn));
          break;
        }
        {
          NewConnection nc;
          nc.fd = fd;
          nc.conn = m.conn;
          nc.peer = m.peer;
          nc.port = static_cast<uint16_t>(m.value);
          nc.security = tls::parseConnText(m.text, nullptr);
          hooks_.on_connection(nc);
        }
        break;
      case ipc::MsgType::kLoginReply: {
        auto it = login_waiters_.find(m.conn);
        if (it == login_waiters_.end()) break;
        auto f = std::move(it->second);
        login_waiters_.erase(it);
        f(m.value != 0, m.text);
        break;
      }
      case ipc::MsgType::kAuthPenalty: {
        auto it = penalty_waiters_.find(m.conn);
        if (it == penalty_waiters_.end()) break;  // the session has gone
        auto f = std::move(it->second.front());
        it->second.pop_front();
        if (it->second.empty()) penalty_waiters_.erase(it);
        f(std::chrono::milliseconds(m.value));
        break;
      }
      case ipc::MsgType::kReload: {
        if (fd >= 0) {  // the master's current TLS certificate and key
          if (tls_fd_ >= 0) close(tls_fd_);
          tls_fd_ = fd;
        }
        auto cfg = loadConfig(config_path_);
        if (!cfg.ok()) {
          log::error("reload refused, keeping the running config", {{"error", cfg.error().message}});
          break;
        }
        config_ = cfg.value();
        bool ok = false;
        log::setLevel(log::parseLevel(config_.log_level, &ok));
        log::info("config reloaded");
        loadTls();
        if (hooks_.on_reload) hooks_.on_reload();
        break;
      }
      case ipc::MsgType::kShutdown:
        beginShutdown(m.value);
        break;
      case ipc::MsgType::kKick:
        if (hooks_.on_kick) hooks_.on_kick(m.conn, m.text);
        break;
      case ipc::MsgType::kWhoRequest: {
        if (hooks_.sessions) {
          for (const auto& r : hooks_.sessions()) {
            std::string text = r.state + "\t" + std::to_string(r.idle_seconds) + "\t" + std::to_string(r.bytes_in) +
                               "\t" + std::to_string(r.bytes_out);
            ipc::sendWait(ipc_fd_, ipc::makeMsg(ipc::MsgType::kSessionInfo, r.conn, m.value, "", text));
          }
        }
        ipc::sendWait(ipc_fd_, ipc::makeMsg(ipc::MsgType::kWhoDone, 0, m.value));
        break;
      }
      default:
        if (fd >= 0) close(fd);
        log::warn("unexpected ipc message", {{"type", std::to_string(static_cast<uint32_t>(m.type))}});
    }
  }
}

int WorkerRuntime::main(int argc, char** argv, const std::string& kind,
                        const std::function<WorkerHooks(WorkerRuntime&)>& setup) {
  grpcProcessInit();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  WorkerRuntime rt;
  rt.kind_ = kind;
  rt.name_ = kind;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) rt.config_path_ = argv[++i];
    else if (a == "--name" && i + 1 < argc) rt.name_ = argv[++i];
    else {
      fprintf(stderr, "usage: postern-%s [--config PATH] [--name NAME]\n", kind.c_str());
      return 2;
    }
  }
  auto cfg = loadConfig(rt.config_path_);
  if (!cfg.ok()) {
    fprintf(stderr, "postern-%s: %s\n", kind.c_str(), cfg.error().message.c_str());
    return 2;
  }
  rt.config_ = cfg.value();
  initLogging(rt.config_, rt.name_);
  if (const char* env = getenv(ipc::kTlsFdEnv)) {
    rt.tls_fd_ = atoi(env);
    unsetenv(ipc::kTlsFdEnv);
    if (rt.tls_fd_ < 3 || fcntl(rt.tls_fd_, F_SETFD, FD_CLOEXEC) != 0) rt.tls_fd_ = -1;
  }
  rt.loadTls();
  rt.store_ = makeGrpcStoreClient(rt.loop_, rt.config_.storeTarget(),
                                  static_cast<size_t>(rt.config_.message_size_limit) + (4u << 20));

  // SIGTERM/SIGINT arrive through a signalfd-free path: a self-pipe via the loop.
  static int sig_pipe[2] = {-1, -1};
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
    struct sigaction sa{};
    sa.sa_handler = [](int) {
      char c = 1;
      ssize_t n = write(sig_pipe[1], &c, 1);
      (void)n;
    };
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    rt.loop_.add(sig_pipe[0], EPOLLIN, [&rt](uint32_t) {
      char buf[16];
      while (read(sig_pipe[0], buf, sizeof buf) > 0) {
      }
      rt.beginShutdown(rt.config_.shutdown_grace_ms);
    });
  }

  if (const char* env = getenv(ipc::kIpcFdEnv)) {
    rt.ipc_fd_ = atoi(env);
    unsetenv(ipc::kIpcFdEnv);
    fcntl(rt.ipc_fd_, F_SETFL, fcntl(rt.ipc_fd_, F_GETFL) | O_NONBLOCK);
    rt.loop_.add(rt.ipc_fd_, EPOLLIN, [&rt](uint32_t) { rt.onIpc(); });
  }
  rt.hooks_ = setup(rt);
  if (rt.ipc_fd_ >= 0) ipc::send(rt.ipc_fd_, ipc::makeMsg(ipc::MsgType::kReady));
  log::info("worker started", {{"uid", std::to_string(getuid())}, {"gid", std::to_string(getgid())},
                               {"no_new_privs", std::to_string(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0))}});
  rt.loop_.run();
  log::info("worker stopped");
  // Skip static destructors and gRPC teardown races: everything is flushed.
  fflush(stderr);
  _exit(0);
}

}  // namespace postern
