// FetchStream: FetchBodies' response cut into batches, one per next().
#include "fetch_stream.h"

#include <map>

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
