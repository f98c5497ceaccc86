#include "supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

extern char** environ;

#include "log.h"

namespace postern::master {

std::string describeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string s = "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    if (WCOREDUMP(status)) s += ", core dumped";
    return s;
  }
  return "ended with status " + std::to_string(status);
}

Supervisor::Supervisor(EventLoop& loop, std::string config_path, Hooks hooks)
    : loop_(loop), config_path_(std::move(config_path)), hooks_(std::move(hooks)) {}

std::string Supervisor::findBinary(const std::string& kind) {
  char self[PATH_MAX] = {0};
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
  dir = dir.substr(0, dir.rfind('/'));
  std::string bin = "postern-" + kind;
  // Build tree, beside the master, then the installed layouts: <prefix>/libexec/postern
  // (FHS, what `meson install` and the Debian package use) before the older lib/postern.
  for (const std::string& cand :
       {dir + "/../" + kind + "/" + bin, dir + "/" + bin, dir + "/../libexec/postern/" + bin,
        dir + "/../lib/postern/" + bin, std::string("/usr/libexec/postern/") + bin,
        std::string("/usr/lib/postern/") + bin}) {
    if (access(cand.c_str(), X_OK) == 0) return cand;
  }
  return dir + "/" + bin;
}

int Supervisor::add(const std::string& kind, const std::string& name) {
  Child c;
  c.kind = kind;
  c.name = name;
  children_.push_back(c);
  int slot = static_cast<int>(children_.size() - 1);
  start(slot);
  return slot;
}

void Supervisor::start(int slot) {
  Child& c = children_[static_cast<size_t>(slot)];
  c.restart_timer = 0;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    log::error("socketpair failed", {{"child", c.name}, {"error", strerror(errno)}});
    return;
  }
  std::string bin = findBinary(c.kind);
  pid_t master_pid = getpid();
  // Everything the child needs is prepared before fork: after fork only
  // async-signal-safe calls are made (the admin API has threads).
  std::vector<std::string> args = {bin, "--name", c.name};
  if (!config_path_.empty()) {
    args.push_back("--config");
    args.push_back(config_path_);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The child finds its end of the socketpair on fd 3, a worker the TLS
  // memfd on fd 4.
  constexpr int kChildIpcFd = 3;
  constexpr int kChildTlsFd = 4;
  int tls_fd = c.kind != "stored" ? tls_fd_ : -1;
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    if (strncmp(*e, ipc::kIpcFdEnv, strlen(ipc::kIpcFdEnv)) == 0) continue;
    if (strncmp(*e, ipc::kTlsFdEnv, strlen(ipc::kTlsFdEnv)) == 0) continue;
    env_store.emplace_back(*e);
  }
  env_store.push_back(std::string(ipc::kIpcFdEnv) + "=" + std::to_string(kChildIpcFd));
  if (tls_fd >= 0) env_store.push_back(std::string(ipc::kTlsFdEnv) + "=" + std::to_string(kChildTlsFd));
  ChildCredentials creds = privileges_.forKind(c.kind);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    log::error("fork failed", {{"child", c.name}, {"error", strerror(errno)}});
    close(sv[0]);
    close(sv[1]);
    return;
  }
  if (pid == 0) {
    // Child: die with the master, clean signal state, exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != master_pid) _exit(1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Move both descriptors out of the way first, so neither dup2 below
    // can overwrite the other; dup2 clears CLOEXEC on the copies.
    int ipc_high = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    int tls_high = tls_fd >= 0 ? fcntl(tls_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (ipc_high < 0 || dup2(ipc_high, kChildIpcFd) < 0) _exit(126);
    if (tls_fd >= 0 && (tls_high < 0 || dup2(tls_high, kChildTlsFd) < 0)) _exit(126);
    if (const char* step = applyChildCredentials(creds)) {
      const char pre[] = "postern-master: cannot drop privileges for a child: ";
      ssize_t w = write(2, pre, sizeof pre - 1);
      w = write(2, step, strlen(step));
      w = write(2, "\n", 1);
      (void)w;
      _exit(126);
    }
    execve(bin.c_str(), argv.data(), envp.data());
    const char msg[] = "postern-master: cannot exec a child binary\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
  }
  close(sv[1]);
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  c.pid = pid;
  c.ipc = sv[0];
  c.ready = false;
  c.started = EventLoop::now();
  c.started_unix = time(nullptr);
  loop_.add(c.ipc, EPOLLIN, [this, slot](uint32_t) { onIpc(slot); });
  log::info("started", {{"child", c.name}, {"pid", std::to_string(pid)},
                        {"uid", std::to_string(creds.switch_user ? creds.uid : getuid())}});
}

void Supervisor::onIpc(int slot) {
  Child& c = children_[static_cast<size_t>(slot)];
  for (int i = 0; i < 256 && c.ipc >= 0; ++i) {
    ipc::IpcMsg m{};
    int fd = -1;
    int rc = ipc::recv(c.ipc, &m, &fd);
    if (rc <= 0) {
      if (rc == 0) {  // child gone; reap() does the rest
        loop_.remove(c.ipc);
        close(c.ipc);
        c.ipc = -1;
      }
      return;
    }
    if (m.type == ipc::MsgType::kReady) {
      c.ready = true;
      log::info("ready", {{"child", c.name}, {"pid", std::to_string(c.pid)}});
    }
    hooks_.on_message(slot, m, fd);
  }
}

void Supervisor::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t i = 0; i < children_.size(); ++i) {
      Child& c = children_[i];
      if (c.pid != pid) continue;
      int slot = static_cast<int>(i);
      c.pid = -1;
      c.ready = false;
      c.last_exit = describeExit(status);
      if (c.ipc >= 0) {
        loop_.remove(c.ipc);
        close(c.ipc);
        c.ipc = -1;
      }
      hooks_.on_exit(slot);
      if (c.stopping) {
        log::info("stopped", {{"child", c.name}, {"how", c.last_exit}});
        break;
      }
      auto ran = std::chrono::duration_cast<std::chrono::seconds>(EventLoop::now() - c.started).count();
      if (ran >= static_cast<int64_t>(cfg_.restart_healthy_s)) c.consecutive_failures = 0;
      uint64_t delay = cfg_.restart_backoff_initial_ms;
      for (uint32_t k = 0; k < c.consecutive_failures && delay < cfg_.restart_backoff_max_ms; ++k) delay *= 2;
      if (delay > cfg_.restart_backoff_max_ms) delay = cfg_.restart_backoff_max_ms;
      ++c.consecutive_failures;
      ++c.restarts;
      log::error("child died; restarting", {{"child", c.name},
                                            {"pid", std::to_string(pid)},
                                            {"how", c.last_exit},
                                            {"ran_s", std::to_string(ran)},
                                            {"restart_in_ms", std::to_string(delay)}});
      c.restart_timer = loop_.after(std::chrono::milliseconds(delay), [this, slot] {
        if (!children_[static_cast<size_t>(slot)].stopping) start(slot);
      });
      break;
    }
  }
}

bool Supervisor::send(int slot, const ipc::IpcMsg& msg, int fd) {
  Child& c = children_[static_cast<size_t>(slot)];
  if (c.pid < 0 || c.ipc < 0) return false;
  // A worker that cannot take a message within 200 ms is stuck; the
  // caller treats the failure like a dead worker.
  return ipc::sendWait(c.ipc, msg, fd, 200);
}

void Supervisor::sendAll(const ipc::IpcMsg& msg, const std::string& kind, int fd) {
  for (size_t i = 0; i < children_.size(); ++i) {
    if (kind.empty() || children_[i].kind == kind) send(static_cast<int>(i), msg, fd);
  }
}

void Supervisor::stopAll(const std::string& kind, int signo) {
  for (auto& c : children_) {
    if (!kind.empty() && c.kind != kind) continue;
    c.stopping = true;
    if (c.restart_timer) loop_.cancel(c.restart_timer);
    if (c.pid > 0 && signo) kill(c.pid, signo);
  }
}

bool Supervisor::anyRunning(const std::string& kind) const {
  for (const auto& c : children_)
    if (c.pid > 0 && (kind.empty() || c.kind == kind)) return true;
  return false;
}

void Supervisor::killAll(int signo) {
  for (auto& c : children_)
    if (c.pid > 0) kill(c.pid, signo);
}

}  // namespace postern::master
