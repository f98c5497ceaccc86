#pragma once
// The response stream of FetchBodies, made one batch at a time: next()
// fills the next stream message (a BodyChunk, further chunks in its `more`)
// and says whether another follows. Between two calls nothing waits: the
// async service (async_calls.h) calls next() again when gRPC has sent the
// previous batch, so a slow client holds no thread and no read transaction.
//
// Messages are read through StoreEngine::fetchMessages one group at a time
// (at most kFetchGroup messages / kFetchGroupBytes, one read transaction)
// and kept here until sent: memory per stream is one group, one batch and
// the message being cut into chunks.
#include <google/protobuf/arena.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "fetch_packed.h"
#include "store.pb.h"
#include "store_engine.h"

namespace postern::stored {

class FetchStream {
 public:
  static constexpr uint32_t kDefaultChunk = 64 * 1024;
  static constexpr uint32_t kMaxChunk = 4 * 1024 * 1024;
  static constexpr uint32_t kMaxBatch = 1024 * 1024;
  static constexpr uint32_t kDefaultPackedBatch = 256 * 1024;

  // `engine` must outlive the stream; `req` is copied from as needed.
  FetchStream(StoreEngine* engine, const postern::store::v1::FetchBodiesRequest& req);

  // The next batch (owned by the stream, valid until the next call), or
  // nullptr when there is nothing (left) to send. *last is set when no
  // batch follows this one.
  const postern::store::v1::BodyChunk* next(bool* last);

 private:
  using Item = std::pair<uint32_t, Result<StoreEngine::Fetched>>;
  // Reads the next group into ready_ (or error items when the mailbox is
  // unusable). False when every uid has been read.
  bool refill();
  // next() of a packed stream (FetchBodiesRequest.packed): the renderings of
  // as many messages as fit in the batch, in BodyChunk.packed.
  const postern::store::v1::BodyChunk* nextPacked(bool* last);
  // Appends uids_[pos_] read through fetchMessages (no renderings kept: its
  // structure), advancing pos_.
  void packSlow(std::string* out);
  void packError(std::string* out, uint32_t uid, const Error& e);
  bool more() const { return !ready_.empty() || pos_ < uids_.size(); }
  // Cuts the front item into chunks while the batch has room; false when
  // the batch is full (the item stays, at offset_).
  bool emit();
  postern::store::v1::BodyChunk* chunk();  // the batch, or the next of its `more`
  // Counts a filled chunk; false when the batch is full now.
  bool filled(const postern::store::v1::BodyChunk& c);
  // What a chunk of `n` bytes of data, structure and renderings counts
  // against the batch size (the rest of the chunk: uid, offsets, framing).
  static size_t cost(size_t n) { return n + 32; }
  // Room in the batch for a chunk of `n` more bytes (an empty batch always has).
  bool room(size_t n) const { return !batch_ || (batch_max_ != 0 && batch_bytes_ + cost(n) <= batch_max_); }

  StoreEngine* engine_;
  std::string user_;
  uint32_t mailbox_id_ = 0;
  std::vector<uint32_t> uids_;
  uint32_t chunk_size_ = kDefaultChunk;
  size_t batch_max_ = 0;  // 0: one chunk per stream message
  bool with_body_ = true, with_structure_ = false, header_only_ = false;
  uint32_t imap_parts_ = 0;
  bool packed_ = false;

  size_t pos_ = 0;        // uids_ read so far
  Error mailbox_error_;   // the mailbox is unusable: every uid left gets it
  std::deque<Item> ready_;  // read, not sent yet
  size_t offset_ = 0;     // of ready_.front()'s data already sent
  google::protobuf::Arena arena_;
  postern::store::v1::BodyChunk* batch_ = nullptr;
  size_t batch_bytes_ = 0;
};

}  // namespace postern::stored
