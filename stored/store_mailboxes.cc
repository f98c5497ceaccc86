// Mailbox operations: list, get, create, delete, rename, subscribe, select.
#include <algorithm>

#include "engine_internal.h"
#include "log.h"

namespace postern::stored {

using namespace detail;

namespace {

Change mailboxChange(const std::string& user, uint32_t id) {
  Change c;
  c.kind = Change::kMailbox;
  c.user = user;
  c.mailbox_id = id;
  return c;
}

// Every mailbox of user_id whose name equals `name` or starts with name + "/"
// (all of them for an empty name).
Result<std::vector<rec::Mailbox>> subtree(MDB_txn* t, const Dbs& d, uint32_t user_id, const std::string& name) {
  std::vector<rec::Mailbox> out;
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(t, d.mailboxes, &c);
  if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
  std::string prefix = keys::mailboxKey(user_id, name);
  MDB_val k = val(prefix), v{};
  for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    std::string_view ks = view(k);
    if (ks.substr(0, prefix.size()) != prefix) break;
    // "ab" is not under "a"; an empty name means every mailbox of the user.
    if (!name.empty() && ks.size() != prefix.size() && ks[prefix.size()] != '/') continue;
    rec::Mailbox mb;
    if (!mb.ParseFromArray(v.mv_data, int(v.mv_size))) {
      mdb_cursor_close(c);
      return Error{ErrorCode::kCorrupt, "unparsable mailbox record"};
    }
    out.push_back(std::move(mb));
  }
  mdb_cursor_close(c);
  return out;
}

Error renameRecord(MDB_txn* t, const Dbs& d, rec::Mailbox mb, const std::string& to) {
  if (auto e = delRaw(t, d.mailboxes, keys::mailboxKey(mb.user_id(), mb.name())); !e.ok()) return e;
  mb.set_name(to);
  mb.set_highestmodseq(mb.highestmodseq() + 1);
  if (auto e = saveMailbox(t, d, mb); !e.ok()) return e;
  return putRaw(t, d.mbox_ids, keys::be32(mb.id()), keys::mailboxKey(mb.user_id(), to));
}

}  // namespace

Result<std::vector<MailboxInfo>> StoreEngine::listMailboxes(const std::string& user) {
  Reader rd(this);
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  auto all = subtree(rd.txn(), rd.dbs(), u->id(), "");
  if (!all.ok()) return all.error();
  std::vector<MailboxInfo> out;
  for (auto& mb : *all) out.push_back(toInfo(mb));
  return out;
}

Result<MailboxInfo> StoreEngine::getMailbox(const std::string& user, const std::string& mailbox) {
  auto mbname = canonicalMailbox(mailbox);
  if (!mbname.ok()) return mbname.error();
  Reader rd(this);
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  auto mb = loadMailbox(rd.txn(), rd.dbs(), u->id(), *mbname);
  if (!mb.ok()) return mb.error();
  MailboxInfo info = toInfo(*mb);
  // STATUS RECENT: the messages no session has claimed as \Recent yet.
  MDB_cursor* c = nullptr;
  if (mdb_cursor_open(rd.txn(), rd.dbs().messages, &c) == 0) {
    uint32_t first;
    {
      std::lock_guard lk(recent_mu_);
      first = recentUidLocked(mb->id(), mb->recent_uid());
    }
    std::string start = keys::messageKey(mb->id(), first);
    MDB_val k{start.size(), start.data()}, v{};
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      if (k.mv_size != 8 || keys::getBe32(static_cast<const char*>(k.mv_data)) != mb->id()) break;
      ++info.recent;
    }
    mdb_cursor_close(c);
  }
  return info;
}

Error StoreEngine::createMailbox(const std::string& user, const std::string& mailbox) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto mbname = canonicalMailbox(mailbox);
  if (!mbname.ok()) return mbname.error();
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto mb = createMailboxRec(t, d, u->id(), *mbname);
    if (!mb.ok()) return mb.error();
    changes->push_back(mailboxChange(*name, mb->id()));
    return {};
  });
}

Error StoreEngine::deleteMailbox(const std::string& user, const std::string& mailbox) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto mbname = canonicalMailbox(mailbox);
  if (!mbname.ok()) return mbname.error();
  if (isInbox(*mbname)) return Error{ErrorCode::kBadArgs, "INBOX cannot be deleted"};
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto mb = loadMailbox(t, d, u->id(), *mbname);
    if (!mb.ok()) return mb.error();
    std::vector<std::pair<uint32_t, rec::Message>> msgs;
    auto e = forEachMessage(t, d, mb->id(), [&](uint32_t uid, const rec::Message& m) {
      msgs.emplace_back(uid, m);
      return Error{};
    });
    if (!e.ok()) return e;
    for (auto& [uid, m] : msgs)
      if (auto e2 = removeMessage(t, d, &*mb, uid, m); !e2.ok()) return e2;
    if (auto e2 = delRaw(t, d.mailboxes, keys::mailboxKey(u->id(), *mbname)); !e2.ok()) return e2;
    if (auto e2 = delRaw(t, d.mbox_ids, keys::be32(mb->id())); !e2.ok()) return e2;
    changes->push_back(mailboxChange(*name, mb->id()));
    return {};
  });
}

Error StoreEngine::renameMailbox(const std::string& user, const std::string& from, const std::string& to) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto src = canonicalMailbox(from);
  if (!src.ok()) return src.error();
  auto dst = canonicalMailbox(to);
  if (!dst.ok()) return dst.error();
  if (*src == *dst) return Error{ErrorCode::kExists, "mailbox exists: " + *dst};
  if (isInbox(*dst)) return Error{ErrorCode::kExists, "mailbox exists: INBOX"};
  if (dst->substr(0, src->size() + 1) == *src + "/")
    return Error{ErrorCode::kBadArgs, "cannot rename a mailbox into itself"};
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto mb = loadMailbox(t, d, u->id(), *src);
    if (!mb.ok()) return mb.error();
    if (isInbox(*src)) {
      // RFC 3501: renaming INBOX moves its messages into a new mailbox and
      // leaves INBOX (and its children) in place, empty.
      auto nb = createMailboxRec(t, d, u->id(), *dst);
      if (!nb.ok()) return nb.error();
      std::vector<std::pair<uint32_t, rec::Message>> msgs;
      auto e = forEachMessage(t, d, mb->id(), [&](uint32_t uid, const rec::Message& m) {
        msgs.emplace_back(uid, m);
        return Error{};
      });
      if (!e.ok()) return e;
      rec::Mailbox inbox = *mb, target = *nb;
      target.mutable_keywords()->CopyFrom(inbox.keywords());  // flag bits stay meaningful
      uint64_t modseq = target.highestmodseq() + 1;
      for (auto& [uid, m] : msgs) {
        if (auto e2 = delRaw(t, d.messages, keys::messageKey(inbox.id(), uid)); !e2.ok()) return e2;
        rec::Message moved = m;
        moved.set_modseq(modseq);
        auto nu = insertMessage(t, d, &target, moved);  // body reference moves with it
        if (!nu.ok()) return nu.error();
      }
      target.set_highestmodseq(modseq);
      inbox.set_messages(0);
      inbox.set_unseen(0);
      inbox.set_size(0);
      inbox.set_highestmodseq(inbox.highestmodseq() + 1);
      if (auto e2 = saveMailbox(t, d, inbox); !e2.ok()) return e2;
      if (auto e2 = saveMailbox(t, d, target); !e2.ok()) return e2;
      changes->push_back(mailboxChange(*name, inbox.id()));
      changes->push_back(mailboxChange(*name, target.id()));
      return {};
    }
    auto moving = subtree(t, d, u->id(), *src);
    if (!moving.ok()) return moving.error();
    // Validate every target before changing anything.
    std::vector<std::string> targets;
    for (auto& m : *moving) {
      std::string nn = *dst + m.name().substr(src->size());
      std::string_view v;
      auto r = getRaw(t, d.mailboxes, keys::mailboxKey(u->id(), nn), &v);
      if (!r.ok()) return r.error();
      if (*r) return Error{ErrorCode::kExists, "mailbox exists: " + nn};
      targets.push_back(std::move(nn));
    }
    for (size_t i = 0; i < moving->size(); i++) {
      if (auto e = renameRecord(t, d, (*moving)[i], targets[i]); !e.ok()) return e;
      changes->push_back(mailboxChange(*name, (*moving)[i].id()));
    }
    // Subscriptions follow the renamed hierarchy.
    std::vector<std::string> subs;
    bool moved = false;
    for (const auto& s : u->subscriptions()) {
      if (s == *src || s.compare(0, src->size() + 1, *src + "/") == 0) {
        subs.push_back(*dst + s.substr(src->size()));
        moved = true;
      } else {
        subs.push_back(s);
      }
    }
    if (moved) {
      std::sort(subs.begin(), subs.end());
      subs.erase(std::unique(subs.begin(), subs.end()), subs.end());
      u->mutable_subscriptions()->Assign(subs.begin(), subs.end());
      if (auto e = putRec(t, d.users, *name, *u); !e.ok()) return e;
    }
    return {};
  });
}

Error StoreEngine::subscribe(const std::string& user, const std::string& mailbox, bool on) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto mbname = canonicalMailbox(mailbox);
  if (!mbname.ok()) return mbname.error();
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto* subs = u->mutable_subscriptions();
    auto it = std::lower_bound(subs->begin(), subs->end(), *mbname);
    bool present = it != subs->end() && *it == *mbname;
    if (present == on) return {};
    if (on) {
      if (size_t(subs->size()) >= opts_.max_subscriptions)
        return Error{ErrorCode::kLimit, "too many subscriptions (" + std::to_string(opts_.max_subscriptions) + ")"};
      // RepeatedPtrField has no insert: append, then rotate into place.
      auto pos = it - subs->begin();
      subs->Add(std::string(*mbname));
      std::rotate(subs->begin() + pos, subs->end() - 1, subs->end());
    } else {
      subs->erase(it);
    }
    return putRec(t, d.users, *name, *u);
  });
}

Result<std::vector<std::string>> StoreEngine::listSubscriptions(const std::string& user) {
  Reader rd(this);
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  return std::vector<std::string>(u->subscriptions().begin(), u->subscriptions().end());
}

uint32_t StoreEngine::recentUidLocked(uint32_t mailbox_id, uint32_t record_uid) const {
  auto it = recent_.find(mailbox_id);
  return std::max({record_uid, it == recent_.end() ? 0u : it->second.next_uid, 1u});
}

Result<std::pair<uint32_t, uint32_t>> StoreEngine::claimRecent(const std::string& user, uint32_t mailbox_id,
                                                               uint32_t up_to) {
  std::pair<uint32_t, uint32_t> range{0, 0};
  size_t kept = 0;
  {
    std::lock_guard lk(recent_mu_);
    Reader rd(this);
    auto u = rd.user(user);
    if (!u.ok()) return u.error();
    auto mb = loadMailboxById(rd.txn(), rd.dbs(), u->id(), mailbox_id);
    if (!mb.ok()) return mb.error();
    uint32_t from = recentUidLocked(mailbox_id, mb->recent_uid());
    uint32_t to = up_to != 0 ? std::min(up_to, mb->uidnext()) : mb->uidnext();
    if (to <= from) return range;
    recent_[mailbox_id] = RecentClaim{u->id(), to};
    range = {from, to};
    kept = recent_.size();
  }
  if (kept > opts_.recent_kept && !recent_flushing_.exchange(true)) {
    // Queued, not waited for: the caller may be the writer thread itself
    // (appendAsync's claim runs in its done).
    persistRecentAsync([this](Error e) {
      if (!e.ok()) log::warn("cannot save \\Recent claims", {{"error", e.message}});
      recent_flushing_ = false;
    });
  }
  return range;
}

Error StoreEngine::persistRecent() {
  return waitFor<Error>([&](auto done) { persistRecentAsync(std::move(done)); });
}

void StoreEngine::persistRecentAsync(WriteDone done) {
  auto claims = std::make_shared<std::unordered_map<uint32_t, RecentClaim>>();
  {
    std::lock_guard lk(recent_mu_);
    *claims = recent_;
  }
  if (claims->empty()) return done({});
  auto write = [this, claims](MDB_txn* t, std::vector<Change>*) -> Error {
    const Dbs& d = *dbs_;
    for (const auto& [id, c] : *claims) {
      auto mb = loadMailboxById(t, d, c.user_id, id);
      if (!mb.ok()) {
        if (mb.error().code == ErrorCode::kNotFound) continue;  // deleted meanwhile
        return mb.error();
      }
      if (mb->recent_uid() >= c.next_uid) continue;
      mb->set_recent_uid(c.next_uid);
      if (auto e = saveMailbox(t, d, *mb); !e.ok()) return e;
    }
    return {};
  };
  runWriteAsync(std::move(write), [this, claims, done = std::move(done)](Error err) {
    if (err.ok()) {
      // Committed: an entry not claimed further since is in its record now.
      std::lock_guard lk(recent_mu_);
      for (const auto& [id, c] : *claims)
        if (auto it = recent_.find(id); it != recent_.end() && it->second.next_uid <= c.next_uid) recent_.erase(it);
    }
    done(std::move(err));
  });
}

Result<SelectedMailbox> StoreEngine::selectMailbox(const std::string& user, const std::string& mailbox) {
  auto r = selectMailboxShared(user, mailbox);
  if (!r.ok()) return r.error();
  return SelectedMailbox{std::move(r->mailbox), *r->messages};
}

Result<StoreEngine::SharedSelect> StoreEngine::selectMailboxShared(const std::string& user,
                                                                  const std::string& mailbox) {
  auto mbname = canonicalMailbox(mailbox);
  if (!mbname.ok()) return mbname.error();
  Reader rd(this);
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  auto mb = loadMailbox(rd.txn(), rd.dbs(), u->id(), *mbname);
  if (!mb.ok()) return mb.error();
  SharedSelect sel;
  sel.mailbox = toInfo(*mb);
  // Read in the same transaction as the record: the key and the list agree.
  const ListCache::Key key{mb->id(), mb->uidvalidity(), mb->uidnext(), mb->messages(), mb->highestmodseq()};
  sel.messages = list_cache_.get(key);
  if (sel.messages) return sel;
  auto list = std::make_shared<std::vector<MessageMeta>>();
  list->reserve(mb->messages());
  auto e = forEachMessage(rd.txn(), rd.dbs(), mb->id(), [&](uint32_t uid, const rec::Message& m) {
    list->push_back(toMeta(uid, m));
    return Error{};
  });
  if (!e.ok()) return e;
  sel.messages = list;
  list_cache_.put(key, sel.messages);
  return sel;
}

}  // namespace postern::stored
