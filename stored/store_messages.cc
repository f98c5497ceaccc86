// Message operations: append, deliver, fetch, flags, expunge, copy/move.
#include <algorithm>
#include <ctime>
#include <tuple>

#include "bodystructure.h"
#include "engine_internal.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "mime/search_text.h"

namespace postern::stored {

using namespace detail;

namespace {

Change messageChange(Change::Kind kind, const std::string& user, uint32_t mailbox_id, MessageMeta meta) {
  Change c;
  c.kind = kind;
  c.user = user;
  c.mailbox_id = mailbox_id;
  c.meta = meta;
  return c;
}

std::vector<uint32_t> sortedUnique(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

// Translates keyword bits of `flags` from table `from` into `to` (adding names).
Result<uint64_t> remapKeywords(uint64_t flags, const rec::Mailbox& from, rec::Mailbox* to, bool* grew) {
  uint64_t out = flags & flag::kSystemMask;
  std::vector<std::string> names;
  for (int i = 0; i < from.keywords_size(); i++)
    if (flags & (uint64_t(1) << (flag::kKeywordBase + i))) names.push_back(from.keywords(i));
  if (names.empty()) return out;
  auto bits = keywordBits(to, names, true, grew);
  if (!bits.ok()) return bits.error();
  return out | *bits;
}


}  // namespace

Result<AppendResult> StoreEngine::append(const AppendArgs& args) {
  return waitFor<Result<AppendResult>>([&](auto done) { appendAsync(args, std::move(done)); });
}

void StoreEngine::appendAsync(AppendArgs args, Done<AppendResult> done) {
  auto name = canonicalUser(args.user);
  if (!name.ok()) return done(name.error());
  auto mbname = canonicalMailbox(args.mailbox);
  if (!mbname.ok()) return done(mbname.error());
  if (args.body.size() > opts_.max_message_size || args.body.size() > 0xffffffffu)
    return done(Error{ErrorCode::kTooBig, "message larger than the size limit"});
  struct State {
    AppendArgs args;
    std::string name, mbname;
    int64_t date = 0;
    BodyExtras extras;
    AppendResult res;
    uint32_t mailbox_id = 0;
  };
  auto st = std::make_shared<State>();
  st->args = std::move(args);
  st->name = std::move(*name);
  st->mbname = std::move(*mbname);
  st->date = st->args.internaldate != 0 ? st->args.internaldate : int64_t(time(nullptr));
  // Parsed once, here, outside the writer thread; kept beside the body.
  st->extras = bodyExtras(st->args.body);
  auto write = [this, st](MDB_txn* t, std::vector<Change>* changes) -> Error {
    const Dbs& d = *dbs_;
    const AppendArgs& a = st->args;
    auto u = loadUser(t, d, st->name);
    if (!u.ok()) return u.error();
    auto mb = loadMailbox(t, d, u->id(), st->mbname);
    if (!mb.ok()) return mb.error();
    bool grew = false;
    auto kw = keywordBits(&*mb, a.keywords, true, &grew);
    if (!kw.ok()) return kw.error();
    auto body = addBody(t, d, a.body, 1, st->extras);
    if (!body.ok()) return body.error();
    rec::Message m;
    m.set_flags((a.flags & flag::kSystemMask) | *kw);
    m.set_modseq(mb->highestmodseq() + 1);
    m.set_size(uint32_t(a.body.size()));
    m.set_internaldate(st->date);
    m.set_tzoffset(a.tzoffset);
    m.set_body_id(*body);
    auto uid = insertMessage(t, d, &*mb, m);
    if (!uid.ok()) return uid.error();
    mb->set_highestmodseq(m.modseq());
    if (auto e = saveMailbox(t, d, *mb); !e.ok()) return e;
    Change c = messageChange(Change::kNew, st->name, mb->id(), toMeta(*uid, m));
    if (grew) c.keywords.assign(mb->keywords().begin(), mb->keywords().end());
    changes->push_back(std::move(c));
    st->res = AppendResult{mb->uidvalidity(), *uid, m.modseq()};
    st->mailbox_id = mb->id();
    return {};
  };
  runWriteAsync(std::move(write), [this, st, done = std::move(done)](Error err) {
    if (!err.ok()) return done(std::move(err));
    AppendResult res = st->res;
    if (st->args.claim_recent) {
      // After the commit: a claim never covers a message that is not there.
      // A failed claim (the mailbox deleted meanwhile) only means no \Recent.
      auto c = claimRecent(st->name, st->mailbox_id, res.uid + 1);
      if (c.ok()) std::tie(res.recent_from, res.recent_to) = *c;
    }
    done(res);
  });
}

std::vector<Error> StoreEngine::deliver(const std::vector<std::string>& users, const std::string& mailbox,
                                        const std::string& body) {
  return waitFor<std::vector<Error>>([&](auto done) { deliverAsync(users, mailbox, body, std::move(done)); });
}

void StoreEngine::deliverAsync(std::vector<std::string> users, std::string mailbox, std::string body,
                               std::function<void(std::vector<Error>)> done) {
  if (body.size() > opts_.max_message_size || body.size() > 0xffffffffu) {
    return done(std::vector<Error>(users.size(), Error{ErrorCode::kTooBig, "message larger than the size limit"}));
  }
  struct State {
    std::vector<std::string> users;
    std::string target = "INBOX";
    std::string body;
    int64_t now = 0;
    BodyExtras extras;
    std::vector<Error> results;
  };
  auto st = std::make_shared<State>();
  if (!mailbox.empty()) {
    auto mbname = canonicalMailbox(mailbox);
    if (mbname.ok()) st->target = *mbname;
  }
  st->users = std::move(users);
  st->body = std::move(body);
  st->results.resize(st->users.size());
  st->now = int64_t(time(nullptr));
  st->extras = bodyExtras(st->body);
  auto write = [this, st](MDB_txn* t, std::vector<Change>* changes) -> Error {
    const Dbs& d = *dbs_;
    const auto& users = st->users;
    const std::string& target = st->target;
    auto& results = st->results;
    // One body for every recipient, with one reference per delivered copy.
    auto body_id = addBody(t, d, st->body, 0, st->extras);
    if (!body_id.ok()) return body_id.error();
    uint32_t refs = 0;
    for (size_t i = 0; i < users.size(); i++) {
      auto name = canonicalUser(users[i]);
      if (!name.ok()) {
        results[i] = Error{ErrorCode::kNotFound, "no such user: " + users[i]};
        continue;
      }
      // Per-recipient nested txn: one recipient's failure leaves the others.
      MDB_txn* child = nullptr;
      int rc = mdb_txn_begin(env_, t, 0, &child);
      if (rc != 0) {
        results[i] = lmdbError(rc, "mdb_txn_begin nested");
        continue;
      }
      Change c;
      results[i] = [&]() -> Error {
        auto u = loadUser(child, d, *name);
        if (!u.ok()) return u.error();
        // A missing folder (e.g. user+folder@) falls back to INBOX.
        auto mb = loadMailbox(child, d, u->id(), target);
        if (!mb.ok() && mb.error().code == ErrorCode::kNotFound) mb = loadMailbox(child, d, u->id(), "INBOX");
        if (!mb.ok()) return mb.error();
        rec::Message m;
        m.set_modseq(mb->highestmodseq() + 1);
        m.set_size(uint32_t(st->body.size()));
        m.set_internaldate(st->now);
        m.set_body_id(*body_id);
        auto uid = insertMessage(child, d, &*mb, m);
        if (!uid.ok()) return uid.error();
        mb->set_highestmodseq(m.modseq());
        if (auto e = saveMailbox(child, d, *mb); !e.ok()) return e;
        c = messageChange(Change::kNew, *name, mb->id(), toMeta(*uid, m));
        return {};
      }();
      if (results[i].ok()) {
        rc = mdb_txn_commit(child);
        if (rc != 0) {
          results[i] = lmdbError(rc, "mdb_txn_commit nested");
        } else {
          refs++;
          changes->push_back(std::move(c));
        }
      } else {
        mdb_txn_abort(child);
      }
    }
    if (refs == 0) return changeRef(t, d, *body_id, 0);  // nobody took it: drop the body
    return putRaw(t, d.body_refs, keys::bodyKey(*body_id), keys::be32(refs));
  };
  runWriteAsync(std::move(write), [st, done = std::move(done)](Error err) {
    if (!err.ok())
      for (auto& r : st->results)
        if (r.ok()) r = err;
    done(std::move(st->results));
  });
}

Error StoreEngine::fetchBodies(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                               const OnBody& on_body) {
  return fetchMessages(user, mailbox_id, uids, true, [&](uint32_t uid, Result<Fetched> m) {
    if (!m.ok()) return on_body(uid, m.error());
    return on_body(uid, std::move(m->body));
  });
}

Error StoreEngine::fetchMessages(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                                 bool with_body, const OnMessage& on_message, bool header_only,
                                 uint32_t imap_parts) {
  uint32_t user_id = 0;
  {
    Reader rd(this);
    auto u = rd.user(user);
    if (!u.ok()) return u.error();
    auto mb = loadMailboxById(rd.txn(), rd.dbs(), u->id(), mailbox_id);
    if (!mb.ok()) return mb.error();
    user_id = u->id();
  }
  std::vector<std::pair<uint32_t, Result<Fetched>>> group;
  for (size_t next = 0; next < uids.size();) {
    group.clear();
    {
      Reader rd(this);
      if (!rd.error().ok()) return rd.error();
      const Dbs& d = rd.dbs();
      if (!loadMailboxById(rd.txn(), d, user_id, mailbox_id).ok())
        return Error{ErrorCode::kNotFound, "mailbox deleted"};
      size_t bytes = 0;
      SeqReader messages(rd.txn(), d.messages), imap(rd.txn(), d.imap);
      for (; next < uids.size() && group.size() < kFetchGroup && bytes < kFetchGroupBytes; ++next) {
        uint32_t uid = uids[next];
        Result<Fetched> out = Error{ErrorCode::kExpunged, "no such message"};
        rec::Message m;
        auto r = messages.getRec(keys::messageKey(mailbox_id, uid), &m);
        if (!r.ok()) {
          out = r.error();
        } else if (*r) {
          Fetched f;
          std::string key = keys::bodyKey(m.body_id());
          std::string_view sv;
          // A header-only read needs no structure (nor a parse without one);
          // a read without the body takes the IMAP renderings when kept.
          if (!with_body) {
            auto im = imap.get(key, &sv);
            if (im.ok() && *im) {
              // A damaged value is skipped: the structure is read instead.
              if (imap_parts == 0 || imap_parts == imap::kRenderedAll) {
                if (imap::parseRendered(sv)) f.imap.assign(sv);
              } else if (auto part = imap::selectRendered(sv, imap_parts)) {
                f.imap = std::move(*part);
              }
            }
          }
          auto st = header_only || !f.imap.empty() ? Result<bool>(false) : getRaw(rd.txn(), d.structures, key, &sv);
          if (st.ok() && *st) f.structure.assign(sv);
          bool need_body = with_body || (f.structure.empty() && f.imap.empty());
          Error berr;
          if (need_body) {
            // A header-only read of a version-2 body checks only the header
            // block's own checksum (structure present: nothing else is read).
            std::string_view v;
            auto b = getRaw(rd.txn(), d.bodies, key, &v);
            if (!b.ok()) berr = b.error();
            else if (!*b) berr = Error{ErrorCode::kCorrupt, "body missing"};
            auto body = berr.ok() ? checkedBody(v, header_only) : Result<std::string_view>(berr);
            if (!body.ok()) berr = body.error();
            std::string_view data = berr.ok() ? *body : std::string_view();
            if (berr.ok() && with_body)
              f.body.assign(header_only ? data.substr(0, mime::headerBlockSize(data)) : data);
            if (berr.ok() && f.structure.empty() && !header_only)  // stored before structures were kept
              f.structure = mime::serialise(mime::parse(data));
          }
          bytes += f.body.size() + f.structure.size() + f.imap.size();
          if (berr.ok()) out = std::move(f);
          else out = berr;
        }
        group.emplace_back(uid, std::move(out));
      }
    }
    for (auto& [uid, out] : group)
      if (!on_message(uid, std::move(out))) return {};
  }
  return {};
}

Error StoreEngine::readRenderings(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                                  size_t* pos, bool* slow, const OnRendering& on) {
  *slow = false;
  Reader rd(this);
  if (!rd.error().ok()) return rd.error();
  auto u = rd.user(user);
  if (!u.ok()) return u.error();
  const Dbs& d = rd.dbs();
  if (!loadMailboxById(rd.txn(), d, u->id(), mailbox_id).ok()) return Error{ErrorCode::kNotFound, "mailbox deleted"};
  SeqReader messages(rd.txn(), d.messages), imap(rd.txn(), d.imap);
  const size_t end = std::min(uids.size(), *pos + kFetchGroup);
  while (*pos < end) {
    const uint32_t uid = uids[*pos];
    rec::Message m;
    auto r = messages.getRec(keys::messageKey(mailbox_id, uid), &m);
    bool go_on = true;
    if (!r.ok()) {
      go_on = on(uid, r.error());
    } else if (!*r) {
      go_on = on(uid, Error{ErrorCode::kExpunged, "no such message"});
    } else {
      std::string_view sv;
      auto im = imap.get(keys::bodyKey(m.body_id()), &sv);
      auto rendered = im.ok() && *im ? imap::parseRendered(sv) : std::nullopt;
      if (!rendered) {
        *slow = true;
        return {};
      }
      go_on = on(uid, *rendered);
    }
    ++*pos;
    if (!go_on) break;
  }
  return {};
}

Result<StoreFlagsResult> StoreEngine::storeFlags(const StoreFlagsArgs& args) {
  return waitFor<Result<StoreFlagsResult>>([&](auto done) { storeFlagsAsync(args, std::move(done)); });
}

void StoreEngine::storeFlagsAsync(StoreFlagsArgs args, Done<StoreFlagsResult> done) {
  auto name = canonicalUser(args.user);
  if (!name.ok()) return done(name.error());
  struct State {
    StoreFlagsArgs args;
    std::string name;
    std::vector<uint32_t> uids;
    StoreFlagsResult res;
  };
  auto st = std::make_shared<State>();
  st->uids = sortedUnique(std::move(args.uids));
  st->args = std::move(args);
  st->name = std::move(*name);
  auto write = [this, st](MDB_txn* t, std::vector<Change>* changes) -> Error {
    const Dbs& d = *dbs_;
    st->res = StoreFlagsResult{};
    auto u = loadUser(t, d, st->name);
    if (!u.ok()) return u.error();
    auto mb = loadMailboxById(t, d, u->id(), st->args.mailbox_id);
    if (!mb.ok()) return mb.error();
    bool grew = false;
    auto kw = keywordBits(&*mb, st->args.keywords, st->args.op != FlagOp::kRemove, &grew);
    if (!kw.ok()) return kw.error();
    uint64_t bits = (st->args.flags & flag::kSystemMask) | *kw;
    uint64_t modseq = mb->highestmodseq() + 1;
    for (uint32_t uid : st->uids) {
      std::string key = keys::messageKey(mb->id(), uid);
      rec::Message m;
      auto r = getRec(t, d.messages, key, &m);
      if (!r.ok()) return r.error();
      if (!*r) continue;  // expunged meanwhile: nothing to store
      if (st->args.unchanged_since != 0 && m.modseq() > st->args.unchanged_since) continue;
      uint64_t nf = st->args.op == FlagOp::kReplace ? bits
                    : st->args.op == FlagOp::kAdd   ? (m.flags() | bits)
                                                : (m.flags() & ~bits);
      if (nf == m.flags()) continue;
      bool was_unseen = !(m.flags() & flag::kSeen), now_unseen = !(nf & flag::kSeen);
      if (was_unseen != now_unseen) mb->set_unseen(mb->unseen() + (now_unseen ? 1 : -1));
      m.set_flags(nf);
      m.set_modseq(modseq);
      if (auto e = putRec(t, d.messages, key, m); !e.ok()) return e;
      st->res.changed.push_back(toMeta(uid, m));
    }
    if (!st->res.changed.empty()) mb->set_highestmodseq(modseq);
    if (!st->res.changed.empty() || grew)
      if (auto e = saveMailbox(t, d, *mb); !e.ok()) return e;
    st->res.keywords.assign(mb->keywords().begin(), mb->keywords().end());
    for (size_t i = 0; i < st->res.changed.size(); i++) {
      Change c = messageChange(Change::kFlags, st->name, mb->id(), st->res.changed[i]);
      if (grew && i == 0) c.keywords = st->res.keywords;
      changes->push_back(std::move(c));
    }
    return {};
  };
  runWriteAsync(std::move(write), [st, done = std::move(done)](Error err) {
    if (!err.ok()) return done(std::move(err));
    done(std::move(st->res));
  });
}

Result<ExpungeResult> StoreEngine::expunge(const std::string& user, uint32_t mailbox_id,
                                           const std::vector<uint32_t>& uids, bool only_deleted) {
  return waitFor<Result<ExpungeResult>>(
      [&](auto done) { expungeAsync(user, mailbox_id, uids, only_deleted, std::move(done)); });
}

void StoreEngine::expungeAsync(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                               bool only_deleted, Done<ExpungeResult> done) {
  auto name = canonicalUser(user);
  if (!name.ok()) return done(name.error());
  struct State {
    std::string name;
    uint32_t mailbox_id = 0;
    std::vector<uint32_t> wanted;
    bool only_deleted = false;
    ExpungeResult res;
  };
  auto st = std::make_shared<State>();
  st->name = std::move(*name);
  st->mailbox_id = mailbox_id;
  st->wanted = sortedUnique(std::move(uids));
  st->only_deleted = only_deleted;
  auto write = [this, st](MDB_txn* t, std::vector<Change>* changes) -> Error {
    const Dbs& d = *dbs_;
    st->res = ExpungeResult{};
    auto u = loadUser(t, d, st->name);
    if (!u.ok()) return u.error();
    auto mb = loadMailboxById(t, d, u->id(), st->mailbox_id);
    if (!mb.ok()) return mb.error();
    std::vector<std::pair<uint32_t, rec::Message>> victims;
    auto pick = [&](uint32_t uid, const rec::Message& m) {
      if (!st->only_deleted || (m.flags() & flag::kDeleted)) victims.emplace_back(uid, m);
      return Error{};
    };
    if (st->wanted.empty()) {
      if (auto e = forEachMessage(t, d, mb->id(), pick); !e.ok()) return e;
    } else {
      for (uint32_t uid : st->wanted) {
        rec::Message m;
        auto r = getRec(t, d.messages, keys::messageKey(mb->id(), uid), &m);
        if (!r.ok()) return r.error();
        if (*r) pick(uid, m);
      }
    }
    uint64_t modseq = mb->highestmodseq() + (victims.empty() ? 0 : 1);
    for (auto& [uid, m] : victims) {
      if (auto e = removeMessage(t, d, &*mb, uid, m); !e.ok()) return e;
      st->res.expunged.push_back(uid);
      MessageMeta meta = toMeta(uid, m);
      meta.modseq = modseq;
      changes->push_back(messageChange(Change::kExpunged, st->name, mb->id(), meta));
    }
    if (!victims.empty()) {
      mb->set_highestmodseq(modseq);
      if (auto e = saveMailbox(t, d, *mb); !e.ok()) return e;
    }
    st->res.modseq = mb->highestmodseq();
    return {};
  };
  runWriteAsync(std::move(write), [st, done = std::move(done)](Error err) {
    if (!err.ok()) return done(std::move(err));
    done(std::move(st->res));
  });
}

Result<CopyResult> StoreEngine::copy(const std::string& user, uint32_t mailbox_id,
                                     const std::vector<uint32_t>& uids, const std::string& destination,
                                     bool move) {
  auto name = canonicalUser(user);
  if (!name.ok()) return name.error();
  auto dstname = canonicalMailbox(destination);
  if (!dstname.ok()) return dstname.error();
  CopyResult res;
  const Dbs& d = *dbs_;
  std::vector<uint32_t> wanted = sortedUnique(uids);
  Error err = runWrite([&](MDB_txn* t, std::vector<Change>* changes) -> Error {
    res = CopyResult{};
    auto u = loadUser(t, d, *name);
    if (!u.ok()) return u.error();
    auto src = loadMailboxById(t, d, u->id(), mailbox_id);
    if (!src.ok()) return src.error();
    auto dst = loadMailbox(t, d, u->id(), *dstname);
    if (!dst.ok()) return dst.error();
    bool same = dst->id() == src->id();
    std::vector<std::pair<uint32_t, rec::Message>> msgs;
    for (uint32_t uid : wanted) {
      rec::Message m;
      auto r = getRec(t, d.messages, keys::messageKey(src->id(), uid), &m);
      if (!r.ok()) return r.error();
      if (*r) msgs.emplace_back(uid, m);
    }
    if (msgs.empty()) {
      res.uidvalidity = dst->uidvalidity();
      return {};
    }
    // When copying within one mailbox, work on a single record.
    rec::Mailbox* target = same ? &*src : &*dst;
    bool grew = false;
    uint64_t dmodseq = target->highestmodseq() + 1;
    std::vector<Change> added;
    for (auto& [uid, m] : msgs) {
      rec::Message n = m;
      n.clear_pop3_retrieved();  // a new uid: POP3 has not retrieved this message
      auto fl = same ? Result<uint64_t>(m.flags()) : remapKeywords(m.flags(), *src, target, &grew);
      if (!fl.ok()) return fl.error();
      n.set_flags(*fl);
      n.set_modseq(dmodseq);
      if (auto e = changeRef(t, d, m.body_id(), +1); !e.ok()) return e;  // shared, not duplicated
      auto nu = insertMessage(t, d, target, n);
      if (!nu.ok()) return nu.error();
      res.source_uids.push_back(uid);
      res.dest_uids.push_back(*nu);
      added.push_back(messageChange(Change::kNew, *name, target->id(), toMeta(*nu, n)));
    }
    if (grew) added.front().keywords.assign(target->keywords().begin(), target->keywords().end());
    target->set_highestmodseq(dmodseq);
    if (move) {
      uint64_t smodseq = src->highestmodseq() + (same ? 0 : 1);
      for (auto& [uid, m] : msgs) {
        if (auto e = removeMessage(t, d, &*src, uid, m); !e.ok()) return e;
        MessageMeta meta = toMeta(uid, m);
        meta.modseq = smodseq;
        added.push_back(messageChange(Change::kExpunged, *name, src->id(), meta));
      }
      src->set_highestmodseq(smodseq);
    }
    if (auto e = saveMailbox(t, d, *target); !e.ok()) return e;
    if (!same && move)
      if (auto e = saveMailbox(t, d, *src); !e.ok()) return e;
    res.uidvalidity = target->uidvalidity();
    changes->insert(changes->end(), added.begin(), added.end());
    return {};
  });
  if (!err.ok()) return err;
  return res;
}

}  // namespace postern::stored
