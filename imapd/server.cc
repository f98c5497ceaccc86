#include "server.h"

#include "log.h"
#include "worker.h"

namespace postern::imapd {

namespace {
// How long a user's last hold on the change feed is kept before the store
// is told (Server::releaseFeed).
constexpr std::chrono::milliseconds kReleaseDelay{2000};
// Holds given back while the user's other sessions stay, told to the store
// once this many gathered.
constexpr uint32_t kReleaseBatch = 32;
}  // namespace

Server::Server(WorkerRuntime& rt) : rt_(rt), claims_(rt.loop(), rt.store()) {
  rt_.store().watch([this](const std::vector<Change>& c) { onChanges(c); }, [this] { onResync(); });
}

void Server::accept(int fd, uint64_t conn, const std::string& peer, tls::Security sec) {
  auto s = std::make_shared<Session>(*this, fd, conn, peer, sec);
  sessions_[s.get()] = s;
  s->start();
}

void Server::removed(Session* s) {
  if (auto* v = s->selected()) {
    unwatchMailbox(s, v->id());
    releaseFeed(v->watcher(), s->user());
  }
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  auto keep = it->second;  // destroyed after this call returns via the loop
  sessions_.erase(it);
  rt_.loop().post([keep] {});
}

void Server::watchMailbox(Session* s, uint32_t id) { by_mailbox_[id].insert(s); }

void Server::unwatchMailbox(Session* s, uint32_t id) {
  auto it = by_mailbox_.find(id);
  if (it == by_mailbox_.end()) return;
  it->second.erase(s);
  if (it->second.empty()) by_mailbox_.erase(it);
}

void Server::holdFeed(uint64_t watcher, const std::string& user) {
  if (watcher != 0) feed_holds_[{watcher, user}].live++;
}

void Server::releaseFeed(uint64_t watcher, const std::string& user) {
  if (watcher == 0) return;
  auto it = feed_holds_.find({watcher, user});
  if (it == feed_holds_.end() || it->second.live == 0) return;
  it->second.live--;
  it->second.released++;
  // Due once the user's last session here left, or once many holds came
  // back while others stay (a session that re-selects over and over beside
  // one that idles): the store's count never runs far ahead of the sessions.
  if ((it->second.live > 0 && it->second.released < kReleaseBatch) || releases_due_) return;
  releases_due_ = true;
  rt_.loop().after(kReleaseDelay, [this] { sendReleases(); });
}

void Server::sendReleases() {
  releases_due_ = false;
  for (auto it = feed_holds_.begin(); it != feed_holds_.end();) {
    FeedHold& h = it->second;
    if (h.released > 0 && (h.live == 0 || h.released >= kReleaseBatch)) {
      rt_.store().unwatch(it->first.second, it->first.first, h.released);
      h.released = 0;
    }
    if (h.live == 0) it = feed_holds_.erase(it);
    else ++it;
  }
}

void Server::onChanges(const std::vector<Change>& changes) {
  std::set<Session*> touched;
  for (const auto& c : changes) {
    auto it = by_mailbox_.find(c.mailbox_id);
    if (it == by_mailbox_.end()) continue;
    for (Session* s : it->second) {
      s->queueChange(c);
      touched.insert(s);
    }
  }
  for (Session* s : touched)
    if (s->idling()) s->pushUpdates();
}

void Server::onResync() {
  log::info("change feed re-established; resyncing selected sessions");
  for (auto& [p, s] : sessions_)
    if (s->selected()) s->needResync();
}

void Server::kick(uint64_t conn, const std::string& reason) {
  for (auto& [p, s] : sessions_) {
    if (s->conn() != conn) continue;
    log::info("kicked", {{"session", s->id()}, {"user", s->user()}, {"ip", s->peer()}});
    auto keep = s;
    keep->bye("[UNAVAILABLE] " + reason);
    return;
  }
}

std::vector<SessionReport> Server::report() const {
  std::vector<SessionReport> out;
  auto now = EventLoop::now();
  for (const auto& [p, s] : sessions_) {
    SessionReport r;
    r.conn = s->conn();
    switch (s->state()) {
      case State::kNotAuthenticated: r.state = "not-authenticated"; break;
      case State::kAuthenticated: r.state = s->idling() ? "authenticated (IDLE)" : "authenticated"; break;
      case State::kSelected:
        r.state = std::string("selected ") + (s->selected() ? s->selected()->name() : "") + (s->idling() ? " (IDLE)" : "");
        break;
      case State::kLogout: r.state = "logout"; break;
    }
    r.idle_seconds = std::chrono::duration_cast<std::chrono::seconds>(now - s->lastInput()).count();
    r.bytes_in = s->bytesIn();
    r.bytes_out = s->bytesOut();
    out.push_back(std::move(r));
  }
  return out;
}

void Server::shutdown() {
  std::vector<std::shared_ptr<Session>> all;
  for (auto& [p, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->bye("Server shutting down");
}

}  // namespace postern::imapd
