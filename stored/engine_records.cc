// Record-level helpers shared by the engine's operations (engine_internal.h).
#include <zlib.h>

#include <ctime>

#include "crc32c.h"
#include "engine_internal.h"
#include "bodystructure.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "mime/search_text.h"

namespace postern::stored::detail {

Error lmdbError(int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  if (rc == MDB_MAP_FULL) code = ErrorCode::kOverQuota;  // the store is full
  else if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID) code = ErrorCode::kCorrupt;
  else if (rc == MDB_READERS_FULL || rc == MDB_TXN_FULL || rc == MDB_BAD_RSLOT) code = ErrorCode::kTemp;
  return Error{code, std::string(what) + ": " + mdb_strerror(rc)};
}

Result<bool> getRaw(MDB_txn* t, MDB_dbi db, std::string_view key, std::string_view* out) {
  MDB_val k = val(key), v{};
  int rc = mdb_get(t, db, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdbError(rc, "mdb_get");
  *out = view(v);
  return true;
}

SeqReader::SeqReader(MDB_txn* t, MDB_dbi db) {
  int rc = mdb_cursor_open(t, db, &c_);
  if (rc != 0) {
    c_ = nullptr;
    err_ = lmdbError(rc, "mdb_cursor_open");
  }
}

SeqReader::~SeqReader() {
  if (c_) mdb_cursor_close(c_);
}

Result<bool> SeqReader::get(std::string_view key, std::string_view* out) {
  if (!c_) return err_;
  MDB_val k{}, v{};
  if (next_hits_) {
    // Keys asked in order and stored next to each other (a mailbox's uids,
    // bodies delivered one after the other): the cursor's next entry is the
    // one, found without a search from the root.
    int rc = mdb_cursor_get(c_, &k, &v, MDB_NEXT);
    if (rc == 0 && view(k) == key) {
      *out = view(v);
      return true;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdbError(rc, "mdb_cursor_get");
  }
  k = val(key);
  int rc = mdb_cursor_get(c_, &k, &v, MDB_SET);
  // After a miss of the next entry the following lookup only searches:
  // lookups out of order cost one search and half a miss each, not two.
  next_hits_ = rc == 0 && !next_hits_;
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdbError(rc, "mdb_cursor_get");
  *out = view(v);
  return true;
}

Error putRaw(MDB_txn* t, MDB_dbi db, std::string_view key, std::string_view value) {
  MDB_val k = val(key), v = val(value);
  int rc = mdb_put(t, db, &k, &v, 0);
  return rc == 0 ? Error{} : lmdbError(rc, "mdb_put");
}

Error delRaw(MDB_txn* t, MDB_dbi db, std::string_view key) {
  MDB_val k = val(key);
  int rc = mdb_del(t, db, &k, nullptr);
  return rc == 0 || rc == MDB_NOTFOUND ? Error{} : lmdbError(rc, "mdb_del");
}

Result<uint64_t> nextCounter(MDB_txn* t, const Dbs& d, std::string_view name) {
  std::string_view v;
  auto r = getRaw(t, d.meta, name, &v);
  if (!r.ok()) return r.error();
  uint64_t n = 0;
  if (*r) {
    if (v.size() != 8) return Error{ErrorCode::kCorrupt, "bad meta counter " + std::string(name)};
    n = keys::getBe64(v.data());
  }
  ++n;
  if (auto e = putRaw(t, d.meta, name, keys::be64(n)); !e.ok()) return e;
  return n;
}

Result<rec::User> loadUser(MDB_txn* t, const Dbs& d, const std::string& canonical) {
  rec::User u;
  auto r = getRec(t, d.users, canonical, &u);
  if (!r.ok()) return r.error();
  if (!*r) return Error{ErrorCode::kNotFound, "no such user: " + canonical};
  return u;
}

Result<rec::Mailbox> loadMailbox(MDB_txn* t, const Dbs& d, uint32_t user_id, const std::string& name) {
  rec::Mailbox mb;
  auto r = getRec(t, d.mailboxes, keys::mailboxKey(user_id, name), &mb);
  if (!r.ok()) return r.error();
  if (!*r) return Error{ErrorCode::kNotFound, "no such mailbox: " + name};
  return mb;
}

Result<rec::Mailbox> loadMailboxById(MDB_txn* t, const Dbs& d, uint32_t user_id, uint32_t mailbox_id) {
  std::string_view v;
  auto r = getRaw(t, d.mbox_ids, keys::be32(mailbox_id), &v);
  if (!r.ok()) return r.error();
  if (!*r || v.size() < 4 || keys::getBe32(v.data()) != user_id)
    return Error{ErrorCode::kNotFound, "no such mailbox id " + std::to_string(mailbox_id)};
  return loadMailbox(t, d, user_id, std::string(v.substr(4)));
}

Error saveMailbox(MDB_txn* t, const Dbs& d, const rec::Mailbox& mb) {
  return putRec(t, d.mailboxes, keys::mailboxKey(mb.user_id(), mb.name()), mb);
}

Result<rec::Mailbox> createMailboxRec(MDB_txn* t, const Dbs& d, uint32_t user_id, const std::string& name) {
  std::string key = keys::mailboxKey(user_id, name);
  std::string_view existing;
  auto found = getRaw(t, d.mailboxes, key, &existing);
  if (!found.ok()) return found.error();
  if (*found) return Error{ErrorCode::kExists, "mailbox exists: " + name};
  auto id = nextCounter(t, d, keys::kMetaNextMailboxId);
  if (!id.ok()) return id.error();
  // UIDVALIDITY: the creation time, but strictly increasing across creates
  // so a mailbox re-created within the same second never reuses one.
  std::string_view last_v;
  auto lr = getRaw(t, d.meta, keys::kMetaLastUidValidity, &last_v);
  if (!lr.ok()) return lr.error();
  uint64_t last = (*lr && last_v.size() == 8) ? keys::getBe64(last_v.data()) : 0;
  uint64_t uv = std::max<uint64_t>(uint64_t(time(nullptr)), last + 1);
  if (uv > 0xffffffffull) uv = 1;  // after 2106, wrap (never 0)
  if (auto e = putRaw(t, d.meta, keys::kMetaLastUidValidity, keys::be64(uv)); !e.ok()) return e;
  rec::Mailbox mb;
  mb.set_id(uint32_t(*id));
  mb.set_user_id(user_id);
  mb.set_name(name);
  mb.set_uidvalidity(uint32_t(uv));
  mb.set_uidnext(1);
  mb.set_highestmodseq(1);
  if (auto e = saveMailbox(t, d, mb); !e.ok()) return e;
  if (auto e = putRaw(t, d.mbox_ids, keys::be32(mb.id()), keys::mailboxKey(user_id, name)); !e.ok()) return e;
  return mb;
}

MailboxInfo toInfo(const rec::Mailbox& mb) {
  MailboxInfo i;
  i.id = mb.id();
  i.name = mb.name();
  i.uidvalidity = mb.uidvalidity();
  i.uidnext = mb.uidnext();
  i.highestmodseq = mb.highestmodseq();
  i.messages = mb.messages();
  i.unseen = mb.unseen();
  i.recent = 0;
  i.keywords.assign(mb.keywords().begin(), mb.keywords().end());
  i.size = mb.size();
  return i;
}

uint32_t checksum(std::string_view data) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed in pieces so huge bodies are safe.
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t n = data.size();
  while (n > 0) {
    uInt chunk = uInt(std::min<size_t>(n, 1u << 30));
    c = crc32(c, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return uint32_t(c);
}

Result<std::string_view> checkedBody(std::string_view v, bool header_only) {
  const Error bad{ErrorCode::kCorrupt, "bad body header"};
  const Error mismatch{ErrorCode::kCorrupt, "body checksum mismatch"};
  if (v.empty()) return bad;
  if (uint8_t(v[0]) == keys::kBodyVersion1) {
    if (v.size() < keys::kBodyHeader1) return bad;
    std::string_view data = v.substr(keys::kBodyHeader1);
    if (keys::getBe32(v.data() + 1) != checksum(data)) return mismatch;
    return data;
  }
  const uint8_t version = uint8_t(v[0]);
  if ((version != keys::kBodyVersion && version != keys::kBodyVersion2) || v.size() < keys::kBodyHeader) return bad;
  auto sum = [version](std::string_view d) { return version == keys::kBodyVersion ? crc32c(d) : checksum(d); };
  std::string_view data = v.substr(keys::kBodyHeader);
  if (header_only) {
    uint32_t hlen = keys::getBe32(v.data() + 5);
    if (hlen > data.size()) return bad;
    std::string_view head = data.substr(0, hlen);
    if (keys::getBe32(v.data() + 9) != sum(head)) return mismatch;
    return head;
  }
  if (keys::getBe32(v.data() + 1) != sum(data)) return mismatch;
  return data;
}

BodyExtras bodyExtras(std::string_view body) {
  mime::Structure s = mime::parse(body);
  std::string text = mime::buildSearchText(body, s);
  auto st = mime::SearchText::parse(text);
  std::string value(1, char(keys::kTextVersion));
  keys::putBe32(&value, crc32c(st->filterBlock()));
  keys::putBe32(&value, crc32c(st->texts()));
  value += text;
  return BodyExtras{mime::serialise(s), imap::renderAll(s), std::move(value)};
}

Result<uint64_t> addBody(MDB_txn* t, const Dbs& d, std::string_view data, uint32_t refs, const BodyExtras& extras) {
  auto id = nextCounter(t, d, keys::kMetaNextBodyId);
  if (!id.ok()) return id.error();
  std::string key = keys::bodyKey(*id);
  MDB_val k = val(key), v{};
  v.mv_size = keys::kBodyHeader + data.size();
  // MDB_RESERVE: write the body straight into the map, no extra copy.
  int rc = mdb_put(t, d.bodies, &k, &v, MDB_RESERVE);
  if (rc != 0) return lmdbError(rc, "mdb_put body");
  auto* p = static_cast<char*>(v.mv_data);
  const size_t hlen = mime::headerBlockSize(data);
  std::string head;
  keys::putBe32(&head, crc32c(data));
  keys::putBe32(&head, uint32_t(hlen));
  keys::putBe32(&head, crc32c(data.substr(0, hlen)));
  p[0] = char(keys::kBodyVersion);
  memcpy(p + 1, head.data(), head.size());
  if (!data.empty()) memcpy(p + keys::kBodyHeader, data.data(), data.size());
  if (auto e = putRaw(t, d.body_refs, key, keys::be32(refs)); !e.ok()) return e;
  if (!extras.structure.empty())
    if (auto e = putRaw(t, d.structures, key, extras.structure); !e.ok()) return e;
  if (!extras.imap.empty())
    if (auto e = putRaw(t, d.imap, key, extras.imap); !e.ok()) return e;
  if (!extras.text.empty())
    if (auto e = putRaw(t, d.text, key, extras.text); !e.ok()) return e;
  return *id;
}

Error changeRef(MDB_txn* t, const Dbs& d, uint64_t body_id, int delta) {
  std::string key = keys::bodyKey(body_id);
  std::string_view v;
  auto r = getRaw(t, d.body_refs, key, &v);
  if (!r.ok()) return r.error();
  int64_t n = (*r && v.size() == 4) ? keys::getBe32(v.data()) : 0;
  n += delta;
  if (n <= 0) {
    if (auto e = delRaw(t, d.body_refs, key); !e.ok()) return e;
    if (auto e = delRaw(t, d.structures, key); !e.ok()) return e;
    if (auto e = delRaw(t, d.imap, key); !e.ok()) return e;
    if (auto e = delRaw(t, d.text, key); !e.ok()) return e;
    return delRaw(t, d.bodies, key);
  }
  return putRaw(t, d.body_refs, key, keys::be32(uint32_t(n)));
}

static void count(rec::Mailbox* mb, const rec::Message& m, int sign) {
  mb->set_messages(uint32_t(int64_t(mb->messages()) + sign));
  mb->set_size(uint64_t(int64_t(mb->size()) + sign * int64_t(m.size())));
  if (!(m.flags() & flag::kSeen)) mb->set_unseen(uint32_t(int64_t(mb->unseen()) + sign));
}

Result<uint32_t> insertMessage(MDB_txn* t, const Dbs& d, rec::Mailbox* mb, const rec::Message& msg) {
  uint32_t uid = mb->uidnext();
  if (uid == 0xffffffffu) return Error{ErrorCode::kLimit, "mailbox uid space exhausted"};
  mb->set_uidnext(uid + 1);
  if (auto e = putRec(t, d.messages, keys::messageKey(mb->id(), uid), msg); !e.ok()) return e;
  count(mb, msg, +1);
  return uid;
}

Error removeMessage(MDB_txn* t, const Dbs& d, rec::Mailbox* mb, uint32_t uid, const rec::Message& msg) {
  if (auto e = delRaw(t, d.messages, keys::messageKey(mb->id(), uid)); !e.ok()) return e;
  count(mb, msg, -1);
  return changeRef(t, d, msg.body_id(), -1);
}

Error forEachMessage(MDB_txn* t, const Dbs& d, uint32_t mailbox_id,
                     const std::function<Error(uint32_t uid, const rec::Message&)>& fn) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(t, d.messages, &c);
  if (rc != 0) return lmdbError(rc, "mdb_cursor_open");
  std::string prefix = keys::mailboxPrefix(mailbox_id);
  MDB_val k = val(prefix), v{};
  Error err;
  rec::Message m;  // reused: ParseFromArray clears it first
  for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    std::string_view ks = view(k);
    if (ks.size() != 8 || ks.substr(0, 4) != prefix) break;
    if (!m.ParseFromArray(v.mv_data, int(v.mv_size))) {
      err = Error{ErrorCode::kCorrupt, "unparsable message record"};
      break;
    }
    err = fn(keys::getBe32(ks.data() + 4), m);
    if (!err.ok()) break;
  }
  if (err.ok() && rc != 0 && rc != MDB_NOTFOUND) err = lmdbError(rc, "mdb_cursor_get");
  mdb_cursor_close(c);
  return err;
}

MessageMeta toMeta(uint32_t uid, const rec::Message& m) {
  return MessageMeta{uid, m.flags(), m.modseq(), m.size(), m.internaldate(), m.tzoffset()};
}

static bool validKeyword(const std::string& k) {
  if (k.empty() || k.size() > 128 || k[0] == '\\') return false;
  for (unsigned char c : k)
    if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
        c == '\\' || c == ']')
      return false;
  return true;
}

static bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

Result<uint64_t> keywordBits(rec::Mailbox* mb, const std::vector<std::string>& keywords, bool add,
                             bool* grew) {
  uint64_t bits = 0;
  for (const auto& kw : keywords) {
    if (!validKeyword(kw)) return Error{ErrorCode::kBadArgs, "invalid keyword"};
    int idx = -1;
    for (int i = 0; i < mb->keywords_size(); i++)
      if (equalsNoCase(mb->keywords(i), kw)) idx = i;
    if (idx < 0) {
      if (!add) continue;  // removing a keyword nobody has: nothing to do
      if (mb->keywords_size() >= flag::kMaxKeywords)
        return Error{ErrorCode::kLimit, "keyword table full"};
      mb->add_keywords(kw);
      idx = mb->keywords_size() - 1;
      if (grew) *grew = true;
    }
    bits |= uint64_t(1) << (flag::kKeywordBase + idx);
  }
  return bits;
}

}  // namespace postern::stored::detail
