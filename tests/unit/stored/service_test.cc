// The gRPC service served in-process on a unix socket in a temp dir.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "store_service.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;
namespace v1 = postern::store::v1;

namespace {

struct Served {
  TempDir dir;
  std::unique_ptr<StoreEngine> engine = openEngine(dir.path);
  StoreService service{engine.get()};
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::Store::Stub> stub;

  Served() {
    std::string target = "unix:" + dir.path + "/stored.sock";
    grpc::ServerBuilder b;
    b.AddListeningPort(target, grpc::InsecureServerCredentials());
    b.RegisterService(&service);
    server = b.BuildAndStart();
    REQUIRE(server != nullptr);
    stub = v1::Store::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  ~Served() { stop(); }
  void stop() {
    if (!server) return;
    service.shutdown();
    engine->changes().close();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server->Wait();
    server.reset();
  }
};

}  // namespace

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
