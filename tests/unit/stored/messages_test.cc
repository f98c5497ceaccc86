// Append, select, flags, expunge, copy/move, deliver, fetch integrity.
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <thread>

#include "bodystructure.h"
#include "keys.h"
#include "mime/mime.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

TEST_CASE("append then select: ascending uids, uidnext, counters, modseq") {
  Fixture f;
  auto r1 = f.append("INBOX", "a\r\n", flag::kSeen);
  auto r2 = f.append("INBOX", "bb\r\n");
  auto r3 = f.append("inbox", "ccc\r\n", flag::kFlagged);
  CHECK(r1.uid == 1);
  CHECK(r2.uid == 2);
  CHECK(r3.uid == 3);
  CHECK(r1.modseq < r2.modseq);
  CHECK(r2.modseq < r3.modseq);
  auto sel = f.store->selectMailbox("alice", "INBOX");
  REQUIRE(sel.ok());
  CHECK(sel->mailbox.uidvalidity == r1.uidvalidity);
  CHECK(sel->mailbox.uidnext == 4);
  CHECK(sel->mailbox.messages == 3);
  CHECK(sel->mailbox.unseen == 2);
  CHECK(sel->mailbox.size == 3 + 4 + 5);
  CHECK(sel->mailbox.highestmodseq == r3.modseq);
  REQUIRE(sel->messages.size() == 3);
  CHECK(sel->messages[0].uid == 1);
  CHECK(sel->messages[0].flags == flag::kSeen);
  CHECK(sel->messages[1].size == 4);
  CHECK(sel->messages[2].flags == flag::kFlagged);
  CHECK(sel->messages[0].internaldate > 0);

  AppendArgs a;
  a.user = "alice";
  a.mailbox = "Nope";
  a.body = "x";
  uint64_t commits = f.store->commitCount();
  CHECK(f.store->append(a).error().code == ErrorCode::kNotFound);
  CHECK(f.store->commitCount() == commits);  // a lone failed write is aborted: no commit, no fsync
  a.mailbox = "INBOX";
  a.internaldate = 1000;
  a.tzoffset = -300;
  a.flags = ~uint64_t(0);  // only system bits are taken
  auto r4 = f.store->append(a);
  REQUIRE(r4.ok());
  auto sel2 = f.store->selectMailbox("alice", "INBOX");
  CHECK(sel2->messages[3].internaldate == 1000);
  CHECK(sel2->messages[3].tzoffset == -300);
  CHECK(sel2->messages[3].flags == flag::kSystemMask);
}

TEST_CASE("append refuses bodies over the size limit") {
  TempDir dir;
  EngineOptions o;
  o.path = dir.path;
  o.map_size_mb = 64;
  o.max_message_size = 10;
  auto s = StoreEngine::open(o);
  REQUIRE(s.ok());
  REQUIRE((*s)->addUser("alice", "pw").ok());
  AppendArgs a;
  a.user = "alice";
  a.mailbox = "INBOX";
  a.body = std::string(11, 'x');
  CHECK((*s)->append(a).error().code == ErrorCode::kTooBig);
  a.body = std::string(10, 'x');
  CHECK((*s)->append(a).ok());
}

TEST_CASE("async writes: done after the commit on the writer thread; refusals and shutdown at once") {
  Fixture f;
  const auto caller = std::this_thread::get_id();
  uint32_t id = f.mailboxId("INBOX");
  // Each done records its thread and whether the write is visible to a new
  // reader by then (it must be: done comes after the commit).
  struct Seen {
    std::thread::id thread;
    bool visible = false;
    Error error;
  };
  auto wait = [](std::promise<Seen>& p) {
    auto fut = p.get_future();
    REQUIRE(fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return fut.get();
  };
  std::promise<Seen> p1;
  AppendArgs a;
  a.user = "alice";
  a.mailbox = "INBOX";
  a.body = "Subject: x\r\n\r\nasync\r\n";
  f.store->appendAsync(a, [&](Result<AppendResult> r) {
    Seen s{std::this_thread::get_id(), false, r.error()};
    if (r.ok()) s.visible = f.store->selectMailbox("alice", "INBOX")->messages.size() == 1 && r->uid == 1;
    p1.set_value(s);
  });
  auto s1 = wait(p1);
  CHECK(s1.error.ok());
  CHECK(s1.visible);
  CHECK(s1.thread != caller);

  std::promise<Seen> p2;
  StoreFlagsArgs sf;
  sf.user = "alice";
  sf.mailbox_id = id;
  sf.uids = {1, 1, 99};  // duplicates and unknown uids are ignored
  sf.op = FlagOp::kAdd;
  sf.flags = flag::kSeen;
  f.store->storeFlagsAsync(sf, [&](Result<StoreFlagsResult> r) {
    Seen s{std::this_thread::get_id(), false, r.error()};
    if (r.ok())
      s.visible = r->changed.size() == 1 && f.store->selectMailbox("alice", "INBOX")->messages[0].flags == flag::kSeen;
    p2.set_value(s);
  });
  auto s2 = wait(p2);
  CHECK(s2.error.ok());
  CHECK(s2.visible);
  CHECK(s2.thread != caller);

  std::promise<Seen> p3;
  f.store->deliverAsync({"alice", "nobody"}, "", "Subject: d\r\n\r\nd\r\n", [&](std::vector<Error> r) {
    Seen s{std::this_thread::get_id(), false, {}};
    s.visible = r.size() == 2 && r[0].ok() && r[1].code == ErrorCode::kNotFound &&
                f.store->selectMailbox("alice", "INBOX")->messages.size() == 2;
    p3.set_value(s);
  });
  auto s3 = wait(p3);
  CHECK(s3.visible);
  CHECK(s3.thread != caller);

  std::promise<Seen> p4;
  f.store->expungeAsync("alice", id, {1}, false, [&](Result<ExpungeResult> r) {
    Seen s{std::this_thread::get_id(), false, r.error()};
    if (r.ok()) s.visible = r->expunged == std::vector<uint32_t>{1} && f.uidsOf("INBOX") == std::vector<uint32_t>{2};
    p4.set_value(s);
  });
  auto s4 = wait(p4);
  CHECK(s4.error.ok());
  CHECK(s4.visible);

  // Refused arguments: answered at once, on the caller's thread.
  std::thread::id refused_on;
  Error refused;
  AppendArgs bad = a;
  bad.user = "";
  f.store->appendAsync(bad, [&](Result<AppendResult> r) {
    refused_on = std::this_thread::get_id();
    refused = r.error();
  });
  CHECK(refused_on == caller);
  CHECK(refused.code == ErrorCode::kBadArgs);

  // A closed store: kUnavailable at once, nothing queued.
  f.store->close();
  refused = {};
  refused_on = {};
  f.store->storeFlagsAsync(sf, [&](Result<StoreFlagsResult> r) {
    refused_on = std::this_thread::get_id();
    refused = r.error();
  });
  CHECK(refused_on == caller);
  CHECK(refused.code == ErrorCode::kUnavailable);
}

TEST_CASE("store flags: add/remove/replace; modseq only moves on a real change") {
  Fixture f;
  f.append("INBOX", "1\r\n");
  f.append("INBOX", "2\r\n", flag::kSeen);
  uint32_t id = f.mailboxId("INBOX");
  uint64_t hms = f.store->getMailbox("alice", "INBOX")->highestmodseq;

  StoreFlagsArgs s;
  s.user = "alice";
  s.mailbox_id = id;
  s.uids = {1, 2, 99};
  s.op = FlagOp::kAdd;
  s.flags = flag::kSeen;
  auto r = f.store->storeFlags(s);
  REQUIRE(r.ok());
  REQUIRE(r->changed.size() == 1);  // uid 2 already \Seen, 99 absent
  CHECK(r->changed[0].uid == 1);
  CHECK(r->changed[0].flags == flag::kSeen);
  CHECK(r->changed[0].modseq == hms + 1);
  auto mb = f.store->getMailbox("alice", "INBOX");
  CHECK(mb->highestmodseq == hms + 1);
  CHECK(mb->unseen == 0);

  // The same again changes nothing and bumps nothing.
  r = f.store->storeFlags(s);
  REQUIRE(r.ok());
  CHECK(r->changed.empty());
  CHECK(f.store->getMailbox("alice", "INBOX")->highestmodseq == hms + 1);

  s.op = FlagOp::kRemove;
  s.uids = {2};
  r = f.store->storeFlags(s);
  REQUIRE(r->changed.size() == 1);
  CHECK(r->changed[0].flags == 0);
  CHECK(r->changed[0].modseq == hms + 2);
  CHECK(f.store->getMailbox("alice", "INBOX")->unseen == 1);

  s.op = FlagOp::kReplace;
  s.uids = {1, 2};
  s.flags = flag::kDeleted | flag::kAnswered;
  r = f.store->storeFlags(s);
  REQUIRE(r->changed.size() == 2);
  CHECK(r->changed[0].flags == (flag::kDeleted | flag::kAnswered));
  CHECK(r->changed[1].flags == (flag::kDeleted | flag::kAnswered));
  CHECK(f.store->getMailbox("alice", "INBOX")->unseen == 2);

  SUBCASE("unchanged_since skips messages modified later") {
    uint64_t now = f.store->getMailbox("alice", "INBOX")->highestmodseq;
    s.op = FlagOp::kAdd;
    s.flags = flag::kFlagged;
    s.uids = {1};
    REQUIRE(f.store->storeFlags(s)->changed.size() == 1);  // uid 1 now at now+1
    s.uids = {1, 2};
    s.flags = flag::kDraft;
    s.unchanged_since = now;
    r = f.store->storeFlags(s);
    REQUIRE(r->changed.size() == 1);
    CHECK(r->changed[0].uid == 2);
  }
  SUBCASE("wrong user or mailbox id") {
    s.user = "nobody";
    CHECK(f.store->storeFlags(s).error().code == ErrorCode::kNotFound);
    REQUIRE(f.store->addUser("bob", "pw").ok());
    s.user = "bob";  // alice's mailbox id is not bob's
    CHECK(f.store->storeFlags(s).error().code == ErrorCode::kNotFound);
  }
}

TEST_CASE("keywords map into the mailbox table, case-insensitively, at most 59") {
  Fixture f;
  auto r1 = f.append("INBOX", "1\r\n", 0, {"$Junk"});
  f.append("INBOX", "2\r\n");
  uint32_t id = f.mailboxId("INBOX");
  StoreFlagsArgs s;
  s.user = "alice";
  s.mailbox_id = id;
  s.uids = {2};
  s.op = FlagOp::kAdd;
  s.keywords = {"work", "$junk"};
  auto r = f.store->storeFlags(s);
  REQUIRE(r.ok());
  CHECK(r->keywords == std::vector<std::string>{"$Junk", "work"});
  REQUIRE(r->changed.size() == 1);
  CHECK(r->changed[0].flags == (3u << flag::kKeywordBase));
  CHECK(f.store->getMailbox("alice", "INBOX")->keywords == r->keywords);

  s.op = FlagOp::kRemove;
  s.keywords = {"WORK", "never-seen"};
  r = f.store->storeFlags(s);
  REQUIRE(r->changed.size() == 1);
  CHECK(r->changed[0].flags == (1u << flag::kKeywordBase));
  CHECK(r->keywords.size() == 2);  // removal does not grow the table

  s.op = FlagOp::kAdd;
  s.keywords = {"bad keyword"};
  CHECK(f.store->storeFlags(s).error().code == ErrorCode::kBadArgs);
  s.keywords = {"\\Seen"};
  CHECK(f.store->storeFlags(s).error().code == ErrorCode::kBadArgs);

  std::vector<std::string> many;
  for (int i = 0; i < 57; i++) many.push_back("k" + std::to_string(i));
  s.keywords = many;  // 2 + 57 = 59: exactly full
  r = f.store->storeFlags(s);
  REQUIRE(r.ok());
  CHECK(r->keywords.size() == 59);
  CHECK(((r->changed[0].flags >> 63) & 1) == 1);
  s.keywords = {"one-too-many"};
  CHECK(f.store->storeFlags(s).error().code == ErrorCode::kLimit);
  CHECK(f.store->getMailbox("alice", "INBOX")->keywords.size() == 59);
  (void)r1;
}

TEST_CASE("expunge: only_deleted, uid lists, all") {
  Fixture f;
  for (int i = 1; i <= 5; i++) f.append("INBOX", "m" + std::to_string(i) + "\r\n", i % 2 ? flag::kDeleted : 0);
  uint32_t id = f.mailboxId("INBOX");
  uint64_t hms = f.store->getMailbox("alice", "INBOX")->highestmodseq;
  auto r = f.store->expunge("alice", id, {}, true);
  REQUIRE(r.ok());
  CHECK(r->expunged == std::vector<uint32_t>{1, 3, 5});
  CHECK(r->modseq == hms + 1);
  auto mb = f.store->getMailbox("alice", "INBOX");
  CHECK(mb->messages == 2);
  CHECK(mb->size == 8);
  r = f.store->expunge("alice", id, {}, true);
  CHECK(r->expunged.empty());
  CHECK(r->modseq == hms + 1);
  r = f.store->expunge("alice", id, {4, 3, 77}, false);
  CHECK(r->expunged == std::vector<uint32_t>{4});
  CHECK(f.body(id, 4).error().code == ErrorCode::kExpunged);
  CHECK(f.body(id, 2).value() == "m2\r\n");
  r = f.store->expunge("alice", id, {}, false);
  CHECK(r->expunged == std::vector<uint32_t>{2});
  CHECK(f.store->getMailbox("alice", "INBOX")->messages == 0);
  CHECK(f.store->getMailbox("alice", "INBOX")->uidnext == 6);
}

TEST_CASE("copy and move share bodies by reference") {
  Fixture f;
  REQUIRE(f.store->createMailbox("alice", "Dest").ok());
  f.append("INBOX", "first\r\n", flag::kSeen, {"$Label1"});
  f.append("INBOX", "second\r\n");
  f.append("INBOX", "third\r\n");
  uint32_t in = f.mailboxId("INBOX"), dest = f.mailboxId("Dest");
  f.append("Dest", "already\r\n", 0, {"other"});

  auto c = f.store->copy("alice", in, {2, 1, 42}, "Dest", false);
  REQUIRE(c.ok());
  CHECK(c->uidvalidity == f.store->getMailbox("alice", "Dest")->uidvalidity);
  CHECK(c->source_uids == std::vector<uint32_t>{1, 2});
  CHECK(c->dest_uids == std::vector<uint32_t>{2, 3});
  auto d = f.store->selectMailbox("alice", "Dest");
  CHECK(d->mailbox.keywords == std::vector<std::string>{"other", "$Label1"});
  CHECK(d->messages[1].flags == (flag::kSeen | (2u << flag::kKeywordBase)));  // remapped bit
  CHECK(d->mailbox.messages == 3);
  CHECK(d->mailbox.unseen == 2);

  // Expunging the source leaves the copies readable (refcounted body).
  REQUIRE(f.store->expunge("alice", in, {1, 2}, false).ok());
  CHECK(f.body(dest, 2).value() == "first\r\n");
  CHECK(f.body(dest, 3).value() == "second\r\n");

  auto m = f.store->copy("alice", in, {3}, "Dest", true);
  REQUIRE(m.ok());
  CHECK(m->dest_uids == std::vector<uint32_t>{4});
  CHECK(f.store->getMailbox("alice", "INBOX")->messages == 0);
  CHECK(f.body(in, 3).error().code == ErrorCode::kExpunged);
  CHECK(f.body(dest, 4).value() == "third\r\n");

  CHECK(f.store->copy("alice", in, {1}, "Nope", false).error().code == ErrorCode::kNotFound);
  CHECK(f.store->copy("alice", 9999, {1}, "Dest", false).error().code == ErrorCode::kNotFound);

  // Once every reference is gone, the body is gone: nothing leaks.
  REQUIRE(f.store->expunge("alice", dest, {}, false).ok());
  f.store->close();
  CHECK(dbEntries(f.dir.path, keys::kDbBodies) == 0);
  CHECK(dbEntries(f.dir.path, keys::kDbBodyRefs) == 0);
}

TEST_CASE("deliver: one transaction, per-user results") {
  Fixture f;
  REQUIRE(f.store->addUser("bob", "pw").ok());
  REQUIRE(f.store->createMailbox("bob", "Lists").ok());
  uint64_t commits = f.store->commitCount();
  auto res = f.store->deliver({"alice", "ghost", "BOB", "bad name"}, "", "Subject: hi\r\n\r\nyo\r\n");
  REQUIRE(res.size() == 4);
  CHECK(res[0].ok());
  CHECK(res[1].code == ErrorCode::kNotFound);
  CHECK(res[2].ok());
  CHECK(res[3].code == ErrorCode::kNotFound);
  CHECK(f.store->commitCount() == commits + 1);
  CHECK(f.store->getMailbox("alice", "INBOX")->messages == 1);
  CHECK(f.store->getMailbox("bob", "INBOX")->messages == 1);
  CHECK(f.body(f.mailboxId("INBOX"), 1).value() == "Subject: hi\r\n\r\nyo\r\n");

  // Named folder, with fallback to INBOX where it does not exist.
  res = f.store->deliver({"alice", "bob"}, "Lists", "x\r\n");
  CHECK(res[0].ok());
  CHECK(res[1].ok());
  CHECK(f.store->getMailbox("alice", "INBOX")->messages == 2);
  CHECK(f.store->getMailbox("bob", "Lists")->messages == 1);

  // The shared body survives one recipient's expunge.
  REQUIRE(f.store->expunge("alice", f.mailboxId("INBOX"), {1}, false).ok());
  std::string got;
  f.store->fetchBodies("bob", f.mailboxId("INBOX", "bob"), {1}, [&](uint32_t, Result<std::string> b) {
    got = b.ok() ? *b : "";
    return true;
  });
  CHECK(got == "Subject: hi\r\n\r\nyo\r\n");
}

TEST_CASE("a corrupted body yields kCorrupt for that uid only") {
  Fixture f;
  f.append("INBOX", "good one\r\n");
  f.append("INBOX", "CORRUPT-ME please\r\n");
  f.append("INBOX", "good two\r\n");
  uint32_t id = f.mailboxId("INBOX");
  f.store->close();
  // Flip one byte of the stored body behind the engine's back.
  REQUIRE(rewriteBodies(f.dir.path, [](std::string& val) {
            if (val.find("CORRUPT-ME") == std::string::npos) return false;
            val[val.size() - 3] ^= 0x20;
            return true;
          }) == 1);
  f.store = openEngine(f.dir.path);
  std::vector<std::pair<uint32_t, Error>> seen;
  std::vector<std::string> bodies;
  auto e = f.store->fetchBodies("alice", id, {1, 2, 3, 4}, [&](uint32_t uid, Result<std::string> b) {
    seen.emplace_back(uid, b.error());
    bodies.push_back(b.ok() ? *b : "");
    return true;
  });
  REQUIRE(e.ok());
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].second.ok());
  CHECK(bodies[0] == "good one\r\n");
  CHECK(seen[1].second.code == ErrorCode::kCorrupt);
  CHECK(seen[2].second.ok());
  CHECK(bodies[2] == "good two\r\n");
  CHECK(seen[3].second.code == ErrorCode::kExpunged);

  // posternctl verify finds exactly the damaged one, with user, mailbox, uid.
  auto report = f.store->verify("");
  REQUIRE(report.ok());
  CHECK(report->checked == 3);
  REQUIRE(report->damaged.size() == 1);
  CHECK(report->damaged[0].user == "alice");
  CHECK(report->damaged[0].mailbox == "INBOX");
  CHECK(report->damaged[0].uid == 2);
  CHECK(report->damaged[0].reason == "body checksum mismatch");
  auto one = f.store->verify("alice");
  REQUIRE(one.ok());
  CHECK(one->damaged.size() == 1);
  CHECK(f.store->verify("nobody").error().code == ErrorCode::kNotFound);

  // on_body returning false stops the stream.
  int calls = 0;
  f.store->fetchBodies("alice", id, {1, 3}, [&](uint32_t, Result<std::string>) { return ++calls < 1; });
  CHECK(calls == 1);
  CHECK(f.store->fetchBodies("alice", 12345, {1}, [](uint32_t, Result<std::string>) { return true; }).code ==
        ErrorCode::kNotFound);
}

namespace {

// uid -> header block (or the error) of a header-only read.
std::map<uint32_t, Result<std::string>> headers(StoreEngine& s, uint32_t id, const std::vector<uint32_t>& uids) {
  std::map<uint32_t, Result<std::string>> out;
  auto e = s.fetchMessages("alice", id, uids, true, [&](uint32_t uid, Result<StoreEngine::Fetched> m) {
    out.emplace(uid, m.ok() ? Result<std::string>(m->body) : Result<std::string>(m.error()));
    return true;
  }, true);
  REQUIRE(e.ok());
  return out;
}

}  // namespace

TEST_CASE("bodies: header-only reads check the header block's own checksum; version 1 bodies still read") {
  Fixture f;
  f.append("INBOX", "Subject: one\r\n\r\nbody one BREAK-BODY\r\n");
  f.append("INBOX", "Subject: BREAK-HEAD\r\n\r\nbody two\r\n");
  f.append("INBOX", "\r\nno header at all\r\n");
  f.append("INBOX", "Subject: no empty line\r\n");
  f.append("INBOX", "Subject: old\r\n\r\nold body V1\r\n");
  f.append("INBOX", "Subject: older\r\n\r\nolder body V2\r\n");
  uint32_t id = f.mailboxId("INBOX");
  auto h = headers(*f.store, id, {1, 2, 3, 4, 5});
  CHECK(*h.at(1) == "Subject: one\r\n\r\n");
  CHECK(*h.at(3) == "\r\n");
  CHECK(*h.at(4) == "Subject: no empty line\r\n");
  f.store->close();
  // Damage the body of 1 (after its header block) and the header of 2;
  // rewrite 5 as a version 1 body (version, crc32, bytes).
  REQUIRE(rewriteBodies(f.dir.path, [](std::string& val) {
            REQUIRE(uint8_t(val[0]) == keys::kBodyVersion);
            if (size_t p = val.find("BREAK-"); p != std::string::npos) {
              val[p] = 'b';
              return true;
            }
            auto zcrc = [](std::string_view d) {
              return keys::be32(uint32_t(crc32(0, reinterpret_cast<const Bytef*>(d.data()), uInt(d.size()))));
            };
            if (val.find("V1") != std::string::npos) {
              std::string data = val.substr(keys::kBodyHeader);
              val = std::string(1, char(keys::kBodyVersion1)) + zcrc(data) + data;
              return true;
            }
            if (val.find("V2") != std::string::npos) {  // version 2: the same layout, zlib's crc32
              std::string data = val.substr(keys::kBodyHeader);
              uint32_t hlen = keys::getBe32(val.data() + 5);
              val = std::string(1, char(keys::kBodyVersion2)) + zcrc(data) + keys::be32(hlen) +
                    zcrc(std::string_view(data).substr(0, hlen)) + data;
              return true;
            }
            return false;
          }) == 4);
  f.store = openEngine(f.dir.path);
  h = headers(*f.store, id, {1, 2, 3, 4, 5});
  CHECK(*h.at(1) == "Subject: one\r\n\r\n");  // the damage is not in the header block
  CHECK(h.at(2).error().code == ErrorCode::kCorrupt);
  INFO(std::string(h.at(5).ok() ? "" : h.at(5).error().message));
  CHECK(*h.at(5) == "Subject: old\r\n\r\n");
  CHECK(f.body(id, 1).error().code == ErrorCode::kCorrupt);  // a full read checks it all
  CHECK(f.body(id, 2).error().code == ErrorCode::kCorrupt);
  CHECK(*f.body(id, 5) == "Subject: old\r\n\r\nold body V1\r\n");
  CHECK(*headers(*f.store, id, {6}).at(6) == "Subject: older\r\n\r\n");
  CHECK(*f.body(id, 6) == "Subject: older\r\n\r\nolder body V2\r\n");
  auto report = f.store->verify("alice");
  REQUIRE(report.ok());
  CHECK(report->damaged.size() == 2);
  // A header length past the end of the body is damage, not a crash.
  f.store->close();
  REQUIRE(rewriteBodies(f.dir.path, [](std::string& val) {
            if (val.find("no empty line") == std::string::npos) return false;
            val[5] = char(0x7f);
            return true;
          }) == 1);
  f.store = openEngine(f.dir.path);
  h = headers(*f.store, id, {4});
  CHECK(h.at(4).error().code == ErrorCode::kCorrupt);
}

TEST_CASE("fetchMessages: without the body, the IMAP renderings kept at delivery; the structure for older bodies") {
  Fixture f;
  const std::string msg = "From: a@b.c\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n"
                          "--Q\r\nContent-Type: text/plain\r\n\r\nhello\r\n--Q--\r\n";
  f.append("INBOX", msg);
  REQUIRE(f.store->deliver({"alice"}, "", msg)[0].ok());
  uint32_t id = f.mailboxId("INBOX");
  auto fetch = [&](bool with_body) {
    std::vector<StoreEngine::Fetched> out;
    REQUIRE(f.store->fetchMessages("alice", id, {1, 2}, with_body, [&](uint32_t, Result<StoreEngine::Fetched> m) {
      REQUIRE(m.ok());
      out.push_back(std::move(*m));
      return true;
    }).ok());
    REQUIRE(out.size() == 2);
    return out;
  };
  for (const auto& m : fetch(false)) {  // appended and delivered alike
    CHECK(m.imap == imap::renderAll(mime::parse(msg)));
    CHECK(m.structure.empty());
    CHECK(m.body.empty());
  }
  // Only the renderings asked for travel.
  REQUIRE(f.store->fetchMessages("alice", id, {1}, false, [&](uint32_t, Result<StoreEngine::Fetched> m) {
    REQUIRE(m.ok());
    auto r = imap::parseRendered(m->imap);
    REQUIRE(r.has_value());
    CHECK(r->envelope == imap::envelope(mime::parse(msg)));
    CHECK(r->bodystructure.empty());
    CHECK(r->body.empty());
    return true;
  }, false, imap::kRenderedEnvelope).ok());
  for (const auto& m : fetch(true)) {
    CHECK(m.imap.empty());
    CHECK(m.body == msg);
    CHECK_FALSE(m.structure.empty());
  }
  // Bodies stored before renderings were kept: the structure comes instead.
  f.store->close();
  withStoreTxn(f.dir.path, true, [](MDB_txn* t) { REQUIRE(mdb_drop(t, openDb(t, keys::kDbImap), 0) == 0); });
  f.store = openEngine(f.dir.path);
  for (const auto& m : fetch(false)) {
    CHECK(m.imap.empty());
    CHECK(m.body.empty());
    auto s = mime::deserialise(m.structure);
    REQUIRE(s.ok());
    CHECK(imap::bodyStructure(*s, true) == imap::bodyStructure(mime::parse(msg), true));
  }
  // The renderings go with the body when its last message goes.
  f.append("INBOX", msg);
  REQUIRE(f.store->expunge("alice", id, {}, false).ok());
  f.store->close();
  for (const char* name : {keys::kDbImap, keys::kDbBodies, keys::kDbStructures})
    CHECK_MESSAGE(dbEntries(f.dir.path, name) == 0, name);
  f.store = openEngine(f.dir.path);
}

TEST_CASE("fetchMessages: groups of messages in order, header blocks, stop anywhere") {
  Fixture f;
  // More than one group (kFetchGroup messages), with expunged uids between.
  const size_t n = StoreEngine::kFetchGroup * 2 + 7;
  for (size_t i = 1; i <= n; ++i)
    f.append("INBOX", i % 3 == 0 ? "\r\nno header " + std::to_string(i) + "\r\n"
                      : i % 3 == 1 ? "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n\r\nmore\r\n"
                                   : "Subject: no body " + std::to_string(i) + "\r\n");
  uint32_t id = f.mailboxId("INBOX");
  REQUIRE(f.store->expunge("alice", id, {5, StoreEngine::kFetchGroup + 1}, false).ok());
  std::vector<uint32_t> uids;
  for (uint32_t u = 1; u <= n + 2; ++u) uids.push_back(u);
  for (bool header_only : {false, true}) {
    std::vector<uint32_t> seen;
    auto e = f.store->fetchMessages("alice", id, uids, true, [&](uint32_t uid, Result<StoreEngine::Fetched> m) {
      seen.push_back(uid);
      if (uid == 5 || uid == StoreEngine::kFetchGroup + 1 || uid > n) {
        CHECK(m.error().code == ErrorCode::kExpunged);
        return true;
      }
      REQUIRE(m.ok());
      std::string i = std::to_string(uid);
      std::string whole = uid % 3 == 0 ? "\r\nno header " + i + "\r\n"
                          : uid % 3 == 1 ? "Subject: " + i + "\r\n\r\nbody\r\n\r\nmore\r\n"
                                         : "Subject: no body " + i + "\r\n";
      CHECK(m->body == (header_only ? StoreClient::headerBlock(whole) : whole));
      CHECK(m->structure.empty() == header_only);  // header-only reads read no structure
      return true;
    }, header_only);
    REQUIRE(e.ok());
    CHECK(seen == uids);
  }
  // Stopping in the middle of a group stops at once.
  size_t calls = 0;
  f.store->fetchMessages("alice", id, uids, false, [&](uint32_t, Result<StoreEngine::Fetched>) {
    return ++calls < StoreEngine::kFetchGroup + 3;
  });
  CHECK(calls == StoreEngine::kFetchGroup + 3);
}

TEST_CASE("\\Recent: each uid is claimed by exactly one caller") {
  Fixture f;
  f.append("INBOX", "one\r\n");
  f.append("INBOX", "two\r\n");
  uint32_t id = f.mailboxId("INBOX");
  CHECK(f.store->getMailbox("alice", "INBOX")->recent == 2);  // STATUS RECENT
  auto a = f.store->claimRecent("alice", id);
  REQUIRE(a.ok());
  CHECK(*a == std::make_pair(1u, 3u));
  CHECK(f.store->getMailbox("alice", "INBOX")->recent == 0);
  auto b = f.store->claimRecent("alice", id);
  REQUIRE(b.ok());
  CHECK(b->first == b->second);  // nothing left
  f.append("INBOX", "three\r\n");
  auto c = f.store->claimRecent("alice", id);
  REQUIRE(c.ok());
  CHECK(*c == std::make_pair(3u, 4u));
  CHECK(f.store->claimRecent("alice", 9999).error().code == ErrorCode::kNotFound);
}

TEST_CASE("\\Recent: a claim writes nothing; claims are saved by persistRecent() and close()") {
  Fixture f;
  f.append("INBOX", "one\r\n");
  f.append("INBOX", "two\r\n");
  uint32_t id = f.mailboxId("INBOX");
  uint64_t commits = f.store->commitCount();
  auto a = f.store->claimRecent("alice", id);
  REQUIRE(a.ok());
  CHECK(*a == std::make_pair(1u, 3u));
  CHECK(f.store->commitCount() == commits);  // in memory only
  CHECK(f.store->getMailbox("alice", "INBOX")->recent == 0);
  REQUIRE(f.store->persistRecent().ok());
  CHECK(f.store->commitCount() == commits + 1);
  auto b = f.store->claimRecent("alice", id);  // from the record now
  REQUIRE(b.ok());
  CHECK(b->first == b->second);
  f.append("INBOX", "three\r\n");
  auto c = f.store->claimRecent("alice", id);
  REQUIRE(c.ok());
  CHECK(*c == std::make_pair(3u, 4u));
  // A clean close saves the claim of "three"; nothing is recent after reopening.
  f.store->close();
  f.store = openEngine(f.dir.path);
  CHECK(f.store->getMailbox("alice", "INBOX")->recent == 0);
  auto d = f.store->claimRecent("alice", id);
  REQUIRE(d.ok());
  CHECK(d->first == d->second);
  // A claim on a mailbox deleted before it is saved does not stop the save.
  REQUIRE(f.store->createMailbox("alice", "Gone").ok());
  f.append("Gone", "x\r\n");
  REQUIRE(f.store->claimRecent("alice", f.mailboxId("Gone")).ok());
  REQUIRE(f.store->deleteMailbox("alice", "Gone").ok());
  f.append("INBOX", "four\r\n");
  REQUIRE(f.store->claimRecent("alice", id).ok());
  REQUIRE(f.store->persistRecent().ok());
  f.store->close();
  f.store = openEngine(f.dir.path);
  CHECK(f.store->getMailbox("alice", "INBOX")->recent == 0);
}

TEST_CASE("\\Recent: more mailboxes with claims than kept queue a save, also from the writer's own claim") {
  TempDir dir;
  EngineOptions o = testOptions(dir.path);
  o.recent_kept = 2;
  auto store = openWithAlice(o);
  AppendArgs a;
  a.user = "alice";
  a.body = "x\r\n";
  std::vector<uint32_t> ids;
  for (const char* name : {"A", "B"}) {
    REQUIRE(store->createMailbox("alice", name).ok());
    a.mailbox = name;
    REQUIRE(store->append(a).ok());
    ids.push_back(store->getMailbox("alice", name)->id);
    REQUIRE(store->claimRecent("alice", ids.back()).ok());  // two kept: no save yet
  }
  // APPEND's claim runs on the writer thread (appendAsync's done) and makes
  // three: it must queue the save, not wait for the writer (itself).
  uint64_t commits = store->commitCount();
  a.mailbox = "INBOX";
  a.claim_recent = true;
  auto fut = std::async(std::launch::async, [&] { return store->append(a); });
  REQUIRE(fut.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  auto r = fut.get();
  REQUIRE(r.ok());
  CHECK(r->recent_from == 1);
  CHECK(r->recent_to == 2);
  // The append's commit, then the queued save's.
  for (int i = 0; i < 2000 && store->commitCount() < commits + 2; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(store->commitCount() == commits + 2);
  for (uint32_t id : ids) CHECK(store->claimRecent("alice", id)->first == store->claimRecent("alice", id)->second);
  store->close();
  store = openEngine(o);
  CHECK(store->getMailbox("alice", "A")->recent == 0);
  CHECK(store->getMailbox("alice", "INBOX")->recent == 0);
}

TEST_CASE("\\Recent: a claim up to a uid; APPEND claims for the appending session") {
  Fixture f;
  f.append("INBOX", "one\r\n");
  f.append("INBOX", "two\r\n");
  f.append("INBOX", "three\r\n");
  uint32_t id = f.mailboxId("INBOX");
  // SELECT's snapshot knew uids 1-2 only: 3 stays for whoever hears of it.
  auto a = f.store->claimRecent("alice", id, 3);
  REQUIRE(a.ok());
  CHECK(*a == std::make_pair(1u, 3u));
  auto b = f.store->claimRecent("alice", id, 2);  // below what is claimed: nothing
  REQUIRE(b.ok());
  CHECK(b->first == b->second);
  auto c = f.store->claimRecent("alice", id, 100);  // beyond uidnext: up to uidnext
  REQUIRE(c.ok());
  CHECK(*c == std::make_pair(3u, 4u));
  f.append("INBOX", "four\r\n");  // nobody claims it
  AppendArgs args;
  args.user = "alice";
  args.mailbox = "INBOX";
  args.body = "five\r\n";
  args.claim_recent = true;
  uint64_t commits = f.store->commitCount();
  auto r = f.store->append(args);
  REQUIRE(r.ok());
  CHECK(r->uid == 5);
  CHECK(f.store->commitCount() == commits + 1);  // the claim writes nothing
  CHECK(std::make_pair(r->recent_from, r->recent_to) == std::make_pair(4u, 6u));  // 4 unclaimed, 5 its own
  auto d = f.store->claimRecent("alice", id);
  REQUIRE(d.ok());
  CHECK(d->first == d->second);
  // Without claim_recent an APPEND claims nothing.
  args.claim_recent = false;
  args.body = "six\r\n";
  r = f.store->append(args);
  REQUIRE(r.ok());
  CHECK(r->recent_from == r->recent_to);
  auto e = f.store->claimRecent("alice", id);
  REQUIRE(e.ok());
  CHECK(*e == std::make_pair(6u, 7u));
  // What another session claimed meanwhile is not claimed again.
  args.claim_recent = true;
  args.body = "eight\r\n";
  f.append("INBOX", "seven\r\n");
  CHECK(*f.store->claimRecent("alice", id) == std::make_pair(7u, 8u));
  r = f.store->append(args);
  REQUIRE(r.ok());
  CHECK(std::make_pair(r->recent_from, r->recent_to) == std::make_pair(8u, 9u));
}
