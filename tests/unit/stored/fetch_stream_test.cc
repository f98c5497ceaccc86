// FetchStream: FetchBodies' response cut into batches, one per next().
#include "fetch_stream.h"

#include <map>

#include "bodystructure.h"
#include "mime/mime.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;
namespace v1 = postern::store::v1;

namespace {

// Every chunk of every batch until the end, with the batch it came in.
struct Drained {
  struct Piece {
    size_t batch;
    v1::BodyChunk chunk;
  };
  std::vector<Piece> pieces;
  size_t batches = 0;
  bool last_only_at_end = true;
};

Drained drain(FetchStream& s) {
  Drained d;
  for (size_t guard = 0; guard < 100000; guard++) {
    bool last = false;
    const v1::BodyChunk* b = s.next(&last);
    if (!b) {
      CHECK(last);
      break;
    }
    d.batches++;
    v1::BodyChunk first = *b;
    first.clear_more();
    d.pieces.push_back({d.batches, first});
    for (const auto& m : b->more()) d.pieces.push_back({d.batches, m});
    if (last) {
      bool again = false;
      CHECK(s.next(&again) == nullptr);  // nothing after the last
      CHECK(again);
      break;
    }
  }
  return d;
}

// Bodies put back together per uid; every uid's chunks contiguous and in order.
std::map<uint32_t, std::string> assemble(const Drained& d, std::vector<uint32_t>* order) {
  std::map<uint32_t, std::string> out;
  uint32_t current = 0;
  bool open = false;
  for (const auto& p : d.pieces) {
    const auto& c = p.chunk;
    if (!open) {
      current = c.uid();
      order->push_back(current);
      CHECK(c.offset() == 0);
    }
    CHECK(c.uid() == current);
    CHECK(c.offset() == out[current].size());
    out[current] += c.data();
    open = !c.last();
  }
  CHECK_FALSE(open);
  return out;
}

std::string bodyOf(int i, size_t size) {
  std::string b = "Subject: m" + std::to_string(i) + "\r\n\r\n";
  while (b.size() < size) b += char('a' + (b.size() * 7 + i) % 26);
  return b;
}

}  // namespace

TEST_CASE("fetch stream: many messages batched, across read groups, in order") {
  Fixture f;
  const int n = int(StoreEngine::kFetchGroup) * 2 + 50;  // three read groups
  for (int i = 0; i < n; i++) f.append("INBOX", bodyOf(i, 200 + i % 300));
  v1::FetchBodiesRequest req;
  req.set_user("alice");
  req.set_mailbox_id(f.mailboxId("INBOX"));
  for (int i = n; i >= 1; i--) req.add_uids(uint32_t(i));  // any order the client asks
  req.set_max_batch_bytes(8192);
  FetchStream s(f.store.get(), req);
  auto d = drain(s);
  std::vector<uint32_t> order;
  auto bodies = assemble(d, &order);
  REQUIRE(order.size() == size_t(n));
  for (int i = 0; i < n; i++) {
    CHECK(order[size_t(i)] == uint32_t(n - i));
    CHECK(bodies[uint32_t(i + 1)] == bodyOf(i, 200 + i % 300));
  }
  // Batched: far fewer stream messages than messages, none far over the limit.
  CHECK(d.batches < size_t(n) / 10);
  std::map<size_t, size_t> per_batch;
  for (const auto& p : d.pieces) per_batch[p.batch] += p.chunk.data().size() + 32;
  for (auto& [b, bytes] : per_batch) CHECK(bytes <= 8192);
}

TEST_CASE("fetch stream: a large message spans batches and resumes at its offset") {
  Fixture f;
  f.append("INBOX", bodyOf(1, 1000));
  const std::string big = bodyOf(2, 300000);
  f.append("INBOX", big);
  f.append("INBOX", bodyOf(3, 1000));
  v1::FetchBodiesRequest req;
  req.set_user("alice");
  req.set_mailbox_id(f.mailboxId("INBOX"));
  req.add_uids(1);
  req.add_uids(2);
  req.add_uids(3);
  req.set_chunk_size(16384);
  req.set_max_batch_bytes(50000);
  FetchStream s(f.store.get(), req);
  auto d = drain(s);
  std::vector<uint32_t> order;
  auto bodies = assemble(d, &order);
  CHECK(order == std::vector<uint32_t>{1, 2, 3});
  CHECK(bodies[2] == big);
  CHECK(bodies[1] == bodyOf(1, 1000));
  CHECK(bodies[3] == bodyOf(3, 1000));
  CHECK(d.batches >= 300000 / 50000);
  for (const auto& p : d.pieces) {
    CHECK(p.chunk.data().size() <= 16384);
    if (p.chunk.uid() == 2) CHECK(p.chunk.total_size() == big.size());
  }
}

TEST_CASE("fetch stream: one chunk per stream message without a batch size; structure on the first") {
  Fixture f;
  f.append("INBOX", bodyOf(1, 40000));
  v1::FetchBodiesRequest req;
  req.set_user("alice");
  req.set_mailbox_id(f.mailboxId("INBOX"));
  req.add_uids(1);
  req.set_chunk_size(16384);
  req.set_with_structure(true);
  FetchStream s(f.store.get(), req);
  auto d = drain(s);
  REQUIRE(d.pieces.size() == 3);
  CHECK(d.batches == 3);
  CHECK_FALSE(d.pieces[0].chunk.structure().empty());
  CHECK(d.pieces[1].chunk.structure().empty());
  CHECK(d.pieces[2].chunk.last());
}

TEST_CASE("fetch stream: per-uid errors in place; an unusable mailbox gives every uid its error") {
  Fixture f;
  f.append("INBOX", bodyOf(1, 500));
  f.append("INBOX", bodyOf(2, 500));
  v1::FetchBodiesRequest req;
  req.set_user("alice");
  req.set_mailbox_id(f.mailboxId("INBOX"));
  req.add_uids(1);
  req.add_uids(77);
  req.add_uids(2);
  req.set_max_batch_bytes(65536);
  {
    FetchStream s(f.store.get(), req);
    auto d = drain(s);
    REQUIRE(d.pieces.size() == 3);
    CHECK(d.batches == 1);
    CHECK(d.pieces[1].chunk.uid() == 77);
    CHECK(d.pieces[1].chunk.error().code() == v1::EXPUNGED);
    CHECK(d.pieces[1].chunk.last());
    CHECK(d.pieces[2].chunk.data() == bodyOf(2, 500));
  }
  req.set_mailbox_id(9999);
  req.clear_uids();
  for (uint32_t u = 1; u <= 600; u++) req.add_uids(u);
  FetchStream s(f.store.get(), req);
  auto d = drain(s);
  REQUIRE(d.pieces.size() == 600);
  for (size_t i = 0; i < d.pieces.size(); i++) {
    CHECK(d.pieces[i].chunk.uid() == i + 1);
    CHECK(d.pieces[i].chunk.error().code() == v1::NOT_FOUND);
  }
  FetchStream empty(f.store.get(), v1::FetchBodiesRequest{});
  bool last = false;
  CHECK(empty.next(&last) == nullptr);
  CHECK(last);
}

namespace {

// Every entry of a packed stream, with the batch it came in.
struct PackedEntry {
  size_t batch;
  packed::Entry entry;
};

std::vector<PackedEntry> drainPacked(FetchStream& s, std::vector<std::string>* storage, size_t* batches) {
  std::vector<PackedEntry> out;
  *batches = 0;
  for (size_t guard = 0; guard < 100000; guard++) {
    bool last = false;
    const v1::BodyChunk* b = s.next(&last);
    if (!b) break;
    ++*batches;
    CHECK(b->more_size() == 0);
    CHECK(b->uid() == 0);
    storage->push_back(b->packed());  // entries point into it
    const std::string& p = storage->back();
    size_t at = 0;
    while (at < p.size()) {
      auto e = packed::next(p, &at);
      REQUIRE(e.has_value());
      out.push_back({*batches, *e});
    }
    if (last) break;
  }
  return out;
}

}  // namespace

TEST_CASE("fetch stream packed: renderings of many messages per batch, in order, errors and older bodies in place") {
  Fixture f;
  const int n = int(StoreEngine::kFetchGroup) * 2 + 10;  // three read groups
  auto body = [](int i) {
    if (i % 4 == 0)
      return "Subject: m" + std::to_string(i) + "\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
             "Content-Type: text/plain\r\n\r\nx\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>y</p>\r\n--B--\r\n";
    return bodyOf(i, 300 + size_t(i) % 200);
  };
  for (int i = 1; i <= n; i++) f.append("INBOX", body(i));
  const uint32_t id = f.mailboxId("INBOX");
  REQUIRE(f.store->expunge("alice", id, {3, uint32_t(StoreEngine::kFetchGroup) + 2}, false).ok());
  // uid 9 lost its renderings (a body stored before they were kept), uid 11's are damaged.
  f.store->close();
  withStoreTxn(f.dir.path, true, [](MDB_txn* t) {
    MDB_cursor* c = nullptr;
    REQUIRE(mdb_cursor_open(t, openDb(t, keys::kDbImap), &c) == 0);
    MDB_val k, v;
    int removed = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
      if (std::string_view(static_cast<char*>(v.mv_data), v.mv_size).find("\"m9\"") != std::string_view::npos) {
        REQUIRE(mdb_cursor_del(c, 0) == 0);
        removed++;
      }
    mdb_cursor_close(c);
    REQUIRE(removed == 1);
  });
  CHECK(rewriteValues(f.dir.path, keys::kDbImap, [](std::string& v) {
          if (v.find("\"m11\"") == std::string::npos) return false;
          v = "not a rendering";
          return true;
        }) == 1);
  f.store = openEngine(f.dir.path);

  for (uint32_t parts : {uint32_t(imap::kRenderedBodyStructure), uint32_t(imap::kRenderedAll)}) {
    CAPTURE(parts);
    v1::FetchBodiesRequest req;
    req.set_user("alice");
    req.set_mailbox_id(id);
    req.set_structure_only(true);
    req.set_packed(true);
    req.set_imap_parts(parts);
    req.set_max_batch_bytes(4096);
    // In order, then a few out of order (the store's cursor searches for those).
    std::vector<uint32_t> asked;
    for (uint32_t u = 1; u <= uint32_t(n) + 1; u++) asked.push_back(u);
    for (uint32_t u : {40u, 12u, 300u, 2u, 9u}) asked.push_back(u);
    for (uint32_t u : asked) req.add_uids(u);
    FetchStream s(f.store.get(), req);
    std::vector<std::string> storage;
    size_t batches = 0;
    auto got = drainPacked(s, &storage, &batches);
    REQUIRE(got.size() == asked.size());
    CHECK(batches > 5);
    std::map<size_t, size_t> per_batch;
    for (size_t i = 0; i < got.size(); i++) {
      const packed::Entry& e = got[i].entry;
      const uint32_t uid = asked[i];
      CAPTURE(uid);
      CHECK(e.uid == uid);
      per_batch[got[i].batch] += packed::kHeaderSize + e.data.size() + e.message.size();
      if (uid == 3 || uid == StoreEngine::kFetchGroup + 2 || uid > uint32_t(n)) {
        REQUIRE(e.kind == packed::Kind::kError);
        CHECK(e.code == uint32_t(v1::EXPUNGED));
        continue;
      }
      const mime::Structure want = mime::parse(body(int(uid)));
      if (uid == 9 || uid == 11) {  // the structure instead
        REQUIRE(e.kind == packed::Kind::kStructure);
        auto st = mime::deserialise(std::string(e.data));
        REQUIRE(st.ok());
        CHECK(imap::bodyStructure(*st, true) == imap::bodyStructure(want, true));
        continue;
      }
      REQUIRE(e.kind == packed::Kind::kRendered);
      auto r = imap::parseRendered(e.data);
      REQUIRE(r.has_value());
      CHECK(r->bodystructure == imap::bodyStructure(want, true));
      if (parts == imap::kRenderedAll) {
        CHECK(r->body == imap::bodyStructure(want, false));
        CHECK(r->envelope == imap::envelope(want));
      } else {
        CHECK(r->body.empty());
        CHECK(r->envelope.empty());
      }
    }
    // A batch ends at the first entry that reaches the size: at most one entry over it.
    for (auto& [b, bytes] : per_batch) CHECK(bytes < 4096 + 1024);
  }

  // An unusable mailbox: every uid its error, still batched.
  v1::FetchBodiesRequest req;
  req.set_user("alice");
  req.set_mailbox_id(9999);
  req.set_structure_only(true);
  req.set_packed(true);
  for (uint32_t u = 1; u <= 600; u++) req.add_uids(u);
  FetchStream s(f.store.get(), req);
  std::vector<std::string> storage;
  size_t batches = 0;
  auto got = drainPacked(s, &storage, &batches);
  REQUIRE(got.size() == 600);
  for (size_t i = 0; i < got.size(); i++) {
    CHECK(got[i].entry.uid == i + 1);
    CHECK(got[i].entry.kind == packed::Kind::kError);
    CHECK(got[i].entry.code == uint32_t(v1::NOT_FOUND));
  }
  FetchStream none(f.store.get(), [] {
    v1::FetchBodiesRequest r;
    r.set_structure_only(true);
    r.set_packed(true);
    return r;
  }());
  bool last = false;
  CHECK(none.next(&last) == nullptr);
  CHECK(last);
}
