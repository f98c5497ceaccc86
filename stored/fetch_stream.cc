#include "fetch_stream.h"

#include <algorithm>

#include "service_errors.h"

namespace postern::stored {

namespace pb = postern::store::v1;

FetchStream::FetchStream(StoreEngine* engine, const pb::FetchBodiesRequest& req)
    : engine_(engine),
      user_(req.user()),
      mailbox_id_(req.mailbox_id()),
      uids_(req.uids().begin(), req.uids().end()),
      chunk_size_(req.chunk_size() == 0 ? kDefaultChunk : std::clamp<uint32_t>(req.chunk_size(), 1024, kMaxChunk)),
      // Several chunks per stream message (first inline, the rest in `more`)
      // so that small messages do not each cost a write and a wake-up.
      batch_max_(req.max_batch_bytes() == 0 ? 0 : std::clamp<uint32_t>(req.max_batch_bytes(), 1024, kMaxBatch)),
      with_body_(!req.structure_only()),
      with_structure_(req.with_structure() || req.structure_only()),
      header_only_(req.header_only()),
      imap_parts_(req.imap_parts() == 0 ? imap::kRenderedAll : req.imap_parts()),
      packed_(req.packed() && req.structure_only()) {
  if (packed_ && batch_max_ == 0) batch_max_ = kDefaultPackedBatch;
}

const pb::BodyChunk* FetchStream::next(bool* last) {
  if (packed_) return nextPacked(last);
  // The previous batch has been sent: its chunks go with the arena (no
  // malloc / free per chunk: a FETCH of BODYSTRUCTURE sends 100,000 small ones).
  batch_ = nullptr;
  batch_bytes_ = 0;
  arena_.Reset();
  emit();
  *last = !more();
  return batch_;
}

const pb::BodyChunk* FetchStream::nextPacked(bool* last) {
  batch_ = nullptr;
  arena_.Reset();
  *last = true;
  if (pos_ >= uids_.size()) return nullptr;
  batch_ = google::protobuf::Arena::CreateMessage<pb::BodyChunk>(&arena_);
  std::string* out = batch_->mutable_packed();
  // Every entry goes in whole, so a batch ends at most one rendering past
  // batch_max_ (a rendering is bounded by its message's size).
  auto full = [&] { return out->size() >= batch_max_; };
  while (pos_ < uids_.size() && !full()) {
    if (!mailbox_error_.ok()) {
      packError(out, uids_[pos_], mailbox_error_);
      pos_++;
      continue;
    }
    bool slow = false;
    Error e = engine_->readRenderings(user_, mailbox_id_, uids_, &pos_, &slow,
                                      [&](uint32_t uid, Result<imap::Rendered> r) {
                                        if (!r.ok()) {
                                          logged("fetch-body", user_, r.error());
                                          packError(out, uid, r.error());
                                        } else {
                                          packed::appendHeader(*out, uid, packed::Kind::kRendered,
                                                               uint32_t(imap::selectedSize(*r, imap_parts_)));
                                          imap::appendSelected(*out, *r, imap_parts_);
                                        }
                                        return !full();
                                      });
    if (!e.ok()) {
      logged("fetch-bodies", user_, e);
      mailbox_error_ = e;
    } else if (slow) {
      packSlow(out);
    }
  }
  *last = pos_ >= uids_.size();
  return batch_;
}

void FetchStream::packSlow(std::string* out) {
  const uint32_t uid = uids_[pos_++];
  bool answered = false;
  Error e = engine_->fetchMessages(
      user_, mailbox_id_, {uid}, false,
      [&](uint32_t, Result<StoreEngine::Fetched> m) {
        answered = true;
        if (!m.ok()) {
          logged("fetch-body", user_, m.error());
          packError(out, uid, m.error());
        } else if (!m->imap.empty()) {
          packed::append(*out, uid, packed::Kind::kRendered, m->imap);
        } else {
          packed::append(*out, uid, packed::Kind::kStructure, m->structure);
        }
        return true;
      },
      false, imap_parts_);
  if (!e.ok()) {
    logged("fetch-bodies", user_, e);
    mailbox_error_ = e;
  }
  if (!answered) packError(out, uid, e.ok() ? Error{ErrorCode::kExpunged, "no such message"} : e);
}

void FetchStream::packError(std::string* out, uint32_t uid, const Error& e) {
  pb::Error pe;
  setError(&pe, e);
  packed::appendError(*out, uid, uint32_t(pe.code()), pe.message());
}

bool FetchStream::refill() {
  if (pos_ >= uids_.size()) return false;
  if (!mailbox_error_.ok()) {
    // The mailbox is unusable: every uid left gets its error, a group at a time.
    size_t end = std::min(uids_.size(), pos_ + StoreEngine::kFetchGroup);
    for (; pos_ < end; pos_++) ready_.emplace_back(uids_[pos_], mailbox_error_);
    return true;
  }
  // One group: at most kFetchGroup uids, and the engine's group also ends
  // after kFetchGroupBytes; stopping there reads nothing twice.
  size_t end = std::min(uids_.size(), pos_ + StoreEngine::kFetchGroup);
  std::vector<uint32_t> slice(uids_.begin() + long(pos_), uids_.begin() + long(end));
  size_t bytes = 0;
  Error e = engine_->fetchMessages(
      user_, mailbox_id_, slice, with_body_,
      [&](uint32_t uid, Result<StoreEngine::Fetched> m) {
        if (m.ok()) bytes += m->body.size() + m->structure.size() + m->imap.size();
        ready_.emplace_back(uid, std::move(m));
        pos_++;
        return bytes < StoreEngine::kFetchGroupBytes;
      },
      header_only_, imap_parts_);
  if (!e.ok()) {
    logged("fetch-bodies", user_, e);
    mailbox_error_ = e;
    if (ready_.empty()) return refill();
  }
  return true;
}

pb::BodyChunk* FetchStream::chunk() {
  if (!batch_) return batch_ = google::protobuf::Arena::CreateMessage<pb::BodyChunk>(&arena_);
  return batch_->add_more();
}

bool FetchStream::filled(const pb::BodyChunk& c) {
  batch_bytes_ += cost(c.data().size() + c.structure().size() + c.imap().size());
  return batch_max_ != 0 && batch_bytes_ < batch_max_;
}

bool FetchStream::emit() {
  for (;;) {
    if (ready_.empty() && !refill()) return true;
    auto& [uid, msg] = ready_.front();
    if (!msg.ok()) {
      if (!room(msg.error().message.size())) return false;
      if (msg.error().code != mailbox_error_.code || msg.error().message != mailbox_error_.message)
        logged("fetch-body", user_, msg.error());
      pb::BodyChunk* c = chunk();
      c->set_uid(uid);
      setError(c->mutable_error(), msg.error());
      c->set_last(true);
      ready_.pop_front();
      offset_ = 0;
      if (!filled(*c)) return false;
      continue;
    }
    StoreEngine::Fetched& f = *msg;
    const std::string& data = f.body;  // cut to the header block by the engine when header_only
    bool done = false;
    do {
      size_t n = std::min<size_t>(chunk_size_, data.size() - offset_);
      if (!room(n + (offset_ == 0 ? f.structure.size() + f.imap.size() : 0))) return false;
      pb::BodyChunk* c = chunk();
      c->set_uid(uid);
      if (offset_ == 0 && with_structure_) {
        c->set_structure(std::move(f.structure));
        c->set_imap(std::move(f.imap));
      }
      c->set_total_size(data.size());
      c->set_offset(offset_);
      c->set_data(data.data() + offset_, n);
      offset_ += n;
      done = offset_ >= data.size();
      c->set_last(done);
      if (done) {
        ready_.pop_front();  // f and data are gone from here on
        offset_ = 0;
      }
      if (!filled(*c)) return false;
    } while (!done);
  }
}

}  // namespace postern::stored
