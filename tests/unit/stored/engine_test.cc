// Users, mailboxes, persistence and group commit.
#include <map>
#include <set>
#include <thread>

#include "keys.h"
#include "records.pb.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

static std::vector<std::string> names(const std::vector<MailboxInfo>& boxes) {
  std::vector<std::string> out;
  for (auto& b : boxes) out.push_back(b.name);
  return out;
}

TEST_CASE("user names are canonical lower-case and validated") {
  CHECK(*canonicalUser("Alice@Example.COM") == "alice@example.com");
  CHECK(canonicalUser("").error().code == ErrorCode::kBadArgs);
  CHECK(canonicalUser(std::string(65, 'a')).error().code == ErrorCode::kBadArgs);
  CHECK(canonicalUser("a b").error().code == ErrorCode::kBadArgs);
  CHECK(canonicalUser("x/y").error().code == ErrorCode::kBadArgs);
  CHECK(canonicalUser("a.b_c-d+e@f").ok());
}

TEST_CASE("users: add, authenticate, set password, exists, list, delete") {
  Fixture f;
  CHECK(f.store->addUser("ALICE", "x").code == ErrorCode::kExists);
  CHECK(f.store->addUser("bad name", "x").code == ErrorCode::kBadArgs);
  auto ok = f.store->authenticate("Alice", "secret");
  REQUIRE(ok.ok());
  CHECK(*ok == "alice");
  CHECK(f.store->authenticate("alice", "Secret").error().code == ErrorCode::kAuthFailed);
  CHECK(f.store->authenticate("nobody", "secret").error().code == ErrorCode::kAuthFailed);
  CHECK(f.store->authenticate("bad name", "secret").error().code == ErrorCode::kAuthFailed);

  REQUIRE(f.store->setPassword("alice", "new").ok());
  CHECK_FALSE(f.store->authenticate("alice", "secret").ok());
  CHECK(f.store->authenticate("alice", "new").ok());
  CHECK(f.store->setPassword("nobody", "x").code == ErrorCode::kNotFound);

  REQUIRE(f.store->addUser("bob", "pw").ok());
  auto ex = f.store->usersExist({"BOB", "carol", "alice", "bad name"});
  REQUIRE(ex.ok());
  CHECK(*ex == std::vector<bool>{true, false, true, false});

  f.append("INBOX", "Subject: a\r\n\r\nhello\r\n");
  auto users = f.store->listUsers();
  REQUIRE(users.ok());
  REQUIRE(users->size() == 2);
  CHECK((*users)[0].name == "alice");
  CHECK((*users)[0].messages == 1);
  CHECK((*users)[0].bytes == 21);
  CHECK((*users)[1].name == "bob");
  CHECK((*users)[1].messages == 0);

  REQUIRE(f.store->deleteUser("alice").ok());
  CHECK(f.store->deleteUser("alice").code == ErrorCode::kNotFound);
  CHECK_FALSE(f.store->authenticate("alice", "new").ok());
  CHECK(f.store->listMailboxes("alice").error().code == ErrorCode::kNotFound);
  CHECK(*f.store->hasUsers());
}

TEST_CASE("a new user has INBOX; INBOX is case-insensitive") {
  Fixture f;
  auto boxes = f.store->listMailboxes("alice");
  REQUIRE(boxes.ok());
  CHECK(names(*boxes) == std::vector<std::string>{"INBOX"});
  CHECK(*f.store->listSubscriptions("alice") == std::vector<std::string>{"INBOX"});
  CHECK((*boxes)[0].uidnext == 1);
  CHECK((*boxes)[0].uidvalidity > 0);
  CHECK(f.store->getMailbox("alice", "inbox").ok());
  CHECK(f.store->getMailbox("alice", "iNbOx").ok());
  CHECK(f.store->createMailbox("alice", "Inbox").code == ErrorCode::kExists);
  REQUIRE(f.store->createMailbox("alice", "inbox/Sub").ok());
  CHECK(f.store->getMailbox("alice", "INBOX/Sub").ok());
}

TEST_CASE("mailbox create, list, bad names, uidvalidity increases") {
  Fixture f;
  REQUIRE(f.store->createMailbox("alice", "a/b/c").ok());  // parents not required
  REQUIRE(f.store->createMailbox("alice", "Sent").ok());
  CHECK(f.store->createMailbox("alice", "Sent").code == ErrorCode::kExists);
  CHECK(f.store->createMailbox("alice", "").code == ErrorCode::kBadArgs);
  CHECK(f.store->createMailbox("alice", "/x").code == ErrorCode::kBadArgs);
  CHECK(f.store->createMailbox("alice", "x/").code == ErrorCode::kBadArgs);
  CHECK(f.store->createMailbox("alice", "x//y").code == ErrorCode::kBadArgs);
  CHECK(f.store->createMailbox("alice", "x*").code == ErrorCode::kBadArgs);
  CHECK(f.store->createMailbox("alice", std::string(501, 'n')).code == ErrorCode::kBadArgs);
  CHECK(f.store->createMailbox("alice", std::string(500, 'n')).ok());
  CHECK(f.store->createMailbox("nobody", "x").code == ErrorCode::kNotFound);
  auto boxes = f.store->listMailboxes("alice");
  REQUIRE(boxes.ok());
  CHECK(names(*boxes) == std::vector<std::string>{"INBOX", "Sent", "a/b/c", std::string(500, 'n')});
  CHECK(f.mailboxId("Sent") != f.mailboxId("a/b/c"));
  CHECK(f.store->getMailbox("alice", "Sent")->uidvalidity > f.store->getMailbox("alice", "a/b/c")->uidvalidity);
  CHECK(f.store->getMailbox("alice", "a/b/c")->uidvalidity > f.store->getMailbox("alice", "INBOX")->uidvalidity);
  CHECK(f.store->getMailbox("alice", "a").error().code == ErrorCode::kNotFound);
}

TEST_CASE("delete mailbox: INBOX refused, missing is not-found, children kept") {
  Fixture f;
  CHECK(f.store->deleteMailbox("alice", "INBOX").code == ErrorCode::kBadArgs);
  CHECK(f.store->deleteMailbox("alice", "inbox").code == ErrorCode::kBadArgs);
  CHECK(f.store->deleteMailbox("alice", "nope").code == ErrorCode::kNotFound);
  REQUIRE(f.store->createMailbox("alice", "a").ok());
  REQUIRE(f.store->createMailbox("alice", "a/x").ok());
  f.append("a", "body\r\n");
  REQUIRE(f.store->deleteMailbox("alice", "a").ok());
  CHECK(names(*f.store->listMailboxes("alice")) == std::vector<std::string>{"INBOX", "a/x"});
  CHECK(f.store->deleteMailbox("alice", "a").code == ErrorCode::kNotFound);
  REQUIRE(f.store->createMailbox("alice", "a").ok());
  CHECK(f.store->getMailbox("alice", "a")->messages == 0);
}

TEST_CASE("rename moves children, keeps messages and ids") {
  Fixture f;
  for (const char* n : {"a", "a/x", "a/x/y", "ab", "c"}) REQUIRE(f.store->createMailbox("alice", n).ok());
  uint32_t a = f.mailboxId("a"), ax = f.mailboxId("a/x");
  f.append("a/x", "hello\r\n");
  REQUIRE(f.store->renameMailbox("alice", "a", "b").ok());
  CHECK(names(*f.store->listMailboxes("alice")) ==
        std::vector<std::string>{"INBOX", "ab", "b", "b/x", "b/x/y", "c"});
  CHECK(f.mailboxId("b") == a);
  CHECK(f.mailboxId("b/x") == ax);
  CHECK(f.store->getMailbox("alice", "b/x")->messages == 1);
  CHECK(f.body(ax, 1).value() == "hello\r\n");
  CHECK(f.store->renameMailbox("alice", "b", "c").code == ErrorCode::kExists);
  CHECK(f.store->renameMailbox("alice", "nope", "d").code == ErrorCode::kNotFound);
  CHECK(f.store->renameMailbox("alice", "b", "b/z").code == ErrorCode::kBadArgs);
  REQUIRE(f.store->createMailbox("alice", "d/x").ok());
  CHECK(f.store->renameMailbox("alice", "b", "d").code == ErrorCode::kExists);  // d/x would clash
  CHECK(f.store->getMailbox("alice", "b").ok());  // nothing moved
}

TEST_CASE("rename INBOX moves its messages and leaves INBOX empty") {
  Fixture f;
  REQUIRE(f.store->createMailbox("alice", "INBOX/keep").ok());
  f.append("INBOX", "one\r\n", flag::kSeen, {"$Work"});
  f.append("INBOX", "two\r\n");
  uint32_t inbox = f.mailboxId("INBOX");
  REQUIRE(f.store->renameMailbox("alice", "INBOX", "Old").ok());
  auto in = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(in.ok());
  CHECK(in->messages.empty());
  CHECK(in->mailbox.messages == 0);
  CHECK(in->mailbox.id == inbox);
  CHECK(in->mailbox.uidnext == 3);  // uids are never reused
  auto old = f.store->selectMailbox("alice", "Old");
  REQUIRE(old.ok());
  REQUIRE(old->messages.size() == 2);
  CHECK(old->mailbox.messages == 2);
  CHECK(old->mailbox.unseen == 1);
  CHECK(old->mailbox.keywords == std::vector<std::string>{"$Work"});
  CHECK(old->messages[0].flags == (flag::kSeen | (1u << flag::kKeywordBase)));
  CHECK(f.body(old->mailbox.id, old->messages[1].uid).value() == "two\r\n");
  CHECK(f.store->getMailbox("alice", "INBOX/keep").ok());
}

using Names = std::vector<std::string>;

TEST_CASE("subscriptions: a list of names of their own (RFC 3501 6.3.6)") {
  Fixture f;
  REQUIRE(f.store->createMailbox("alice", "x").ok());
  CHECK(*f.store->listSubscriptions("alice") == Names{"INBOX"});
  REQUIRE(f.store->subscribe("alice", "x", true).ok());
  REQUIRE(f.store->subscribe("alice", "x", true).ok());  // twice: still once
  // A name with no mailbox may be subscribed.
  REQUIRE(f.store->subscribe("alice", "later/on", true).ok());
  CHECK(*f.store->listSubscriptions("alice") == Names{"INBOX", "later/on", "x"});
  // DELETE keeps the subscription.
  REQUIRE(f.store->deleteMailbox("alice", "x").ok());
  CHECK(*f.store->listSubscriptions("alice") == Names{"INBOX", "later/on", "x"});
  REQUIRE(f.store->subscribe("alice", "x", false).ok());
  REQUIRE(f.store->subscribe("alice", "x", false).ok());  // not subscribed: fine
  REQUIRE(f.store->subscribe("alice", "inbox", false).ok());
  CHECK(*f.store->listSubscriptions("alice") == Names{"later/on"});
  CHECK(f.store->subscribe("alice", "", true).code == ErrorCode::kBadArgs);
  CHECK(f.store->subscribe("nobody", "x", true).code == ErrorCode::kNotFound);
  CHECK(f.store->listSubscriptions("nobody").error().code == ErrorCode::kNotFound);
}

TEST_CASE("subscriptions follow RENAME, children included, and are bounded") {
  Fixture f;
  {
    f.store->close();
    EngineOptions o = testOptions(f.dir.path);
    o.max_subscriptions = 8;
    f.store = openEngine(o);
  }
  REQUIRE(f.store->createMailbox("alice", "a").ok());
  REQUIRE(f.store->createMailbox("alice", "a/b").ok());
  REQUIRE(f.store->createMailbox("alice", "ab").ok());
  for (const char* n : {"a", "a/b", "ab", "a/gone"}) REQUIRE(f.store->subscribe("alice", n, true).ok());
  REQUIRE(f.store->renameMailbox("alice", "a", "z").ok());
  CHECK(*f.store->listSubscriptions("alice") == Names{"INBOX", "ab", "z", "z/b", "z/gone"});
  // Renaming INBOX leaves INBOX (and its subscription) in place.
  REQUIRE(f.store->renameMailbox("alice", "INBOX", "old").ok());
  CHECK(*f.store->listSubscriptions("alice") == Names{"INBOX", "ab", "z", "z/b", "z/gone"});

  for (size_t i = 0; f.store->listSubscriptions("alice")->size() < 8; i++)
    REQUIRE(f.store->subscribe("alice", "many/" + std::to_string(i), true).ok());
  CHECK(f.store->subscribe("alice", "one/more", true).code == ErrorCode::kLimit);
  REQUIRE(f.store->subscribe("alice", "many/0", false).ok());
  CHECK(f.store->subscribe("alice", "one/more", true).ok());
}

TEST_CASE("a format 1 store is upgraded: mailbox subscription flags become the list") {
  TempDir dir;
  {
    auto s = openEngine(dir.path);
    REQUIRE(s->addUser("alice", "pw").ok());
    REQUIRE(s->addUser("bob", "pw").ok());
    REQUIRE(s->createMailbox("alice", "Lists").ok());
    REQUIRE(s->createMailbox("bob", "Plain").ok());
    s->close();
  }
  // Rewrite it as format 1 had it: no list, a flag on each subscribed mailbox.
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, keys::kMaxDbs);
  REQUIRE(mdb_env_open(env, dir.path.c_str(), MDB_NOTLS, 0600) == 0);
  MDB_txn* t = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &t) == 0);
  MDB_dbi meta, users, mailboxes;
  REQUIRE(mdb_dbi_open(t, keys::kDbMeta, 0, &meta) == 0);
  REQUIRE(mdb_dbi_open(t, keys::kDbUsers, 0, &users) == 0);
  REQUIRE(mdb_dbi_open(t, keys::kDbMailboxes, 0, &mailboxes) == 0);
  auto put = [&](MDB_dbi db, std::string key, const std::string& value) {
    MDB_val k{key.size(), key.data()}, v{value.size(), const_cast<char*>(value.data())};
    REQUIRE(mdb_put(t, db, &k, &v, 0) == 0);
  };
  put(meta, std::string(keys::kMetaFormat), keys::be64(1));
  std::map<uint32_t, std::string> user_names;
  for (const char* name : {"alice", "bob"}) {
    std::string key = name;
    MDB_val k{key.size(), key.data()}, v{};
    REQUIRE(mdb_get(t, users, &k, &v) == 0);
    records::User u;
    REQUIRE(u.ParseFromArray(v.mv_data, int(v.mv_size)));
    u.clear_subscriptions();
    user_names[u.id()] = name;
    put(users, key, u.SerializeAsString());
  }
  MDB_cursor* c = nullptr;
  REQUIRE(mdb_cursor_open(t, mailboxes, &c) == 0);
  std::vector<std::pair<std::string, records::Mailbox>> boxes;
  MDB_val k{}, v{};
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    records::Mailbox mb;
    REQUIRE(mb.ParseFromArray(v.mv_data, int(v.mv_size)));
    boxes.emplace_back(std::string(static_cast<char*>(k.mv_data), k.mv_size), mb);
  }
  mdb_cursor_close(c);
  for (auto& [key, mb] : boxes) {
    // alice: INBOX and Lists subscribed; bob: only INBOX.
    mb.set_legacy_subscribed(mb.name() == "INBOX" || mb.name() == "Lists");
    put(mailboxes, key, mb.SerializeAsString());
  }
  REQUIRE(mdb_txn_commit(t) == 0);
  mdb_env_close(env);

  auto s = openEngine(dir.path);
  CHECK(*s->listSubscriptions("alice") == Names{"INBOX", "Lists"});
  CHECK(*s->listSubscriptions("bob") == Names{"INBOX"});
  // The flags are gone: unsubscribing sticks across a reopen.
  REQUIRE(s->subscribe("alice", "Lists", false).ok());
  s->close();
  s = openEngine(dir.path);
  CHECK(*s->listSubscriptions("alice") == Names{"INBOX"});
}

TEST_CASE("data survives close and reopen") {
  TempDir dir;
  uint32_t id = 0;
  {
    auto s = openEngine(dir.path);
    REQUIRE(s->addUser("alice", "pw").ok());
    REQUIRE(s->createMailbox("alice", "Keep").ok());
    AppendArgs a;
    a.user = "alice";
    a.mailbox = "Keep";
    a.body = "persist me\r\n";
    REQUIRE(s->append(a).ok());
    id = s->getMailbox("alice", "Keep")->id;
    s->close();
    CHECK(s->getMailbox("alice", "Keep").error().code == ErrorCode::kUnavailable);
    CHECK(s->createMailbox("alice", "x").code == ErrorCode::kUnavailable);
  }
  auto s = openEngine(dir.path);
  CHECK(s->authenticate("alice", "pw").ok());
  auto sel = s->selectMailbox("alice", "Keep");
  REQUIRE(sel.ok());
  REQUIRE(sel->messages.size() == 1);
  CHECK(sel->mailbox.uidnext == 2);
  std::string got;
  s->fetchBodies("alice", id, {1}, [&](uint32_t, Result<std::string> b) {
    got = b.ok() ? *b : "";
    return true;
  });
  CHECK(got == "persist me\r\n");
  REQUIRE(s->createMailbox("alice", "New").ok());
  CHECK(s->getMailbox("alice", "New")->id > id);  // counters persisted too
}

TEST_CASE("group commit: concurrent appends share commits and get unique uids") {
  Fixture f;
  constexpr int kThreads = 8, kEach = 200;
  uint64_t commits_before = f.store->commitCount();
  uint64_t writes_before = f.store->writeCount();
  std::vector<std::vector<uint32_t>> uids(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; i++) {
        AppendArgs a;
        a.user = "alice";
        a.mailbox = "INBOX";
        a.body = "thread " + std::to_string(t) + " msg " + std::to_string(i) + "\r\n";
        auto r = f.store->append(a);
        if (r.ok()) uids[t].push_back(r->uid);
        else failures++;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  std::set<uint32_t> all;
  for (auto& v : uids) all.insert(v.begin(), v.end());
  CHECK(all.size() == size_t(kThreads * kEach));
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == uint32_t(kThreads * kEach));
  uint64_t commits = f.store->commitCount() - commits_before;
  uint64_t writes = f.store->writeCount() - writes_before;
  CHECK(writes == uint64_t(kThreads * kEach));
  CHECK(commits < writes);
  MESSAGE("commits for " << writes << " writes: " << commits);
  auto mb = f.store->getMailbox("alice", "INBOX");
  CHECK(mb->messages == uint32_t(kThreads * kEach));
  CHECK(mb->uidnext == uint32_t(kThreads * kEach + 1));
}

TEST_CASE("a failing write in a batch does not poison the others") {
  Fixture f;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, exists{0};
  for (int t = 0; t < 8; t++)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; i++) {
        // Half the creates collide (kExists) and fail inside the shared txn.
        auto e = f.store->createMailbox("alice", "box" + std::to_string(i) + (t % 2 ? "" : "-" + std::to_string(t)));
        if (e.ok()) ok++;
        else if (e.code == ErrorCode::kExists) exists++;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok + exists == 160);
  CHECK(ok == 80 + 20);  // 4 threads x 20 unique + 20 shared names once
  CHECK(f.store->listMailboxes("alice")->size() == 101);
}

TEST_CASE("users: protocol access is checked only after a correct password") {
  Fixture f;
  REQUIRE(f.store->addUser("erin", "pw").ok());
  CHECK(f.store->authenticate("erin", "pw", "pop3").ok());
  REQUIRE(f.store->setProtocolAccess("erin", "pop3", false).ok());
  auto denied = f.store->authenticate("erin", "pw", "pop3");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::kDenied);
  // A wrong password still looks like any wrong password.
  CHECK(f.store->authenticate("erin", "nope", "pop3").error().code == ErrorCode::kAuthFailed);
  CHECK(f.store->authenticate("erin", "pw", "imap").ok());
  auto users = f.store->listUsers();
  REQUIRE(users.ok());
  for (const auto& u : *users) {
    if (u.name == "erin") CHECK(u.denied_protocols == std::vector<std::string>{"pop3"});
    else CHECK(u.denied_protocols.empty());
  }
  REQUIRE(f.store->setProtocolAccess("erin", "pop3", true).ok());
  CHECK(f.store->authenticate("erin", "pw", "pop3").ok());
  CHECK(f.store->setProtocolAccess("erin", "smtp", false).code == ErrorCode::kBadArgs);
  CHECK(f.store->setProtocolAccess("nobody", "imap", false).code == ErrorCode::kNotFound);
}

TEST_CASE("store format: 2 is upgraded to 3 as it is; a newer format refuses to open") {
  TempDir dir;
  {
    auto s = openEngine(dir.path);
    REQUIRE(s->addUser("alice", "pw").ok());
    REQUIRE(s->subscribe("alice", "Lists", true).ok());
    s->close();
  }
  const std::string key(keys::kMetaFormat);
  auto setFormat = [&](uint64_t v) {
    withStoreTxn(dir.path, true, [&](MDB_txn* t) {
      std::string value = keys::be64(v);
      MDB_val k{key.size(), const_cast<char*>(key.data())}, val{value.size(), value.data()};
      REQUIRE(mdb_put(t, openDb(t, keys::kDbMeta), &k, &val, 0) == 0);
    });
  };
  auto format = [&]() -> uint64_t {
    uint64_t v = 0;
    withStoreTxn(dir.path, false, [&](MDB_txn* t) {
      MDB_val k{key.size(), const_cast<char*>(key.data())}, val{};
      REQUIRE(mdb_get(t, openDb(t, keys::kDbMeta), &k, &val) == 0);
      REQUIRE(val.mv_size == 8);
      v = keys::getBe64(static_cast<const char*>(val.mv_data));
    });
    return v;
  };
  CHECK(format() == keys::kFormatVersion);
  CHECK(keys::kFormatVersion == 3);
  setFormat(2);
  {
    auto s = openEngine(dir.path);
    CHECK(*s->listSubscriptions("alice") == Names{"INBOX", "Lists"});  // nothing converted
    s->close();
  }
  CHECK(format() == 3);
  setFormat(4);
  EngineOptions o;
  o.path = dir.path;
  auto r = StoreEngine::open(o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kCorrupt);
  CHECK(format() == 4);  // left as it was
}
