// Engine lifecycle, the group-commit writer and the user operations.
#include "store_engine.h"

#include <sys/stat.h>

#include <algorithm>
#include <future>
#include <map>
#include <set>

#include "engine_internal.h"
#include "log.h"
#include "password.h"

namespace postern::stored {

using namespace detail;

struct StoreEngine::WriteOp {
  WriteFn fn;
  WriteDone done;
};

namespace {

// Format 1 -> 2: the `subscribed` flag of each mailbox record becomes a name
// in its user's subscription list. One transaction with the format bump.
Error migrateSubscriptions(MDB_txn* t, const Dbs& d) {
  std::map<uint32_t, rec::User> users;
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(t, d.users, &c);
  if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
  MDB_val k{}, v{};
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    rec::User u;
    if (!u.ParseFromArray(v.mv_data, int(v.mv_size))) {
      mdb_cursor_close(c);
      return Error{ErrorCode::kCorrupt, "unparsable user record"};
    }
    users[u.id()] = std::move(u);
  }
  mdb_cursor_close(c);
  std::vector<rec::Mailbox> flagged;
  rc = mdb_cursor_open(t, d.mailboxes, &c);
  if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    rec::Mailbox mb;
    if (!mb.ParseFromArray(v.mv_data, int(v.mv_size))) {
      mdb_cursor_close(c);
      return Error{ErrorCode::kCorrupt, "unparsable mailbox record"};
    }
    if (mb.legacy_subscribed()) flagged.push_back(std::move(mb));
  }
  mdb_cursor_close(c);
  std::set<uint32_t> changed;
  for (auto& mb : flagged) {
    auto u = users.find(mb.user_id());
    if (u != users.end()) {
      u->second.add_subscriptions(mb.name());
      changed.insert(mb.user_id());
    }
    mb.set_legacy_subscribed(false);
    if (auto e = saveMailbox(t, d, mb); !e.ok()) return e;
  }
  for (uint32_t id : changed) {
    rec::User& u = users[id];
    std::vector<std::string> subs(u.subscriptions().begin(), u.subscriptions().end());
    std::sort(subs.begin(), subs.end());
    subs.erase(std::unique(subs.begin(), subs.end()), subs.end());
    u.mutable_subscriptions()->Assign(subs.begin(), subs.end());
    if (auto e = putRec(t, d.users, u.name(), u); !e.ok()) return e;
  }
  return {};
}

}  // namespace

Result<std::string> canonicalUser(std::string_view name) {
  if (name.empty() || name.size() > 64) return Error{ErrorCode::kBadArgs, "bad user name length"};
  std::string out;
  out.reserve(name.size());
  for (char ch : name) {
    char c = char(tolower(static_cast<unsigned char>(ch)));
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '@' || c == '+';
    if (!ok) return Error{ErrorCode::kBadArgs, "bad character in user name"};
    out.push_back(c);
  }
  return out;
}

Result<std::string> canonicalMailbox(std::string_view name) {
  // LMDB keys are at most 511 bytes: 4-byte user id + name must fit.
  if (name.empty() || name.size() > 500) return Error{ErrorCode::kBadArgs, "bad mailbox name length"};
  if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string_view::npos)
    return Error{ErrorCode::kBadArgs, "bad hierarchy in mailbox name"};
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f || c == '*' || c == '%') return Error{ErrorCode::kBadArgs, "bad mailbox name"};
  std::string out(name);
  // INBOX is case-insensitive, and so is the INBOX level of its children.
  if (out.size() >= 5 && (out.size() == 5 || out[5] == '/')) {
    std::string head = out.substr(0, 5);
    for (auto& c : head) c = char(toupper(static_cast<unsigned char>(c)));
    if (head == "INBOX") out.replace(0, 5, "INBOX");
  }
  return out;
}

// ---- lifecycle ----------------------------------------------------------

StoreEngine::StoreEngine(const EngineOptions& opts)
    : opts_(opts), dbs_(std::make_unique<EngineDbs>()), hub_(std::make_shared<ChangeHub>(opts.watch_backlog)) {}

Result<std::unique_ptr<StoreEngine>> StoreEngine::open(const EngineOptions& opts) {
  std::unique_ptr<StoreEngine> e(new StoreEngine(opts));
  if (auto err = e->init(); !err.ok()) return err;
  return e;
}

Error StoreEngine::init() {
  int rc = mdb_env_create(&env_);
  if (rc != 0) return lmdbError(rc, "mdb_env_create");
  mdb_env_set_maxdbs(env_, keys::kMaxDbs);
  mdb_env_set_mapsize(env_, size_t(opts_.map_size_mb) << 20);
  mdb_env_set_maxreaders(env_, 1024);
  // MDB_NOTLS: read txns are not tied to threads (gRPC pools). Sync stays on:
  // a commit returns only once it is on disk.
  rc = mdb_env_open(env_, opts_.path.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) {
    Error err = lmdbError(rc, "mdb_env_open " + opts_.path);
    err.code = ErrorCode::kUnavailable;
    mdb_env_close(env_);
    env_ = nullptr;
    return err;
  }
  MDB_txn* t = nullptr;
  rc = mdb_txn_begin(env_, nullptr, 0, &t);
  if (rc != 0) return lmdbError(rc, "mdb_txn_begin");
  struct { const char* name; MDB_dbi* dbi; } all[] = {
      {keys::kDbMeta, &dbs_->meta},         {keys::kDbUsers, &dbs_->users},
      {keys::kDbMailboxes, &dbs_->mailboxes}, {keys::kDbMailboxIds, &dbs_->mbox_ids},
      {keys::kDbMessages, &dbs_->messages}, {keys::kDbBodies, &dbs_->bodies},
      {keys::kDbBodyRefs, &dbs_->body_refs}, {keys::kDbStructures, &dbs_->structures},
      {keys::kDbImap, &dbs_->imap}, {keys::kDbText, &dbs_->text}};
  for (auto& db : all) {
    rc = mdb_dbi_open(t, db.name, MDB_CREATE, db.dbi);
    if (rc != 0) {
      mdb_txn_abort(t);
      return lmdbError(rc, std::string("mdb_dbi_open ") + db.name);
    }
  }
  std::string_view fmt;
  auto r = getRaw(t, dbs_->meta, keys::kMetaFormat, &fmt);
  uint64_t version = 0;
  if (r.ok() && *r && fmt.size() == 8) version = keys::getBe64(fmt.data());
  if (r.ok() && !*r) {
    version = keys::kFormatVersion;  // a new store
  } else if (version == 1 || version == 2) {
    // 1 -> 2 converts the subscriptions; 2 -> 3 converts nothing (format 3
    // only marks that bodies of body format 3 may be in it).
    if (version == 1) {
      if (auto e = migrateSubscriptions(t, *dbs_); !e.ok()) {
        mdb_txn_abort(t);
        return e;
      }
    }
    log::info("store format upgraded",
              {{"path", opts_.path}, {"from", std::to_string(version)}, {"to", std::to_string(keys::kFormatVersion)}});
    version = keys::kFormatVersion;
  }
  if (!r.ok() || version != keys::kFormatVersion) {
    mdb_txn_abort(t);
    return Error{ErrorCode::kCorrupt, "unknown store format in " + opts_.path};
  }
  if (auto e = putRaw(t, dbs_->meta, keys::kMetaFormat, keys::be64(keys::kFormatVersion)); !e.ok()) {
    mdb_txn_abort(t);
    return e;
  }
  rc = mdb_txn_commit(t);
  if (rc != 0) return lmdbError(rc, "mdb_txn_commit");
  MDB_stat st{};
  if (mdb_env_stat(env_, &st) == 0) page_size_ = st.ms_psize;
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  WriteAhead::Options wa;
  wa.path = opts_.path + "/data.mdb";
  wa.ahead = opts_.write_ahead_mb << 20;
  wa.limit = info.me_mapsize;
  wa.page = page_size_;
  wa.reserve = 4 * wa.ahead;
  wa.on_synced = [this] {
    {
      std::lock_guard lk(mu_);
      ahead_synced_ = true;
    }
    cv_.notify_all();
  };
  write_ahead_ = std::make_unique<WriteAhead>(std::move(wa));
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store-writer");
    writerLoop();
  });
  return {};
}

StoreEngine::~StoreEngine() { close(); }

void StoreEngine::close() {
  std::lock_guard cl(close_mu_);
  if (!closed_ && writer_.joinable()) {
    if (Error e = persistRecent(); !e.ok()) log::warn("cannot save \\Recent claims", {{"error", e.message}});
  }
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  write_ahead_.reset();  // its sync thread uses LMDB's descriptor
  hub_->close();
  std::unique_lock envlock(env_mu_);
  closed_ = true;
  if (env_) {
    mdb_env_close(env_);
    env_ = nullptr;
  }
}

StoreEngine::Reader::Reader(StoreEngine* e) : e_(e), lock_(e->env_mu_) {
  if (!e->env_) {
    err_ = Error{ErrorCode::kUnavailable, "store closed"};
    return;
  }
  int rc = mdb_txn_begin(e->env_, nullptr, MDB_RDONLY, &txn_);
  if (rc != 0) {
    txn_ = nullptr;
    err_ = lmdbError(rc, "mdb_txn_begin read");
  }
}

Result<records::User> StoreEngine::Reader::user(std::string_view name) const {
  auto canonical = canonicalUser(name);
  if (!canonical.ok()) return canonical.error();
  if (!err_.ok()) return err_;
  return loadUser(txn_, dbs(), *canonical);
}

StoreEngine::Reader::~Reader() {
  if (txn_) mdb_txn_abort(txn_);
}

// ---- group commit -------------------------------------------------------

Error StoreEngine::runWrite(WriteFn fn) {
  std::promise<Error> p;
  auto fut = p.get_future();
  runWriteAsync(std::move(fn), [&p](Error e) { p.set_value(std::move(e)); });
  return fut.get();
}

void StoreEngine::runWriteAsync(WriteFn fn, WriteDone done) {
  auto op = std::make_shared<WriteOp>();
  op->fn = std::move(fn);
  op->done = std::move(done);
  {
    std::lock_guard lk(mu_);
    if (!stopping_) {
      queue_.push_back(op);
      op = nullptr;
    }
  }
  if (op) return op->done(Error{ErrorCode::kUnavailable, "store is shutting down"});
  cv_.notify_one();
}

StoreEngine::FileUse StoreEngine::fileUse() const {
  FileUse u;
  std::shared_lock lk(env_mu_);
  if (!env_) return u;
  MDB_envinfo info{};
  if (mdb_env_info(env_, &info) == 0) u.used = (uint64_t(info.me_last_pgno) + 1) * page_size_;
  mdb_filehandle_t fd = -1;
  struct stat sb{};
  if (mdb_env_get_fd(env_, &fd) == 0 && fstat(fd, &sb) == 0) u.size = uint64_t(sb.st_size);
  return u;
}

WriteAhead::Step StoreEngine::idleStep() {
  {
    std::lock_guard lk(mu_);
    if (!queue_.empty() || stopping_) return WriteAhead::Step::kDone;
  }
  return write_ahead_->step(fileUse().used);
}

void StoreEngine::writerLoop() {
  for (;;) {
    WriteAhead::Step ahead = idleStep();
    std::vector<std::shared_ptr<WriteOp>> batch;
    {
      std::unique_lock lk(mu_);
      auto ready = [&] { return !queue_.empty() || stopping_; };
      if (ahead == WriteAhead::Step::kAfterSync) {
        // Write-ahead goes on once its chunk is synced, unless a write comes.
        cv_.wait(lk, [&] { return ready() || ahead_synced_; });
      } else {
        cv_.wait(lk, ready);
      }
      ahead_synced_ = false;
      if (!ready()) continue;
      if (queue_.empty()) return;  // stopping and drained
      size_t n = std::min<size_t>(queue_.size(), std::max<uint32_t>(1, opts_.batch_max));
      for (size_t i = 0; i < n; i++) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<Error> results(batch.size());
    std::vector<Change> changes;
    MDB_txn* parent = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &parent);
    if (rc != 0) {
      Error err = lmdbError(rc, "mdb_txn_begin write");
      log::error("write transaction failed", {{"error", err.message}});
      for (auto& r : results) r = err;
    } else {
      // Each op runs in a nested txn so its failure rolls back only itself;
      // a batch of one needs none: its failure aborts the whole txn.
      const bool alone = batch.size() == 1;
      for (size_t i = 0; i < batch.size(); i++) {
        MDB_txn* child = parent;
        if (!alone) {
          rc = mdb_txn_begin(env_, parent, 0, &child);
          if (rc != 0) {
            results[i] = lmdbError(rc, "mdb_txn_begin nested");
            continue;
          }
        }
        std::vector<Change> mine;
        try {
          results[i] = batch[i]->fn(child, &mine);
        } catch (const std::exception& ex) {  // e.g. bad_alloc: fail this op only
          results[i] = Error{ErrorCode::kInternal, std::string("write failed: ") + ex.what()};
        }
        if (results[i].ok()) {
          rc = alone ? 0 : mdb_txn_commit(child);
          if (rc != 0) results[i] = lmdbError(rc, "mdb_txn_commit nested");
          else changes.insert(changes.end(), std::make_move_iterator(mine.begin()),
                              std::make_move_iterator(mine.end()));
        } else if (!alone) {
          mdb_txn_abort(child);
        }
      }
      if (alone && !results[0].ok()) {
        mdb_txn_abort(parent);  // nothing to commit
      } else {
        rc = mdb_txn_commit(parent);  // fsyncs
        commits_++;
        if (rc != 0) {
          Error err = lmdbError(rc, "mdb_txn_commit");
          log::error("commit failed", {{"error", err.message}, {"writes", std::to_string(batch.size())}});
          for (auto& r : results)
            if (r.ok()) r = err;
          changes.clear();
        }
      }
    }
    writes_ += batch.size();
    hub_->publish(std::move(changes));
    for (size_t i = 0; i < batch.size(); i++) {
      try {
        batch[i]->done(std::move(results[i]));
      } catch (const std::exception& ex) {  // a reply that could not be built; the write stands
        log::error("write done failed", {{"error", ex.what()}});
      }
    }
  }
}

// ---- users --------------------------------------------------------------

// authenticate, addUser, setPassword, scramSecrets, importPasswd: store_auth.cc.

Error StoreEngine::setProtocolAccess(const std::string& user, const std::string& protocol, bool allowed) {
  if (protocol != "imap" && protocol != "pop3")
    return Error{ErrorCode::kBadArgs, "protocol must be imap or pop3"};
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  const Dbs& d = *dbs_;
  return runWrite([&](MDB_txn* t, std::vector<Change>*) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto* list = u->mutable_denied_protocols();
    for (int i = list->size() - 1; i >= 0; --i)
      if (list->Get(i) == protocol) list->DeleteSubrange(i, 1);
    if (!allowed) u->add_denied_protocols(protocol);
    return putRec(t, d.users, *name, *u);
  });
}

Error StoreEngine::deleteUser(const std::string& user) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  const Dbs& d = *dbs_;
  // Once committed (on return), the user's settings leave userSettingsSummary().
  struct BumpAfter { std::atomic<uint64_t>& gen; ~BumpAfter() { ++gen; } } bump{settings_gen_};
  return runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    // Collect the mailboxes first: no cursor stays open across the deletes.
    std::vector<rec::Mailbox> boxes;
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(t, d.mailboxes, &c);
    if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
    std::string prefix = keys::userPrefix(u->id());
    MDB_val k = val(prefix), v{};
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      if (view(k).substr(0, 4) != prefix) break;
      rec::Mailbox mb;
      if (!mb.ParseFromArray(v.mv_data, int(v.mv_size))) {
        mdb_cursor_close(c);
        return Error{ErrorCode::kCorrupt, "unparsable mailbox record"};
      }
      boxes.push_back(std::move(mb));
    }
    mdb_cursor_close(c);
    for (auto& mb : boxes) {
      std::vector<std::pair<uint32_t, rec::Message>> msgs;
      auto e = forEachMessage(t, d, mb.id(), [&](uint32_t uid, const rec::Message& m) {
        msgs.emplace_back(uid, m);
        return Error{};
      });
      if (!e.ok()) return e;
      for (auto& [uid, m] : msgs)
        if (auto e2 = removeMessage(t, d, &mb, uid, m); !e2.ok()) return e2;
      if (auto e2 = delRaw(t, d.mailboxes, keys::mailboxKey(mb.user_id(), mb.name())); !e2.ok()) return e2;
      if (auto e2 = delRaw(t, d.mbox_ids, keys::be32(mb.id())); !e2.ok()) return e2;
      Change ch;
      ch.kind = Change::kMailbox;
      ch.user = *name;
      ch.mailbox_id = mb.id();
      changes->push_back(std::move(ch));
    }
    return delRaw(t, d.users, *name);
  });
}

Result<std::vector<bool>> StoreEngine::usersExist(const std::vector<std::string>& users) {
  Reader rd(this);
  if (!rd.error().ok()) return rd.error();
  std::vector<bool> out;
  for (const auto& user : users) {
    auto name = canonicalUser(user);
    bool found = false;
    if (name.ok()) {
      std::string_view v;
      auto r = getRaw(rd.txn(), rd.dbs().users, *name, &v);
      if (!r.ok()) return r.error();
      found = *r;
    }
    out.push_back(found);
  }
  return out;
}

Result<std::vector<UserSummary>> StoreEngine::listUsers() {
  Reader rd(this);
  if (!rd.error().ok()) return rd.error();
  const Dbs& d = rd.dbs();
  std::vector<UserSummary> out;
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(rd.txn(), d.users, &c);
  if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
  MDB_val k{}, v{};
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    rec::User u;
    if (!u.ParseFromArray(v.mv_data, int(v.mv_size))) continue;  // logged below as corrupt count
    out.push_back(UserSummary{u.name(), u.id(), 0, 0, {u.denied_protocols().begin(), u.denied_protocols().end()}});
    out.back().password_scheme = std::string(schemeName(schemeOf(u.password())));
    if (u.has_scram_sha1()) out.back().scram.emplace_back("SCRAM-SHA-1");
    if (u.has_scram_sha256()) out.back().scram.emplace_back("SCRAM-SHA-256");
  }
  mdb_cursor_close(c);
  // Totals come from the per-mailbox counters (no message scan).
  rc = mdb_cursor_open(rd.txn(), d.mailboxes, &c);
  if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
  for (auto& us : out) {
    std::string prefix = keys::userPrefix(us.id);
    MDB_val mk = val(prefix);
    for (rc = mdb_cursor_get(c, &mk, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &mk, &v, MDB_NEXT)) {
      if (view(mk).substr(0, 4) != prefix) break;
      rec::Mailbox mb;
      if (!mb.ParseFromArray(v.mv_data, int(v.mv_size))) continue;
      us.messages += mb.messages();
      us.bytes += mb.size();
    }
  }
  mdb_cursor_close(c);
  return out;
}

Result<bool> StoreEngine::hasUsers() {
  Reader rd(this);
  if (!rd.error().ok()) return rd.error();
  MDB_stat st{};
  int rc = mdb_stat(rd.txn(), rd.dbs().users, &st);
  if (rc != 0) return lmdbError(rc, "mdb_stat");
  return st.ms_entries > 0;
}

}  // namespace postern::stored
