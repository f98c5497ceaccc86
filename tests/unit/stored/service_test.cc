// The gRPC service served in-process on a unix socket in a temp dir.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "served.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;
namespace v1 = postern::store::v1;

TEST_CASE("service: users, append, chunked fetch with per-uid errors") {
  Served s;
  grpc::ClientContext c1;
  v1::AddUserRequest add;
  add.set_user("Alice");
  add.set_password("pw");
  v1::SimpleResponse sr;
  REQUIRE(s.stub->AddUser(&c1, add, &sr).ok());
  CHECK(sr.error().code() == v1::OK);

  grpc::ClientContext c2;
  v1::AuthenticateRequest auth;
  auth.set_user("ALICE");
  auth.set_password("nope");
  v1::AuthenticateResponse ar;
  REQUIRE(s.stub->Authenticate(&c2, auth, &ar).ok());
  CHECK(ar.error().code() == v1::AUTH_FAILED);

  std::string big(150000, 'x');
  for (size_t i = 0; i < big.size(); i += 100) big[i] = char('a' + (i / 100) % 26);
  grpc::ClientContext c3;
  v1::AppendRequest ap;
  ap.set_user("alice");
  ap.set_mailbox("INBOX");
  ap.set_body(big);
  ap.add_keywords("$Work");
  v1::AppendResponse apr;
  REQUIRE(s.stub->Append(&c3, ap, &apr).ok());
  REQUIRE(apr.error().code() == v1::OK);
  CHECK(apr.uid() == 1);

  grpc::ClientContext c4;
  v1::MailboxRequest mr;
  mr.set_user("alice");
  mr.set_name("inbox");
  v1::SelectMailboxResponse sel;
  REQUIRE(s.stub->SelectMailbox(&c4, mr, &sel).ok());
  CHECK(sel.mailbox().name() == "INBOX");
  REQUIRE(sel.messages().uid_size() == 1);
  CHECK(sel.messages().size(0) == big.size());
  CHECK(sel.messages().flags(0) == (1u << flag::kKeywordBase));
  CHECK(sel.mailbox().keywords(0) == "$Work");

  grpc::ClientContext c5;
  v1::FetchBodiesRequest fr;
  fr.set_user("alice");
  fr.set_mailbox_id(sel.mailbox().id());
  fr.add_uids(1);
  fr.add_uids(7);
  auto reader = s.stub->FetchBodies(&c5, fr);
  v1::BodyChunk ch;
  std::string got;
  int chunks = 0;
  std::vector<uint32_t> errors;
  while (reader->Read(&ch)) {
    if (ch.error().code() != v1::OK) {
      errors.push_back(ch.uid());
      CHECK(ch.error().code() == v1::EXPUNGED);
      continue;
    }
    CHECK(ch.offset() == got.size());
    CHECK(ch.total_size() == big.size());
    got += ch.data();
    chunks++;
    CHECK(ch.last() == (got.size() == big.size()));
  }
  CHECK(reader->Finish().ok());
  CHECK(chunks == 3);  // 64 KiB default chunks
  CHECK(got == big);
  CHECK(errors == std::vector<uint32_t>{7});

  // Batched: the same pieces in order, several per stream message.
  grpc::ClientContext c5b;
  fr.set_max_batch_bytes(256 * 1024);
  auto breader = s.stub->FetchBodies(&c5b, fr);
  std::string bgot;
  int pieces = 0, messages = 0;
  std::vector<uint32_t> berrors;
  while (breader->Read(&ch)) {
    messages++;
    std::vector<v1::BodyChunk> all{ch};
    for (const auto& m : ch.more()) all.push_back(m);
    all.front().clear_more();
    for (const auto& p : all) {
      CHECK(p.more_size() == 0);
      if (p.error().code() != v1::OK) {
        berrors.push_back(p.uid());
        continue;
      }
      CHECK(p.offset() == bgot.size());
      bgot += p.data();
      pieces++;
    }
  }
  CHECK(breader->Finish().ok());
  CHECK(pieces == 3);
  CHECK(messages == 1);
  CHECK(bgot == big);
  CHECK(berrors == std::vector<uint32_t>{7});

  grpc::ClientContext c6;
  v1::DeliverRequest dr;
  dr.add_users("alice");
  dr.add_users("ghost");
  dr.set_body("hi\r\n");
  v1::DeliverResponse dres;
  REQUIRE(s.stub->Deliver(&c6, dr, &dres).ok());
  REQUIRE(dres.results_size() == 2);
  CHECK(dres.results(0).code() == v1::OK);
  CHECK(dres.results(1).code() == v1::NOT_FOUND);
}

TEST_CASE("service: Watch streams committed changes and ends on shutdown") {
  Served s;
  REQUIRE(s.engine->addUser("alice", "pw").ok());
  grpc::ClientContext wc;
  auto watch = s.stub->Watch(&wc, v1::WatchRequest{});
  v1::ChangeBatch b;
  REQUIRE(watch->Read(&b));  // the empty "live" batch
  CHECK(b.changes_size() == 0);
  AppendArgs a;
  a.user = "alice";
  a.mailbox = "INBOX";
  a.body = "hello\r\n";
  REQUIRE(s.engine->append(a).ok());
  REQUIRE(watch->Read(&b));
  REQUIRE(b.changes_size() == 1);
  CHECK(b.changes(0).kind() == v1::NEW_MESSAGE);
  CHECK(b.changes(0).user() == "alice");
  CHECK(b.changes(0).uid() == 1);
  CHECK(b.changes(0).size() == 7);
  auto t0 = std::chrono::steady_clock::now();
  s.stop();  // must not hang on the open stream
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK_FALSE(watch->Read(&b));
  watch->Finish();
}

TEST_CASE("service: SelectMailbox and Append claim \\Recent in the same call when asked") {
  Served s;
  REQUIRE(s.engine->addUser("alice", "pw").ok());
  auto append = [&](const std::string& body, bool claim) {
    grpc::ClientContext c;
    v1::AppendRequest ap;
    ap.set_user("alice");
    ap.set_mailbox("INBOX");
    ap.set_body(body);
    ap.set_claim_recent(claim);
    v1::AppendResponse r;
    REQUIRE(s.stub->Append(&c, ap, &r).ok());
    REQUIRE(r.error().code() == v1::OK);
    return r;
  };
  auto select = [&](bool claim) {
    grpc::ClientContext c;
    v1::MailboxRequest mr;
    mr.set_user("alice");
    mr.set_name("INBOX");
    mr.set_claim_recent(claim);
    v1::SelectMailboxResponse r;
    REQUIRE(s.stub->SelectMailbox(&c, mr, &r).ok());
    REQUIRE(r.error().code() == v1::OK);
    return r;
  };
  append("one\r\n", false);
  append("two\r\n", false);
  auto e = select(false);  // EXAMINE: lists, claims nothing
  CHECK(e.messages().uid_size() == 2);
  CHECK(e.recent_from() == e.recent_to());
  auto a = select(true);
  CHECK(a.messages().uid_size() == 2);
  CHECK(a.recent_from() == 1);
  CHECK(a.recent_to() == 3);
  auto b = select(true);  // a second session: nothing left
  CHECK(b.recent_from() == b.recent_to());
  auto r = append("three\r\n", true);
  CHECK(r.uid() == 3);
  CHECK(r.recent_from() == 3);
  CHECK(r.recent_to() == 4);
  auto r2 = append("four\r\n", false);
  CHECK(r2.recent_from() == r2.recent_to());
  auto c = select(true);
  CHECK(c.recent_from() == 4);
  CHECK(c.recent_to() == 5);
}

TEST_CASE("service: concurrent writes on the async methods are each answered once, in commit order") {
  Served s;
  for (int u = 0; u < 4; u++) REQUIRE(s.engine->addUser("user" + std::to_string(u), "pw").ok());
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::vector<uint32_t>> got(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::string user = "user" + std::to_string(t % 4);  // two threads per user
      for (int i = 0; i < kEach; i++) {
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::AppendRequest ap;
        ap.set_user(user);
        ap.set_mailbox("INBOX");
        ap.set_body("Subject: " + std::to_string(t) + "/" + std::to_string(i) + "\r\n\r\nbody\r\n");
        v1::AppendResponse r;
        if (!s.stub->Append(&c, ap, &r).ok() || r.error().code() != v1::OK) failures++;
        else got[t].push_back(r.uid());
      }
    });
  }
  // Meanwhile messages over a megabyte: parsed on the offload threads.
  std::string big(1500000, 'b');
  for (size_t i = 0; i < big.size(); i += 80) big.replace(i, 2, "\r\n");
  big = "Subject: big\r\n\r\n" + big;
  REQUIRE(s.engine->addUser("bigone", "pw").ok());
  for (int i = 0; i < 3; i++) {
    grpc::ClientContext c;
    v1::AppendRequest ap;
    ap.set_user("bigone");
    ap.set_mailbox("INBOX");
    ap.set_body(big);
    v1::AppendResponse r;
    REQUIRE(s.stub->Append(&c, ap, &r).ok());
    CHECK(r.error().code() == v1::OK);
    CHECK(r.uid() == uint32_t(2 * i + 1));  // each append is followed by a delivery
    grpc::ClientContext c2;
    v1::DeliverRequest dr;
    dr.add_users("bigone");
    dr.set_body(big);
    v1::DeliverResponse drr;
    REQUIRE(s.stub->Deliver(&c2, dr, &drr).ok());
    REQUIRE(drr.results_size() == 1);
    CHECK(drr.results(0).code() == v1::OK);
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  auto bigbox = s.engine->getMailbox("bigone", "INBOX");
  REQUIRE(bigbox.ok());
  CHECK(bigbox->messages == 6);
  CHECK(bigbox->size == 6 * big.size());
  // Per user: 50 distinct uids 1..50, each thread's ascending.
  for (int u = 0; u < 4; u++) {
    std::vector<uint32_t> all;
    for (int t = u; t < kThreads; t += 4) {
      CHECK(std::is_sorted(got[t].begin(), got[t].end()));
      all.insert(all.end(), got[t].begin(), got[t].end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == 2 * kEach);
    for (size_t i = 0; i < all.size(); i++) CHECK(all[i] == i + 1);
  }

  // StoreFlags, Expunge and Deliver over the same path, errors included.
  auto mbox = s.engine->getMailbox("user0", "INBOX");
  REQUIRE(mbox.ok());
  grpc::ClientContext c1;
  v1::StoreFlagsRequest sf;
  sf.set_user("user0");
  sf.set_mailbox_id(mbox->id);
  for (uint32_t u = 1; u <= 10; u++) sf.add_uids(u);
  sf.set_op(v1::ADD);
  sf.set_flags(flag::kDeleted);
  v1::StoreFlagsResponse sfr;
  REQUIRE(s.stub->StoreFlags(&c1, sf, &sfr).ok());
  CHECK(sfr.error().code() == v1::OK);
  CHECK(sfr.changed().uid_size() == 10);
  grpc::ClientContext c2;
  v1::ExpungeRequest ex;
  ex.set_user("user0");
  ex.set_mailbox_id(mbox->id);
  ex.set_only_deleted(true);
  v1::ExpungeResponse exr;
  REQUIRE(s.stub->Expunge(&c2, ex, &exr).ok());
  CHECK(exr.error().code() == v1::OK);
  CHECK(exr.expunged_size() == 10);
  grpc::ClientContext c3;
  sf.set_user("no such user");
  REQUIRE(s.stub->StoreFlags(&c3, sf, &sfr).ok());
  CHECK(sfr.error().code() != v1::OK);
  grpc::ClientContext c4;
  v1::DeliverRequest dr;
  dr.add_users("user1");
  dr.add_users("ghost");
  dr.set_body("Subject: d\r\n\r\nd\r\n");
  v1::DeliverResponse drr;
  REQUIRE(s.stub->Deliver(&c4, dr, &drr).ok());
  REQUIRE(drr.results_size() == 2);
  CHECK(drr.results(0).code() == v1::OK);
  CHECK(drr.results(1).code() == v1::NOT_FOUND);
  CHECK(s.engine->getMailbox("user0", "INBOX")->messages == 40);
  CHECK(s.engine->getMailbox("user1", "INBOX")->messages == 51);
}

TEST_CASE("service: stopping with writes in flight answers or cancels each, and loses no answered write") {
  Served s;
  REQUIRE(s.engine->addUser("alice", "pw").ok());
  std::atomic<int> answered{0}, refused{0};
  std::vector<std::thread> threads;
  std::atomic<bool> go{true};
  for (int t = 0; t < 6; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200 && go; i++) {
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
        v1::AppendRequest ap;
        ap.set_user("alice");
        ap.set_mailbox("INBOX");
        ap.set_body("Subject: s\r\n\r\nx\r\n");
        v1::AppendResponse r;
        if (s.stub->Append(&c, ap, &r).ok() && r.error().code() == v1::OK) answered++;
        else refused++;
      }
    });
  }
  while (answered < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.stop();  // returns: every handed-over write answered, the threads joined
  go = false;
  for (auto& th : threads) th.join();
  CHECK(answered >= 20);
  // Every answered append is in the store (some unanswered ones may be too).
  auto mb = s.engine->getMailbox("alice", "INBOX");
  REQUIRE(mb.ok());
  CHECK(mb->messages >= uint64_t(answered.load()));
}

TEST_CASE("service: stopping while a FetchBodies stream waits for a slow client ends it cleanly") {
  Served s;
  REQUIRE(s.engine->addUser("alice", "pw").ok());
  // Larger than HTTP/2's flow-control windows can hold: the stream stalls.
  std::string big = "Subject: big\r\n\r\n" + std::string(40000000, 'z');
  AppendArgs a;
  a.user = "alice";
  a.mailbox = "INBOX";
  a.body = big;
  REQUIRE(s.engine->append(a).ok());
  grpc::ClientContext c;
  v1::FetchBodiesRequest fr;
  fr.set_user("alice");
  fr.set_mailbox_id(s.engine->getMailbox("alice", "INBOX")->id);
  fr.add_uids(1);
  fr.set_chunk_size(65536);  // ~600 stream messages; the client reads one
  auto reader = s.stub->FetchBodies(&c, fr);
  v1::BodyChunk b;
  REQUIRE(reader->Read(&b));
  CHECK(b.uid() == 1);
  auto t0 = std::chrono::steady_clock::now();
  s.stop();  // Shutdown's deadline cancels the stream; no operation after the queue's shutdown
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(15));
  size_t more = 0;
  while (reader->Read(&b)) more++;
  CHECK(more < 600);
  CHECK_FALSE(reader->Finish().ok());  // cut, not completed
}
