// The gRPC store client against the real service, served in-process: body
// streams (packed renderings, pauses, the early end) from the loop thread.
#include "store_client_grpc.h"

#include <map>
#include <thread>

#include "bodystructure.h"
#include "mime/mime.h"
#include "served.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {

std::string message(int i) {
  return "Subject: s" + std::to_string(i) + "\r\nContent-Type: text/plain\r\n\r\nbody " + std::to_string(i) + "\r\n";
}

void append(Served& s, const std::string& user, int i) {
  AppendArgs a;
  a.user = user;
  a.mailbox = "INBOX";
  a.body = message(i);
  REQUIRE(s.engine->append(a).ok());
}

struct Got {
  std::vector<uint32_t> uids;
  std::map<uint32_t, Result<StoreClient::Fetched>> by_uid;
  int done_calls = 0;
  size_t answered_at_done = 0;
  Error done_error;
};

}  // namespace

TEST_CASE("grpc store client: structure-only fetch of many messages, paused and resumed, done once after the last") {
  Served s;
  REQUIRE(s.engine->addUser("alice", "pw").ok());
  const int n = 700;  // several stream messages (read groups of 256)
  for (int i = 1; i <= n; i++) append(s, "alice", i);
  const uint32_t mb = s.engine->getMailbox("alice", "INBOX")->id;
  REQUIRE(s.engine->expunge("alice", mb, {7, 300}, false).ok());

  EventLoop loop;
  auto client = makeGrpcStoreClient(loop, s.target, 64 << 20);
  std::vector<uint32_t> asked;
  for (uint32_t u = 1; u <= uint32_t(n) + 1; u++) asked.push_back(u);
  Got got;
  std::shared_ptr<BodyStream> stream;
  loop.post([&] {
    stream = client->fetchMessages(
        "alice", mb, asked, false,
        [&](uint32_t uid, Result<StoreClient::Fetched> m) {
          CHECK(got.done_calls == 0);
          got.uids.push_back(uid);
          got.by_uid.emplace(uid, std::move(m));
          if (got.uids.size() % 150 != 0) return true;
          loop.after(std::chrono::milliseconds(5), [&] { stream->resume(); });  // a slow client
          return false;
        },
        [&](Error e) {
          got.done_calls++;
          got.answered_at_done = got.uids.size();
          got.done_error = e;
          loop.after(std::chrono::milliseconds(100), [&] { loop.stop(); });  // nothing more may come
        },
        imap::kRenderedBodyStructure);
  });
  loop.after(std::chrono::seconds(20), [&] { loop.stop(); });
  loop.run();
  CHECK(got.done_calls == 1);
  CHECK(got.done_error.ok());
  CHECK(got.answered_at_done == asked.size());
  REQUIRE(got.uids == asked);
  for (uint32_t u : asked) {
    CAPTURE(u);
    auto& r = got.by_uid.at(u);
    if (u == 7 || u == 300 || u > uint32_t(n)) {
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::kExpunged);
      continue;
    }
    REQUIRE(r.ok());
    CHECK(r->body.empty());
    auto parsed = imap::parseRendered(r->imap);
    REQUIRE(parsed.has_value());
    CHECK(parsed->bodystructure == imap::bodyStructure(mime::parse(message(int(u))), true));
    CHECK(parsed->envelope.empty());
  }
}

TEST_CASE("grpc store client: bodies of a few messages; done right after the last one") {
  Served s;
  REQUIRE(s.engine->addUser("alice", "pw").ok());
  for (int i = 1; i <= 3; i++) append(s, "alice", i);
  const uint32_t mb = s.engine->getMailbox("alice", "INBOX")->id;
  EventLoop loop;
  auto client = makeGrpcStoreClient(loop, s.target, 64 << 20);
  std::vector<std::string> events;
  std::shared_ptr<BodyStream> stream;
  loop.post([&] {
    stream = client->fetchBodies(
        "alice", mb, {3, 1}, [&](uint32_t uid, Result<std::string> b) {
          REQUIRE(b.ok());
          CHECK(*b == message(int(uid)));
          events.push_back("body " + std::to_string(uid));
          if (uid == 1) loop.post([&] { events.push_back("next turn"); });
          return true;
        },
        [&](Error e) {
          CHECK(e.ok());
          events.push_back("done");
          loop.after(std::chrono::milliseconds(100), [&] { loop.stop(); });
        });
  });
  loop.after(std::chrono::seconds(20), [&] { loop.stop(); });
  loop.run();
  // Done as soon as the last uid asked for is answered, in the same turn: not
  // after the stream's status, one more hop from gRPC's thread later.
  CHECK(events == std::vector<std::string>{"body 3", "body 1", "done", "next turn"});
}

TEST_CASE("grpc store client: the change feed carries the users a select holds, until unwatch") {
  Served s;
  for (const char* u : {"alice", "bob"}) REQUIRE(s.engine->addUser(u, "pw").ok());
  EventLoop loop;
  auto client = makeGrpcStoreClient(loop, s.target, 64 << 20);
  std::vector<std::string> seen;
  int resyncs = 0;
  uint64_t watcher = 0;
  std::thread writer;
  loop.post([&] {
    client->watch(
        [&](const std::vector<Change>& cs) {
          for (const auto& c : cs) seen.push_back(c.user + " " + std::to_string(c.meta.uid));
        },
        [&] { resyncs++; });
    // Before the feed is up: the select holds nothing, and the sessions are
    // told to resync once it is.
    client->selectMailbox("alice", "INBOX", false, [&](Result<SelectedMailbox> r) {
      REQUIRE(r.ok());
      CHECK(r->watcher == 0);
    });
    loop.after(std::chrono::milliseconds(300), [&] {
      CHECK(resyncs == 1);
      client->selectMailbox("alice", "INBOX", false, [&](Result<SelectedMailbox> r) {
        REQUIRE(r.ok());
        watcher = r->watcher;
        CHECK(watcher != 0);
        writer = std::thread([&] {
          append(s, "alice", 1);
          append(s, "bob", 1);
          append(s, "alice", 2);
        });
        loop.after(std::chrono::milliseconds(300), [&] {
          CHECK(seen == std::vector<std::string>{"alice 1", "alice 2"});
          client->unwatch("alice", watcher, 1);
          loop.after(std::chrono::milliseconds(200), [&] {
            writer.join();
            writer = std::thread([&] { append(s, "alice", 3); });
            loop.after(std::chrono::milliseconds(300), [&] { loop.stop(); });
          });
        });
      });
    });
  });
  loop.after(std::chrono::seconds(20), [&] { loop.stop(); });
  loop.run();
  if (writer.joinable()) writer.join();
  // The feed's reader posts to the loop until its stream ends: end it while
  // the loop still exists.
  s.stop();
  CHECK(resyncs == 1);
  CHECK(seen == std::vector<std::string>{"alice 1", "alice 2"});  // not bob's, nor alice's after unwatch
}
