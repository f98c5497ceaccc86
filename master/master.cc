#include "master.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include "admin_service.h"
#include "log.h"
#include "net.h"

namespace postern::master {
namespace {

bool mkdirs(const std::string& path, mode_t mode) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return false;
    }
    if (i < path.size()) cur += path[i];
  }
  return true;
}

}  // namespace

Master::Master(std::string config_path, Config cfg)
    : config_path_(std::move(config_path)), cfg_(std::move(cfg)) {}

Master::~Master() = default;

bool Master::bindListeners(std::string* err) {
  auto add = [&](const std::string& proto, const std::vector<ListenAddr>& addrs) {
    for (const auto& a : addrs) {
      int fd = net::listenTcp(a, err);
      if (fd < 0) return false;
      Listener l;
      l.protocol = proto;
      l.addr = a;
      l.addr.port = net::localPort(fd);
      l.fd = fd;
      listeners_.push_back(l);
    }
    return true;
  };
  return add("imap", cfg_.imap_listen) && add("pop3", cfg_.pop3_listen) && add("lmtp", cfg_.lmtp_listen);
}

void Master::writePortsFile() {
  std::string path = cfg_.runDir() + "/ports";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& l : listeners_) out << l.protocol << ' ' << l.addr.host << ' ' << l.addr.port << '\n';
  }
  rename(tmp.c_str(), path.c_str());
}

int Master::pickWorker(const std::string& kind) {
  int best = -1;
  size_t best_load = 0;
  const auto& ch = sup_->children();
  for (size_t i = 0; i < ch.size(); ++i) {
    if (ch[i].kind != kind || ch[i].pid < 0 || ch[i].ipc < 0 || ch[i].stopping) continue;
    size_t load = conns_.byWorker(static_cast<int>(i));
    if (best < 0 || load < best_load) {
      best = static_cast<int>(i);
      best_load = load;
    }
  }
  return best;
}

void Master::refuse(int fd, const std::string& protocol, const std::string& why) {
  std::string line;
  if (protocol == "imap") line = "* BYE [UNAVAILABLE] " + why + "\r\n";
  else if (protocol == "pop3") line = "-ERR [SYS/TEMP] " + why + "\r\n";
  else line = "421 4.3.2 " + why + "\r\n";
  ssize_t n = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;
  close(fd);
}

void Master::onAccept(size_t li) {
  Listener& l = listeners_[li];
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) log::error("out of file descriptors while accepting");
      return;
    }
    uint16_t port = 0;
    std::string peer = net::peerAddress(fd, &port);
    ++counters_["accepted"];
    int w = pickWorker(l.protocol + "d");
    if (w < 0) {
      ++counters_["refused.no_worker"];
      log::warn("connection refused: no worker", {{"proto", l.protocol}, {"ip", peer}});
      refuse(fd, l.protocol, "Service temporarily unavailable, try again later");
      continue;
    }
    uint64_t id = next_conn_++;
    if (!sup_->send(w, ipc::makeMsg(ipc::MsgType::kNewConn, id, port, peer, l.protocol), fd)) {
      ++counters_["refused.handoff_failed"];
      refuse(fd, l.protocol, "Service temporarily unavailable, try again later");
      continue;
    }
    close(fd);
    ConnInfo c;
    c.id = id;
    c.protocol = l.protocol;
    c.peer = peer;
    c.worker = w;
    c.since = time(nullptr);
    conns_.add(std::move(c));
    log::debug("connection handed over", {{"proto", l.protocol}, {"ip", peer},
                                          {"conn", std::to_string(id)},
                                          {"worker", sup_->children()[static_cast<size_t>(w)].name}});
  }
}

void Master::onChildMessage(int slot, const ipc::IpcMsg& m, int fd) {
  if (fd >= 0) close(fd);
  const Child& child = sup_->children()[static_cast<size_t>(slot)];
  switch (m.type) {
    case ipc::MsgType::kReady:
      if (child.kind == "stored" && !shutting_down_) startChildren();
      break;
    case ipc::MsgType::kLoginRequest: {
      const ConnInfo* c = conns_.find(m.conn);
      if (!c || c->worker != slot) {
        sup_->send(slot, ipc::makeMsg(ipc::MsgType::kLoginReply, m.conn, 0, "", "unknown connection"));
        break;
      }
      // Admission policy (per-user limits, licence seats) is decided here.
      conns_.setUser(m.conn, m.text);
      ++counters_["logins"];
      sup_->send(slot, ipc::makeMsg(ipc::MsgType::kLoginReply, m.conn, 1));
      break;
    }
    case ipc::MsgType::kConnClosed:
      conns_.remove(m.conn);
      if (shutting_down_) checkShutdownDone();
      break;
    default:
      log::warn("unexpected message from child", {{"child", child.name}});
  }
}

void Master::onChildExit(int slot) {
  size_t dropped = conns_.removeWorker(slot);
  if (dropped > 0)
    log::warn("connections of a dead worker dropped from the counts",
              {{"child", sup_->children()[static_cast<size_t>(slot)].name}, {"count", std::to_string(dropped)}});
  if (shutting_down_) checkShutdownDone();
}

void Master::startChildren() {
  static bool started = false;
  if (started) return;
  started = true;
  auto pool = [&](const std::string& kind, uint32_t configured, bool enabled) {
    if (!enabled) return;
    uint32_t n = workerCount(configured);
    for (uint32_t i = 0; i < n; ++i) sup_->add(kind, kind + "#" + std::to_string(i));
  };
  pool("imapd", cfg_.imap_workers, !cfg_.imap_listen.empty());
  pool("pop3d", cfg_.pop3_workers, !cfg_.pop3_listen.empty());
  pool("lmtpd", cfg_.lmtp_workers, !cfg_.lmtp_listen.empty());
  for (size_t i = 0; i < listeners_.size(); ++i) {
    loop_.add(listeners_[i].fd, EPOLLIN, [this, i](uint32_t) { onAccept(i); });
    log::info("listening", {{"proto", listeners_[i].protocol}, {"addr", listeners_[i].addr.str()}});
  }
}

std::string Master::reload() {
  auto cfg = loadConfig(config_path_);
  if (!cfg.ok()) {
    log::error("reload refused, keeping the running config", {{"error", cfg.error().message}});
    return cfg.error().message;
  }
  // Listener and pool changes need a restart; everything else applies now.
  Config next = cfg.value();
  next.imap_listen = cfg_.imap_listen;
  next.pop3_listen = cfg_.pop3_listen;
  next.lmtp_listen = cfg_.lmtp_listen;
  next.data_dir = cfg_.data_dir;
  next.run_dir = cfg_.run_dir;
  cfg_ = next;
  sup_->setConfig(cfg_);
  bool ok = false;
  log::setLevel(log::parseLevel(cfg_.log_level, &ok));
  sup_->sendAll(ipc::makeMsg(ipc::MsgType::kReload));
  ++counters_["reloads"];
  log::info("config reloaded", {{"file", cfg_.source}});
  return "";
}

void Master::onSignal() {
  signalfd_siginfo si;
  while (read(sigfd_, &si, sizeof si) == sizeof si) {
    switch (si.ssi_signo) {
      case SIGCHLD:
        sup_->reap();
        break;
      case SIGHUP:
        log::info("SIGHUP: reloading config");
        reload();
        break;
      case SIGTERM:
      case SIGINT:
        log::info("shutting down", {{"signal", strsignal(static_cast<int>(si.ssi_signo))}});
        beginShutdown();
        break;
      default:
        break;
    }
  }
}

void Master::beginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto& l : listeners_) {
    loop_.remove(l.fd);
    close(l.fd);
    l.fd = -1;
  }
  for (const char* kind : {"imapd", "pop3d", "lmtpd"}) {
    sup_->stopAll(kind, 0);
    sup_->sendAll(ipc::makeMsg(ipc::MsgType::kShutdown, 0, cfg_.shutdown_grace_ms), kind);
  }
  loop_.after(std::chrono::milliseconds(cfg_.shutdown_grace_ms + 2000), [this] {
    for (auto& c : sup_->children())
      if (c.kind != "stored" && c.pid > 0) {
        log::warn("worker did not stop in time; killing", {{"child", c.name}});
        kill(c.pid, SIGKILL);
      }
  });
  checkShutdownDone();
}

void Master::checkShutdownDone() {
  bool workers = sup_->anyRunning("imapd") || sup_->anyRunning("pop3d") || sup_->anyRunning("lmtpd");
  if (workers) return;
  if (!stored_stopping_) {
    stored_stopping_ = true;
    sup_->stopAll("stored", SIGTERM);
    loop_.after(std::chrono::seconds(10), [this] {
      if (sup_->anyRunning("stored")) {
        log::warn("stored did not stop in time; killing");
        sup_->killAll(SIGKILL);
      }
    });
  }
  if (!sup_->anyRunning()) loop_.stop();
}

bool Master::runOnLoop(const std::function<void()>& f) {
  if (!loop_alive_) return false;
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  loop_.post([f, done] {
    f();
    done->set_value();
  });
  return fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
}

int Master::run() {
  started_unix_ = time(nullptr);
  if (!mkdirs(cfg_.data_dir, 0750) || !mkdirs(cfg_.runDir(), 0750)) {
    log::error("cannot create data directories", {{"dir", cfg_.runDir()}, {"error", strerror(errno)}});
    return 1;
  }
  std::string err;
  if (!bindListeners(&err)) {
    log::error("cannot listen", {{"error", err}});
    return 1;
  }
  writePortsFile();

  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sigfd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  loop_.add(sigfd_, EPOLLIN, [this](uint32_t) { onSignal(); });

  sup_ = std::make_unique<Supervisor>(
      loop_, config_path_,
      Supervisor::Hooks{[this](int s, const ipc::IpcMsg& m, int fd) { onChildMessage(s, m, fd); },
                        [this](int s) { onChildExit(s); }});
  sup_->setConfig(cfg_);
  sup_->add("stored", "stored");
  // Workers start once stored is ready; if it takes too long they start
  // anyway and answer "unavailable" until it is.
  loop_.after(std::chrono::seconds(15), [this] {
    if (!shutting_down_) startChildren();
  });

  admin_ = std::make_unique<AdminServer>(*this);
  if (!admin_->start(cfg_.adminSocket(), cfg_.storeTarget(), &err)) {
    log::error("cannot start the admin API", {{"error", err}});
    sup_->killAll(SIGKILL);
    return 1;
  }
  log::info("postern-master started", {{"config", cfg_.source}, {"data_dir", cfg_.data_dir},
                                       {"admin", cfg_.adminSocket()}});
  loop_.run();
  loop_alive_ = false;
  admin_->stop();
  unlink((cfg_.runDir() + "/ports").c_str());
  log::info("postern-master stopped");
  return 0;
}

}  // namespace postern::master
