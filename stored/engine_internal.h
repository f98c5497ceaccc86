#pragma once
// Private to the store engine's .cc files: LMDB handles, record helpers and
// the read-transaction guard.
#include <lmdb.h>

#include <future>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "error.h"
#include "keys.h"
#include "records.pb.h"
#include "store_engine.h"

namespace postern::stored {

struct EngineDbs {
  MDB_dbi meta = 0, users = 0, mailboxes = 0, mbox_ids = 0, messages = 0, bodies = 0, body_refs = 0,
          structures = 0, imap = 0, text = 0;
};

// A read-only transaction; holds the engine's env lock so close() waits.
class StoreEngine::Reader {
 public:
  explicit Reader(StoreEngine* e);
  ~Reader();
  const Error& error() const { return err_; }
  MDB_txn* txn() const { return txn_; }
  const EngineDbs& dbs() const { return *e_->dbs_; }
  // The record of `name` (canonicalised first): kBadArgs for a bad name,
  // kNotFound for none, the transaction's error if it could not begin.
  Result<records::User> user(std::string_view name) const;

 private:
  StoreEngine* e_;
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
  Error err_;
};

namespace detail {

using Dbs = EngineDbs;
namespace rec = postern::stored::records;

Error lmdbError(int rc, std::string_view what);
inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

// Raw access. get: found -> true, absent -> false.
Result<bool> getRaw(MDB_txn* t, MDB_dbi db, std::string_view key, std::string_view* out);
Error putRaw(MDB_txn* t, MDB_dbi db, std::string_view key, std::string_view value);
Error delRaw(MDB_txn* t, MDB_dbi db, std::string_view key);  // absent is OK

// Point reads of (mostly) ascending keys through one cursor: LMDB's MDB_SET
// first looks at the leaf page the cursor is on, so a run of neighbouring
// keys costs a binary search in that page, not a descent from the root each
// (mdb_get always descends). For the per-message loops of FETCH and SEARCH.
class SeqReader {
 public:
  SeqReader(MDB_txn* t, MDB_dbi db);
  ~SeqReader();
  SeqReader(const SeqReader&) = delete;
  SeqReader& operator=(const SeqReader&) = delete;
  Result<bool> get(std::string_view key, std::string_view* out);
  template <typename M>
  Result<bool> getRec(std::string_view key, M* m) {
    std::string_view v;
    auto r = get(key, &v);
    if (!r.ok() || !*r) return r;
    if (!m->ParseFromArray(v.data(), int(v.size()))) return Error{ErrorCode::kCorrupt, "unparsable record"};
    return true;
  }

 private:
  MDB_cursor* c_ = nullptr;
  Error err_;
  bool next_hits_ = false;  // the cursor sits on the last key found: try MDB_NEXT first
};

template <typename M>
Result<bool> getRec(MDB_txn* t, MDB_dbi db, std::string_view key, M* m) {
  std::string_view v;
  auto r = getRaw(t, db, key, &v);
  if (!r.ok() || !*r) return r;
  if (!m->ParseFromArray(v.data(), int(v.size()))) return Error{ErrorCode::kCorrupt, "unparsable record"};
  return true;
}
template <typename M>
Error putRec(MDB_txn* t, MDB_dbi db, std::string_view key, const M& m) {
  return putRaw(t, db, key, m.SerializeAsString());
}

// Increments meta counter `name` and returns the new value.
Result<uint64_t> nextCounter(MDB_txn* t, const Dbs& d, std::string_view name);

Result<rec::User> loadUser(MDB_txn* t, const Dbs& d, const std::string& canonical);
Result<rec::Mailbox> loadMailbox(MDB_txn* t, const Dbs& d, uint32_t user_id, const std::string& name);
// The mailbox `mailbox_id`, only if it belongs to `user_id` (else kNotFound).
Result<rec::Mailbox> loadMailboxById(MDB_txn* t, const Dbs& d, uint32_t user_id, uint32_t mailbox_id);
Error saveMailbox(MDB_txn* t, const Dbs& d, const rec::Mailbox& mb);
// New mailbox record (fresh id and UIDVALIDITY); kExists when present.
Result<rec::Mailbox> createMailboxRec(MDB_txn* t, const Dbs& d, uint32_t user_id, const std::string& name);
MailboxInfo toInfo(const rec::Mailbox& mb);

// Bodies. addBody stores the bytes with refcount `refs`, and beside them
// what BodyExtras holds (each when not empty).
struct BodyExtras {
  std::string structure;  // mime::serialise() form
  std::string imap;       // imap::renderAll() form
  std::string text;       // db "text" value: header + mime::buildSearchText()
};
// Parses `body` once (outside the writer thread) for addBody.
BodyExtras bodyExtras(std::string_view body);
Result<uint64_t> addBody(MDB_txn* t, const Dbs& d, std::string_view data, uint32_t refs,
                         const BodyExtras& extras = {});
Error changeRef(MDB_txn* t, const Dbs& d, uint64_t body_id, int delta);  // removes at 0
uint32_t checksum(std::string_view data);  // zlib crc32: body versions 1 and 2
// The message bytes of a stored body value (keys.h, db "bodies"), checked:
// all of them, or with header_only and a version-2 body only the header
// block, which is then all that is returned. kCorrupt for a bad value or a
// checksum mismatch.
Result<std::string_view> checkedBody(std::string_view value, bool header_only);

// Inserts `msg` with uid mb->uidnext++ and updates the counters; returns the uid.
Result<uint32_t> insertMessage(MDB_txn* t, const Dbs& d, rec::Mailbox* mb, const rec::Message& msg);
// Deletes one message, updates counters, drops its body reference.
Error removeMessage(MDB_txn* t, const Dbs& d, rec::Mailbox* mb, uint32_t uid, const rec::Message& msg);
// Every message of a mailbox in uid order.
Error forEachMessage(MDB_txn* t, const Dbs& d, uint32_t mailbox_id,
                     const std::function<Error(uint32_t uid, const rec::Message&)>& fn);
MessageMeta toMeta(uint32_t uid, const rec::Message& m);

// Maps keyword names into mb's table (adding new ones when `add`), returns the bits.
// kLimit when the table is full, kBadArgs for an invalid keyword.
Result<uint64_t> keywordBits(rec::Mailbox* mb, const std::vector<std::string>& keywords, bool add,
                             bool* grew);

inline bool isInbox(std::string_view name) { return name == "INBOX"; }

// Runs `start(done)` and waits for `done`'s value: the waiting form of an
// ...Async engine call.
template <class T, class Start>
T waitFor(Start start) {
  std::promise<T> p;
  auto fut = p.get_future();
  start([&p](T v) { p.set_value(std::move(v)); });
  return fut.get();
}

}  // namespace detail
}  // namespace postern::stored
