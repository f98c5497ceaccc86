#pragma once
// Temp-dir store fixtures shared by the stored unit tests.
#include <lmdb.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "keys.h"
#include "store_engine.h"

namespace postern::stored::test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/postern-stored-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Test options: a small map, and every list kept by the list cache (so
// every test's SELECT after a change also checks the cache's validity).
inline EngineOptions testOptions(const std::string& path) {
  EngineOptions o;
  o.path = path;
  o.map_size_mb = 256;
  o.list_cache_min_messages = 1;
  o.write_ahead_mb = 0;  // write_ahead_test.cc turns it on; the others need no 32 MB of zeros each
  return o;
}

inline std::unique_ptr<StoreEngine> openEngine(const EngineOptions& o) {
  auto r = StoreEngine::open(o);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::move(*r);
}

// openEngine(o) with user alice (password "pw") added.
inline std::unique_ptr<StoreEngine> openWithAlice(const EngineOptions& o) {
  auto s = openEngine(o);
  REQUIRE(s->addUser("alice", "pw").ok());
  return s;
}

inline std::unique_ptr<StoreEngine> openEngine(const std::string& path, uint32_t batch_max = 512) {
  EngineOptions o = testOptions(path);
  o.batch_max = batch_max;
  return openEngine(o);
}

// Runs `fn` in one transaction on a store's LMDB environment, behind the
// engine's back (the engine must be closed); a write transaction commits.
inline void withStoreTxn(const std::string& path, bool write, const std::function<void(MDB_txn*)>& fn) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, keys::kMaxDbs);
  REQUIRE(mdb_env_open(env, path.c_str(), MDB_NOTLS | (write ? 0 : MDB_RDONLY), 0600) == 0);
  MDB_txn* t = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &t) == 0);
  fn(t);
  if (write) REQUIRE(mdb_txn_commit(t) == 0);
  else mdb_txn_abort(t);
  mdb_env_close(env);
}

inline MDB_dbi openDb(MDB_txn* t, const char* name) {
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(t, name, 0, &dbi) == 0);
  return dbi;
}

// How many entries db `name` holds (the engine must be closed).
inline size_t dbEntries(const std::string& path, const char* name) {
  size_t n = 0;
  withStoreTxn(path, false, [&](MDB_txn* t) {
    MDB_stat st{};
    REQUIRE(mdb_stat(t, openDb(t, name), &st) == 0);
    n = st.ms_entries;
  });
  return n;
}

// Rewrites stored values of db `db` behind the engine's back (the engine
// must be closed): `edit` gets each raw value (keys.h) and returns true
// when it changed it. Returns how many it changed.
inline int rewriteValues(const std::string& path, const char* db, const std::function<bool(std::string&)>& edit) {
  int hits = 0;
  withStoreTxn(path, true, [&](MDB_txn* t) {
    MDB_cursor* c = nullptr;
    REQUIRE(mdb_cursor_open(t, openDb(t, db), &c) == 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      std::string val(static_cast<char*>(v.mv_data), v.mv_size);
      if (!edit(val)) continue;
      // A value of another size is re-inserted: the key must not point into the page.
      std::string key(static_cast<char*>(k.mv_data), k.mv_size);
      MDB_val nk{key.size(), key.data()}, nv{val.size(), val.data()};
      REQUIRE(mdb_cursor_put(c, &nk, &nv, MDB_CURRENT) == 0);
      hits++;
    }
    mdb_cursor_close(c);
  });
  return hits;
}
inline int rewriteBodies(const std::string& path, const std::function<bool(std::string&)>& edit) {
  return rewriteValues(path, keys::kDbBodies, edit);
}

// The uids of a SELECT answer, in order.
inline std::vector<uint32_t> uids(const SelectedMailbox& s) {
  std::vector<uint32_t> out;
  for (const auto& m : s.messages) out.push_back(m.uid);
  return out;
}

// A store in a temp dir with user "alice" (password "secret").
struct Fixture {
  TempDir dir;
  std::unique_ptr<StoreEngine> store = openEngine(dir.path);
  Fixture() { REQUIRE(store->addUser("alice", "secret").ok()); }

  uint32_t mailboxId(const std::string& name, const std::string& user = "alice") {
    auto mb = store->getMailbox(user, name);
    REQUIRE_MESSAGE(mb.ok(), mb.error().message);
    return mb->id;
  }
  AppendResult append(const std::string& mailbox, const std::string& body, uint64_t flags = 0,
                      std::vector<std::string> keywords = {}) {
    AppendArgs a;
    a.user = "alice";
    a.mailbox = mailbox;
    a.flags = flags;
    a.keywords = std::move(keywords);
    a.body = body;
    auto r = store->append(a);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    return *r;
  }
  // The uids of `mailbox` as SELECT lists them.
  std::vector<uint32_t> uidsOf(const std::string& mailbox) {
    auto sel = store->selectMailbox("alice", mailbox);
    REQUIRE_MESSAGE(sel.ok(), sel.error().message);
    return uids(*sel);
  }
  Result<std::string> body(uint32_t mailbox_id, uint32_t uid) {
    Result<std::string> out = Error{ErrorCode::kInternal, "not called"};
    auto e = store->fetchBodies("alice", mailbox_id, {uid}, [&](uint32_t, Result<std::string> b) {
      out = std::move(b);
      return true;
    });
    if (!e.ok()) return e;
    return out;
  }
};

}  // namespace postern::stored::test
