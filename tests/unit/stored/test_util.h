#pragma once
// Temp-dir store fixtures shared by the stored unit tests.
#include <lmdb.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "doctest/doctest.h"
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
  return o;
}

inline std::unique_ptr<StoreEngine> openEngine(const EngineOptions& o) {
  auto r = StoreEngine::open(o);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::move(*r);
}

inline std::unique_ptr<StoreEngine> openEngine(const std::string& path, uint32_t batch_max = 512) {
  EngineOptions o = testOptions(path);
  o.batch_max = batch_max;
  return openEngine(o);
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
