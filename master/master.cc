#include "master.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include "admin_service.h"
#include "sd_notify.h"
#include "state_file.h"
#include "log.h"
#include "net.h"
#include "tls.h"

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
  auto add = [&](const std::string& name, const std::string& proto, const std::vector<ListenAddr>& addrs,
                 const std::string& tls) {
    int index = 0;
    for (const auto& a : addrs) {
      int fd = net::listenTcp(a, err);
      if (fd < 0) return false;
      Listener l;
      l.name = name + std::to_string(index++);
      l.protocol = proto;
      l.addr = a;
      l.addr.port = net::localPort(fd);
      l.tls = tls;
      l.fd = fd;
      listeners_.push_back(l);
    }
    return true;
  };
  if (!(add("imap", "imap", cfg_.imap_listen, "starttls") && add("pop3", "pop3", cfg_.pop3_listen, "starttls") &&
        add("lmtp", "lmtp", cfg_.lmtp_listen, "starttls") && add("imaps", "imap", cfg_.imaps_listen, "implicit") &&
        add("pop3s", "pop3", cfg_.pop3s_listen, "implicit")))
    return false;
  for (const auto& lc : cfg_.listeners) {
    int fd = net::listenTcp(lc.addr, err);
    if (fd < 0) {
      *err = "listener." + lc.name + ": " + *err;
      return false;
    }
    Listener l;
    l.name = lc.name;
    l.protocol = lc.protocol;
    l.addr = lc.addr;
    l.addr.port = net::localPort(fd);
    l.tls = lc.tls;
    l.fd = fd;
    listeners_.push_back(l);
  }
  return true;
}

void Master::writePortsFile() {
  std::string path = cfg_.runDir() + "/ports";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    // "imap 127.0.0.1 1143 [name]": the name is given for named listeners;
    // implicit-TLS listeners say "imaps" / "pop3s" (what a client must speak).
    for (const auto& l : listeners_) {
      out << l.protocol << (l.tls == "implicit" ? "s" : "") << ' ' << l.addr.host << ' ' << l.addr.port;
      for (const auto& lc : cfg_.listeners)
        if (lc.name == l.name) out << ' ' << l.name;
      out << '\n';
    }
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
    // Every protocol here answers a command with a few small writes and
    // waits for the next command: with Nagle, an answer that leaves in two
    // segments waits for the client's delayed ACK (up to 40 ms) each time.
    // The option goes with the socket to the worker.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint16_t port = 0;
    std::string peer = net::peerAddress(fd, &port);
    if (auto r = admission_.admitConnection(l.protocol, l.name, peer)) {
      ++counters_[r->counter];
      log::warn("connection refused", {{"proto", l.protocol}, {"ip", peer}, {"listener", l.name},
                                       {"reason", r->reason}, {"rule", r->detail}});
      refuse(fd, l.protocol, r->reason);
      continue;
    }
    // Brute-force block (master/penalty.h): only the protocols that log in.
    if (l.protocol != "lmtp") {
      if (auto left = penalty_.blocked(peer); left && !trusted(peer)) {
        ++counters_["refused.penalty"];
        log::info("connection refused: address blocked after failed logins",
                  {{"proto", l.protocol}, {"ip", peer}, {"seconds_left", std::to_string(left->count())}});
        refuse(fd, l.protocol, blockedReason(*left));
        continue;
      }
    }
    // Counted from here on (a pending DNS check holds its slot, so limits
    // stay exact while lookups run).
    uint64_t id = next_conn_++;
    ConnInfo c;
    c.id = id;
    c.protocol = l.protocol;
    c.listener = l.name;
    c.peer = peer;
    c.worker = -1;
    c.since = time(nullptr);
    conns_.add(std::move(c));
    if (!admission_.needsDns()) {
      handOff(id, fd, port, li);
      continue;
    }
    dns_->lookup(peer, [this, id, fd, port, li](const std::string& name) {
      const ConnInfo* c = conns_.find(id);
      if (!c) {
        close(fd);
        return;
      }
      if (auto r = admission_.admitDomain(name)) {
        ++counters_[r->counter];
        log::warn("connection refused", {{"proto", c->protocol}, {"ip", c->peer}, {"host", name},
                                         {"listener", c->listener}, {"reason", r->reason}});
        refuse(fd, c->protocol, r->reason);
        conns_.remove(id);
        return;
      }
      handOff(id, fd, port, li);
    });
  }
}

bool Master::trusted(const std::string& peer) {
  const auto& nets = admission_.effective().trusted_networks;
  if (nets != trusted_src_) {  // changed by a reload or posternctl limits set
    auto set = NetworkSet::parse(nets);
    trusted_set_ = set.ok() ? set.value() : NetworkSet::defaultTrusted();
    trusted_src_ = nets;
  }
  return trusted_set_.contains(peer);
}

void Master::handOff(uint64_t id, int fd, uint16_t port, size_t li) {
  const ConnInfo* c = conns_.find(id);
  std::string protocol = c->protocol, peer = c->peer;
  tls::Security sec;
  sec.implicit_tls = listeners_[li].tls == "implicit";
  sec.starttls = listeners_[li].tls != "off";
  sec.trusted = trusted(peer);
  int w = shutting_down_ ? -1 : pickWorker(protocol + "d");
  if (w < 0) {
    ++counters_["refused.no_worker"];
    log::warn("connection refused: no worker", {{"proto", protocol}, {"ip", peer}});
    refuse(fd, protocol, "Service temporarily unavailable, try again later");
    conns_.remove(id);
    return;
  }
  if (!sup_->send(w, ipc::makeMsg(ipc::MsgType::kNewConn, id, port, peer, tls::connText(protocol, sec)), fd)) {
    ++counters_["refused.handoff_failed"];
    refuse(fd, protocol, "Service temporarily unavailable, try again later");
    conns_.remove(id);
    return;
  }
  close(fd);
  ++counters_["accepted"];
  conns_.setWorker(id, w);
  log::debug("connection handed over", {{"proto", protocol}, {"ip", peer}, {"conn", std::to_string(id)},
                                        {"worker", sup_->children()[static_cast<size_t>(w)].name}});
}

void Master::onChildMessage(int slot, const ipc::IpcMsg& m, int fd) {
  if (fd >= 0) close(fd);
  const Child& child = sup_->children()[static_cast<size_t>(slot)];
  switch (m.type) {
    case ipc::MsgType::kReady:
      if (child.kind == "stored" && !shutting_down_) startChildren();
      notifyReadyOnce();
      break;
    case ipc::MsgType::kLoginRequest: {
      const ConnInfo* c = conns_.find(m.conn);
      if (!c || c->worker != slot) {
        sup_->send(slot, ipc::makeMsg(ipc::MsgType::kLoginReply, m.conn, 0, "", "unknown connection"));
        break;
      }
      std::string user = m.text;
      // The password was right (workers ask only then): the address's
      // failures decay, whatever admission says next.
      penalty_.succeeded(c->peer);
      auto refuse_login = [&](const std::string& counter, const std::string& reason) {
        ++counters_[counter];
        log::warn("login refused", {{"proto", c->protocol}, {"ip", c->peer}, {"user", user}, {"reason", reason}});
        sup_->send(slot, ipc::makeMsg(ipc::MsgType::kLoginReply, m.conn, 0, "", reason));
      };
      if (auto r = admission_.admitLogin(*c, user)) {
        refuse_login(r->counter, "in-use: " + r->reason);
        break;
      }
      // RFC 2449 LOGIN-DELAY, kept here so every pop3d process shares it.
      // The worker sends the user's delay (pop3.login_delay, or the user's
      // override it read from stored at authentication).
      uint32_t login_delay_s = c->protocol == "pop3" ? m.value : 0;
      if (login_delay_s > 0) {
        auto now = EventLoop::now();
        auto it = pop3_last_login_.find(user);
        if (it != pop3_last_login_.end() && now - it->second < std::chrono::seconds(login_delay_s)) {
          refuse_login("refused.login_delay",
                       "login-delay: Wait " + std::to_string(login_delay_s) + " seconds between logins");
          break;
        }
      }
      if (!seats_->tryAcquire(m.conn, user)) {
        refuse_login("refused.seats", "Licence seat limit reached (" + std::to_string(seats_->seats()) + " seats, " +
                                          std::string(licenceModeName(seats_->mode())) + "), try again later");
        break;
      }
      conns_.setUser(m.conn, user);
      if (c->protocol == "pop3") {
        if (pop3_last_login_.size() > 100000) pop3_last_login_.clear();  // bounded
        pop3_last_login_[user] = EventLoop::now();
      }
      ++counters_["logins"];
      sup_->send(slot, ipc::makeMsg(ipc::MsgType::kLoginReply, m.conn, 1));
      break;
    }
    case ipc::MsgType::kConnClosed:
      releaseSeat(m.conn);
      conns_.remove(m.conn);
      if (shutting_down_) checkShutdownDone();
      break;
    case ipc::MsgType::kSessionInfo: {
      auto it = who_pending_.find(m.value);
      if (it != who_pending_.end()) it->second.info[m.conn] = m.text;
      break;
    }
    case ipc::MsgType::kWhoDone:
      whoWorkerDone(m.value, slot);
      break;
    case ipc::MsgType::kAuthFailed:
      onAuthFailed(slot, m.conn);
      break;
    default:
      log::warn("unexpected message from child", {{"child", child.name}});
  }
}

void Master::releaseSeat(uint64_t conn) { seats_->release(conn); }

void Master::configurePenalty(const Config& cfg) {
  PenaltySettings s;
  s.max_failures = cfg.auth_penalty_max_failures;
  s.block_time = std::chrono::seconds(cfg.auth_penalty_block_time_s);
  s.window = std::chrono::seconds(cfg.auth_penalty_window_s);
  penalty_.configure(s);
}

std::string Master::blockedReason(std::chrono::seconds left) const {
  return "Too many failed logins from your address, try again in " + std::to_string(left.count()) + " seconds";
}

void Master::onAuthFailed(int slot, uint64_t conn) {
  // Trusted clients (webmail, proxies) are never recorded; their failures
  // keep the flat delay workers always had.
  constexpr std::chrono::milliseconds kTrustedDelay{1000};
  const ConnInfo* c = conns_.find(conn);
  std::chrono::milliseconds delay = PenaltySettings{}.first_delay;
  if (c && c->worker == slot) {
    ++counters_["auth.failures"];
    if (trusted(c->peer)) {
      delay = kTrustedDelay;
    } else {
      auto v = penalty_.failed(c->peer);
      delay = v.delay;
      if (v.blocked_now) closeBlocked(c->peer, conn, delay);
    }
  }
  sup_->send(slot, ipc::makeMsg(ipc::MsgType::kAuthPenalty, conn, static_cast<uint32_t>(delay.count())));
}

void Master::closeBlocked(const std::string& peer, uint64_t failing, std::chrono::milliseconds delay) {
  std::string key = PenaltyTable::keyOf(peer);
  auto left = penalty_.blocked(peer).value_or(std::chrono::seconds(0));
  ++counters_["penalty.blocks"];
  log::warn("address blocked after repeated failed logins",
            {{"ip", key}, {"seconds", std::to_string(left.count())},
             {"failures", std::to_string(penalty_.settings().max_failures)}});
  std::string reason = blockedReason(left);
  auto kick_one = [this, reason](uint64_t id) {
    const ConnInfo* c = conns_.find(id);
    if (!c || !c->user.empty() || c->worker < 0) return;  // gone, or logged in meanwhile
    if (sup_->send(c->worker, ipc::makeMsg(ipc::MsgType::kKick, id, 0, "", reason))) ++counters_["kicked.penalty"];
  };
  for (const auto& c : conns_.all()) {
    if (!c.user.empty() || c.protocol == "lmtp" || c.worker < 0) continue;
    if (PenaltyTable::keyOf(c.peer) != key) continue;
    if (c.id == failing) {
      // Let its NO / -ERR go out first, then say goodbye.
      loop_.after(delay + std::chrono::milliseconds(300), [kick_one, id = c.id] { kick_one(id); });
    } else {
      kick_one(c.id);
    }
  }
}

void Master::onChildExit(int slot) {
  for (const auto& c : conns_.all())
    if (c.worker == slot) releaseSeat(c.id);
  for (auto& [id, w] : who_pending_) {
    (void)w;
    whoWorkerDone(id, slot);
  }
  size_t dropped = conns_.removeWorker(slot);
  if (dropped > 0)
    log::warn("connections of a dead worker dropped from the counts",
              {{"child", sup_->children()[static_cast<size_t>(slot)].name}, {"count", std::to_string(dropped)}});
  if (shutting_down_) checkShutdownDone();
}

void Master::startChildren() {
  if (children_started_) return;
  children_started_ = true;
  auto pool = [&](const std::string& kind, uint32_t configured, bool enabled) {
    if (!enabled) return;
    uint32_t n = workerCount(configured);
    for (uint32_t i = 0; i < n; ++i) sup_->add(kind, kind + "#" + std::to_string(i));
  };
  auto serves = [&](const std::string& proto) {
    for (const auto& l : listeners_)
      if (l.protocol == proto) return true;
    return false;
  };
  pool("imapd", cfg_.imap_workers, serves("imap"));
  pool("pop3d", cfg_.pop3_workers, serves("pop3"));
  pool("lmtpd", cfg_.lmtp_workers, serves("lmtp"));
  for (size_t i = 0; i < listeners_.size(); ++i) {
    loop_.add(listeners_[i].fd, EPOLLIN, [this, i](uint32_t) { onAccept(i); });
    log::info("listening", {{"proto", listeners_[i].protocol}, {"addr", listeners_[i].addr.str()},
                            {"tls", listeners_[i].tls}});
  }
}

std::string Master::reload() {
  sdNotify("RELOADING=1");
  struct Ready {
    bool ready;
    ~Ready() {
      if (ready) sdNotify("READY=1");
    }
  } ready_again{ready_notified_};
  auto cfg = loadConfig(config_path_);
  if (!cfg.ok()) {
    log::error("reload refused, keeping the running config", {{"error", cfg.error().message}});
    return cfg.error().message;
  }
  // Listener and pool changes need a restart; everything else applies now.
  Config next = cfg.value();
  {
    Config probe = next;  // data_dir needs a restart: the TLS files are looked up in the running one
    probe.data_dir = cfg_.data_dir;
    if (std::string why = prepareTls(probe); !why.empty()) {
      log::error("reload refused, keeping the running config", {{"error", why}});
      return why;
    }
  }
  if (Error e = admission_.configure(next); !e.ok()) {
    std::string why = cfg.value().source + ": " + e.message;
    log::error("reload refused, keeping the running config", {{"error", why}});
    return why;
  }
  next.imap_listen = cfg_.imap_listen;
  next.pop3_listen = cfg_.pop3_listen;
  next.lmtp_listen = cfg_.lmtp_listen;
  next.imaps_listen = cfg_.imaps_listen;
  next.pop3s_listen = cfg_.pop3s_listen;
  // Listener addresses need a restart; their limits and rules apply now.
  for (auto& l : next.listeners)
    for (const auto& old : cfg_.listeners)
      if (old.name == l.name) {
        l.addr = old.addr;
        l.tls = old.tls;  // the listener's mode is bound with it
      }
  next.data_dir = cfg_.data_dir;
  next.run_dir = cfg_.run_dir;
  // Users and the admin group are resolved once, at start (see privileges.h).
  next.user = cfg_.user;
  next.group = cfg_.group;
  next.worker_user = cfg_.worker_user;
  next.admin_group = cfg_.admin_group;
  cfg_ = next;
  sup_->setConfig(cfg_);
  configurePenalty(cfg_);
  bool ok = false;
  log::setLevel(log::parseLevel(cfg_.log_level, &ok));
  loadLicence();
  // The workers may not read the key file: hand them the (new) pair.
  if (auto fd = makeTlsMemfd(tls::certFile(cfg_), tls::keyFile(cfg_)); fd.ok()) {
    if (tls_fd_ >= 0) close(tls_fd_);
    tls_fd_ = fd.value();
    sup_->setTlsFd(tls_fd_);
  } else {
    log::error("TLS certificate not handed to the workers, they keep the previous one",
               {{"error", fd.error().message}});
  }
  sup_->sendAll(ipc::makeMsg(ipc::MsgType::kReload), "stored");
  for (const char* kind : {"imapd", "pop3d", "lmtpd"}) sup_->sendAll(ipc::makeMsg(ipc::MsgType::kReload), kind, tls_fd_);
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
  sdNotify("STOPPING=1");
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

std::string Master::prepareTls(const Config& cfg) {
  if (cfg.tls_cert_file.empty()) {
    std::string host = cfg.hostname;
    if (host.empty()) {
      char buf[256] = {0};
      host = gethostname(buf, sizeof buf - 1) == 0 && buf[0] ? buf : "localhost";
    }
    bool generated = false;
    std::string fp;
    if (Error e = tls::ensureSelfSigned(tls::certFile(cfg), tls::keyFile(cfg), host, &generated, &fp); !e.ok())
      return "self-signed certificate: " + e.message;
    if (generated)
      log::warn("generated a self-signed TLS certificate; configure tls.cert_file for clients to trust",
                {{"file", tls::certFile(cfg)}, {"host", host}, {"sha256", fp}});
  }
  // The workers load the same files: refuse here, with a clear message,
  // what they could not load.
  auto ctx = tls::Context::fromConfig(cfg);
  if (!ctx.ok()) return ctx.error().message;
  log::info("TLS certificate", {{"file", tls::certFile(cfg)}, {"sha256", ctx.value()->fingerprint()},
                                {"min_version", cfg.tls_min_version}});
  return "";
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
  if (Error e = admission_.configure(cfg_); !e.ok()) {
    log::error("invalid configuration", {{"error", cfg_.source + ": " + e.message}});
    fprintf(stderr, "postern-master: %s: %s\n", cfg_.source.c_str(), e.message.c_str());
    return 2;
  }
  loadGovernanceState();
  configurePenalty(cfg_);
  if (std::string why = prepareTls(cfg_); !why.empty()) {
    log::error("TLS is not usable", {{"error", why}});
    fprintf(stderr, "postern-master: %s\n", why.c_str());
    return 2;
  }
  if (auto fd = makeTlsMemfd(tls::certFile(cfg_), tls::keyFile(cfg_)); fd.ok()) {
    tls_fd_ = fd.value();
  } else {
    log::error("TLS certificate not readable", {{"error", fd.error().message}});
    fprintf(stderr, "postern-master: %s\n", fd.error().message.c_str());
    return 2;
  }
  // Privileges (privileges.h): resolved once; a missing account is a
  // configuration error, never a silent run as root.
  {
    auto priv = Privileges::resolve(cfg_, geteuid());
    if (!priv.ok()) {
      log::error("cannot run the children as unprivileged users", {{"error", priv.error().message}});
      fprintf(stderr, "postern-master: %s\n", priv.error().message.c_str());
      return 2;
    }
    privileges_ = priv.value();
    if (privileges_.drop && !Privileges::canSwitchUsers()) {
      const char* why = "running as root without CAP_SETUID and CAP_SETGID: cannot switch the children's users";
      log::error(why);
      fprintf(stderr, "postern-master: %s\n", why);
      return 2;
    }
    if (Error e = privileges_.prepareDirectories(cfg_); !e.ok()) {
      log::error("cannot prepare the data directories for the unprivileged users", {{"error", e.message}});
      fprintf(stderr, "postern-master: %s\n", e.message.c_str());
      return 1;
    }
    auto access = AdminAccess::resolve(cfg_, privileges_, geteuid());
    if (!access.ok()) {
      log::error("invalid configuration", {{"error", access.error().message}});
      fprintf(stderr, "postern-master: %s\n", access.error().message.c_str());
      return 2;
    }
    admin_access_ = access.value();
    if (privileges_.drop) {
      log::info("privilege separation", {{"stored", privileges_.user}, {"workers", privileges_.worker_user},
                                         {"group", privileges_.group}});
    } else if (privileges_.root) {
      log::warn("running every process as root (user is empty): for development only");
    }
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
  sup_->setPrivileges(privileges_);
  sup_->setTlsFd(tls_fd_);
  sup_->add("stored", "stored");
  // Workers start once stored is ready; if it takes too long they start
  // anyway and answer "unavailable" until it is.
  loop_.after(std::chrono::seconds(15), [this] {
    if (!shutting_down_) startChildren();
  });

  dns_ = std::make_unique<ReverseDns>(loop_);
  admin_ = std::make_unique<AdminServer>(*this);
  if (!admin_->start(cfg_.adminSocket(), cfg_.storeTarget(), &err)) {
    log::error("cannot start the admin API", {{"error", err}});
    sup_->killAll(SIGKILL);
    return 1;
  }
  log::info("postern-master started", {{"config", cfg_.source}, {"data_dir", cfg_.data_dir},
                                       {"admin", cfg_.adminSocket()}});
  std::function<void()> tick;
  uint32_t ticks = 0;
  tick = [this, &tick, &ticks] {
    seats_->tick();
    notifyStatus();
    if (++ticks % 60 == 0) penalty_.expire();
    loop_.after(std::chrono::seconds(1), tick);
  };
  loop_.after(std::chrono::seconds(1), tick);
  loop_.run();
  loop_alive_ = false;
  seats_->flush(true);
  admin_->stop();
  unlink((cfg_.runDir() + "/ports").c_str());
  log::info("postern-master stopped");
  return 0;
}

}  // namespace postern::master

namespace postern::master {

// The vendor's licence-signing key; the private half is kept offline.
static const char* kVendorPublicKey = "7lWOxRPsUcReaCLqk2w3pkOCmrIRLWaTOtjVZdOKy6A=";

std::string Master::licencePath() const {
  return cfg_.licence_file.empty() ? cfg_.data_dir + "/licence" : cfg_.licence_file;
}

std::vector<std::string> Master::trustedKeys() const {
  std::vector<std::string> keys;
  if (cfg_.licence_public_keys.empty()) keys.push_back(kVendorPublicKey);
  for (const auto& entry : cfg_.licence_public_keys) {
    auto k = loadTrustedKey(entry);
    keys.push_back(k.ok() ? k.value() : entry);  // a bad entry makes checkLicence say why
  }
  return keys;
}

void Master::loadLicence() {
  auto text = readStateFile(licencePath());
  Licence before = licence_;
  if (!text.ok()) {
    licence_check_ = LicenceCheck{};
    licence_check_.status = LicenceStatus::kMalformed;
    licence_check_.reason = text.error().message;
    licence_ = evaluationLicence();
  } else if (!text.value()) {
    licence_check_ = LicenceCheck{};
    licence_check_.status = LicenceStatus::kOk;
    licence_check_.reason = "no licence installed";
    licence_ = evaluationLicence();
  } else {
    licence_check_ = checkLicence(*text.value(), trustedKeys(), time(nullptr));
    if (licence_check_.status == LicenceStatus::kOk && licence_check_.licence) {
      licence_ = *licence_check_.licence;
      log::info("licence active", {{"licensee", licence_.fields.licensee},
                                   {"seats", std::to_string(licence_.fields.seats)},
                                   {"mode", std::string(licenceModeName(licence_.fields.mode))}});
    } else {
      licence_ = evaluationLicence();
      log::error("licence refused; running on the evaluation licence",
                 {{"file", licencePath()}, {"status", std::string(licenceStatusName(licence_check_.status))},
                  {"reason", licence_check_.reason}});
    }
  }
  if (seats_) seats_->setLicence(licence_);
}

void Master::loadGovernanceState() {
  auto ov = readStateFile(cfg_.data_dir + "/limits.override");
  if (ov.ok() && ov.value()) {
    if (Error e = admission_.loadOverrides(*ov.value()); !e.ok())
      log::error("ignoring live limit overrides", {{"file", cfg_.data_dir + "/limits.override"}, {"error", e.message}});
  }
  auto rules = readStateFile(cfg_.data_dir + "/access.rules");
  if (rules.ok() && rules.value()) {
    if (Error e = admission_.loadRules(*rules.value()); !e.ok())
      log::error("ignoring live access rules", {{"file", cfg_.data_dir + "/access.rules"}, {"error", e.message}});
  }
  loadLicence();
  seats_ = std::make_unique<SeatLedger>(licence_.fields.mode, licence_.fields.seats, cfg_.data_dir + "/seats.peaks");
  if (Error e = seats_->load(); !e.ok()) log::error("seat history unreadable", {{"error", e.message}});
  seats_->onThreshold([](const SeatThresholdEvent& ev) {
    log::warn("licence seat usage high", {{"percent", std::to_string(ev.percent)},
                                          {"in_use", std::to_string(ev.in_use)},
                                          {"seats", std::to_string(ev.seats)}});
  });
}

std::string Master::setLimits(const std::vector<std::pair<std::string, std::string>>& kv) {
  // All or nothing: validate every assignment before keeping any.
  auto before = admission_.overrides();
  for (const auto& [k, v] : kv) {
    if (Error e = admission_.setOverride(k, v); !e.ok()) {
      admission_.resetOverride("all");
      for (const auto& [bk, bv] : before) admission_.setOverride(bk, bv);
      return e.message;
    }
  }
  if (Error e = writeStateFile(cfg_.data_dir + "/limits.override", admission_.serialiseOverrides()); !e.ok())
    return "applied, but not saved: " + e.message;
  for (const auto& [k, v] : kv) log::info("limit changed live", {{"key", k}, {"value", v}});
  return "";
}

std::string Master::resetLimits(const std::vector<std::string>& keys) {
  for (const auto& k : keys)
    if (Error e = admission_.resetOverride(k); !e.ok()) return e.message;
  if (Error e = writeStateFile(cfg_.data_dir + "/limits.override", admission_.serialiseOverrides()); !e.ok())
    return "applied, but not saved: " + e.message;
  return "";
}

std::string Master::changeAccess(bool add, const std::string& rule) {
  Error e = add ? admission_.addRule(rule) : admission_.removeRule(rule);
  if (!e.ok()) return e.message;
  if (Error w = writeStateFile(cfg_.data_dir + "/access.rules", admission_.liveAccess().serialise()); !w.ok())
    return "applied, but not saved: " + w.message;
  log::info(add ? "access rule added" : "access rule removed", {{"rule", rule}});
  return "";
}

std::string Master::installLicence(const std::string& text) {
  LicenceCheck check = checkLicence(text, trustedKeys(), time(nullptr));
  if (check.status != LicenceStatus::kOk) {
    log::error("licence install refused", {{"reason", check.reason}});
    return std::string(licenceStatusName(check.status)) + ": " + check.reason;
  }
  if (Error e = writeStateFile(licencePath(), text); !e.ok()) return e.message;
  loadLicence();
  return "";
}

size_t Master::kick(const std::string& user, uint64_t session, const std::string& cidr, std::string* err) {
  std::optional<Cidr> net;
  if (!cidr.empty()) {
    auto c = Cidr::parse(cidr);
    if (!c.ok()) {
      *err = c.error().message;
      return 0;
    }
    net = c.value();
  }
  size_t n = 0;
  for (const auto& c : conns_.all()) {
    bool match = (session && c.id == session) || (!user.empty() && c.user == user);
    if (net) {
      auto ip = IpAddress::parse(c.peer);
      match = match || (ip.ok() && net->contains(ip.value()));
    }
    if (!match) continue;
    if (sup_->send(c.worker, ipc::makeMsg(ipc::MsgType::kKick, c.id, 0, "", "Disconnected by the administrator"))) {
      ++n;
      log::info("session kicked", {{"conn", std::to_string(c.id)}, {"user", c.user}, {"ip", c.peer}});
    }
  }
  counters_["kicked"] += n;
  return n;
}

void Master::notifyReadyOnce() {
  if (ready_notified_ || shutting_down_ || !children_started_) return;
  for (const auto& c : sup_->children())
    if (!c.ready) return;
  ready_notified_ = true;
  sdNotify("READY=1");
  log::info("appliance ready", {{"processes", std::to_string(sup_->children().size())}});
  notifyStatus();
}

void Master::notifyStatus() {
  std::string status = "STATUS=" + std::to_string(conns_.total()) + " connections, " +
                       std::to_string(conns_.authenticated()) + " logged in, seats " +
                       std::to_string(seats_->inUse()) + "/" + std::to_string(seats_->seats());
  if (status != last_status_ && sdNotify(status)) last_status_ = status;
}

uint32_t Master::startWho(std::function<void()> done) {
  uint32_t id = next_who_++;
  WhoCollect w;
  w.done = std::move(done);
  for (size_t i = 0; i < sup_->children().size(); ++i) {
    const auto& ch = sup_->children()[i];
    if (ch.kind == "stored" || ch.pid < 0) continue;
    if (sup_->send(static_cast<int>(i), ipc::makeMsg(ipc::MsgType::kWhoRequest, 0, id))) w.waiting.insert(static_cast<int>(i));
  }
  bool empty = w.waiting.empty();
  who_pending_[id] = std::move(w);
  if (empty) {
    auto f = std::move(who_pending_[id].done);
    who_pending_[id].done = nullptr;
    if (f) f();
  }
  return id;
}

void Master::whoWorkerDone(uint32_t id, int slot) {
  auto it = who_pending_.find(id);
  if (it == who_pending_.end()) return;
  it->second.waiting.erase(slot);
  if (it->second.waiting.empty() && it->second.done) {
    auto f = std::move(it->second.done);
    it->second.done = nullptr;
    f();
  }
}

std::map<uint64_t, std::string> Master::takeWho(uint32_t id) {
  std::map<uint64_t, std::string> out;
  auto it = who_pending_.find(id);
  if (it == who_pending_.end()) return out;
  out = std::move(it->second.info);
  who_pending_.erase(it);
  return out;
}

}  // namespace postern::master
