// Per-user settings (overrides of a few config keys, kept on the user
// record) and POP3 retention: the first-retrieval stamp of each message and
// RFC 2449 EXPIRE, which removes messages some days after POP3 retrieved
// them. A message POP3 never retrieved is never expired.
#include <ctime>
#include <set>

#include "config.h"
#include "engine_internal.h"

namespace postern::stored {

using namespace detail;

const std::vector<std::string>& StoreEngine::userSettingKeys() {
  // What the issue asks to be configurable per user; every other key is
  // the server's alone.
  static const std::vector<std::string> keys = {"pop3.expire", "pop3.login_delay", "pop3.mark_seen"};
  return keys;
}

int64_t StoreEngine::retentionNow() const { return int64_t(time(nullptr)) + clock_offset_.load(); }

Result<std::map<std::string, std::string>> StoreEngine::userSettings(const std::string& user) {
  Reader rd(this);
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  return std::map<std::string, std::string>(u->settings().begin(), u->settings().end());
}

Error StoreEngine::setUserSetting(const std::string& user, const std::string& key, const std::string& value) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  bool known = false;
  for (const auto& k : userSettingKeys()) known = known || k == key;
  if (!known) {
    std::string all;
    for (const auto& k : userSettingKeys()) all += (all.empty() ? "" : ", ") + k;
    return Error{ErrorCode::kBadArgs, "'" + key + "' cannot be set per user (only " + all + ")"};
  }
  // The same validation as the config file, on a scratch config.
  std::string v = value;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
  if (!v.empty()) {
    Config scratch;
    if (Error e = applyConfigValue(scratch, key, v); !e.ok()) return Error{ErrorCode::kBadArgs, e.message};
  }
  const Dbs& d = *dbs_;
  Error err = runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    if (v.empty()) {
      u->mutable_settings()->erase(key);
    } else {
      (*u->mutable_settings())[key] = v;
    }
    return putRec(t, d.users, *name, *u);
  });
  ++settings_gen_;  // after the commit: a summary computed meanwhile is not kept
  return err;
}

Result<std::map<std::string, std::vector<std::string>>> StoreEngine::userSettingsSummary() {
  uint64_t gen = settings_gen_.load();
  {
    std::lock_guard lk(summary_mu_);
    if (summary_gen_ == gen) return summary_;
  }
  std::map<std::string, std::set<std::string>> seen;
  {
    Reader rd(this);
    if (!rd.error().ok()) return rd.error();
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(rd.txn(), rd.dbs().users, &c);
    if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
    MDB_val k{}, v{};
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      rec::User u;
      if (!u.ParseFromArray(v.mv_data, int(v.mv_size))) continue;
      for (const auto& [key, value] : u.settings()) seen[key].insert(value);
    }
    mdb_cursor_close(c);
  }
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [key, values] : seen) out[key].assign(values.begin(), values.end());
  std::lock_guard lk(summary_mu_);
  // `gen` was read before the scan: a change during it leaves the cache stale-marked.
  summary_ = out;
  summary_gen_ = gen;
  return out;
}

Error StoreEngine::markRetrieved(const std::string& user, uint32_t mailbox_id,
                                 const std::vector<uint32_t>& uids) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  if (uids.empty()) return {};
  int64_t now = retentionNow();
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto mb = loadMailboxById(t, d, u->id(), mailbox_id);
    if (!mb.ok()) return mb.error();
    for (uint32_t uid : uids) {
      std::string key = keys::messageKey(mb->id(), uid);
      rec::Message m;
      auto r = getRec(t, d.messages, key, &m);
      if (!r.ok()) return r.error();
      if (!*r || m.pop3_retrieved() != 0) continue;  // gone, or retrieved before: the first time counts
      m.set_pop3_retrieved(now);
      if (auto e = putRec(t, d.messages, key, m); !e.ok()) return e;
    }
    return {};
  });
}

Result<ExpungeResult> StoreEngine::expireRetrieved(const std::string& user, const std::string& mailbox,
                                                   int64_t max_age_s) {
  if (max_age_s < 0) return Error{ErrorCode::kBadArgs, "negative retention age"};
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto mbname = canonicalMailbox(mailbox.empty() ? "INBOX" : mailbox);
  if (!mbname.ok()) return mbname.error();
  int64_t cutoff = retentionNow() - max_age_s;
  uint32_t mailbox_id = 0;
  ExpungeResult none;
  std::vector<uint32_t> old;
  {
    Reader rd(this);
    if (!rd.error().ok()) return rd.error();
    auto u = loadUser(rd.txn(), rd.dbs(), *name);
    if (!u.ok()) return u.error();
    auto mb = loadMailbox(rd.txn(), rd.dbs(), u->id(), *mbname);
    if (!mb.ok()) return mb.error();
    mailbox_id = mb->id();
    none.modseq = mb->highestmodseq();
    auto e = forEachMessage(rd.txn(), rd.dbs(), mailbox_id, [&](uint32_t uid, const rec::Message& m) {
      if (m.pop3_retrieved() != 0 && m.pop3_retrieved() <= cutoff) old.push_back(uid);
      return Error{};
    });
    if (!e.ok()) return e;
  }
  // An empty uid list would mean "every message" to expunge().
  if (old.empty()) return none;
  // Stamps never go away or move later, so what was old in the read is old
  // now; uids expunged meanwhile are skipped by expunge().
  return expunge(*name, mailbox_id, old, false);
}

Result<int64_t> StoreEngine::retrievedAt(const std::string& user, uint32_t mailbox_id, uint32_t uid) {
  Reader rd(this);
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  auto mb = loadMailboxById(rd.txn(), rd.dbs(), u->id(), mailbox_id);
  if (!mb.ok()) return mb.error();
  rec::Message m;
  auto r = getRec(rd.txn(), rd.dbs().messages, keys::messageKey(mb->id(), uid), &m);
  if (!r.ok()) return r.error();
  if (!*r) return Error{ErrorCode::kNotFound, "no such message"};
  return int64_t(m.pop3_retrieved());
}

}  // namespace postern::stored
