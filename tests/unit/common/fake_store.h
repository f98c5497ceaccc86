#pragma once
// An in-memory StoreClient for session tests (pop3d, lmtpd, imapd). Every
// callback is delivered through loop.post(), as the gRPC client does, never
// synchronously. Mutations are announced to watch() subscribers as Change
// batches, like stored's change feed, so two sessions of one worker see each
// other. All members are used on the loop thread only (or before it runs).
#include <tuple>
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "event_loop.h"
#include "mime/decode.h"
#include "mime/mime.h"
#include "mime/search_text.h"
#include "store_client.h"

namespace postern::testing {

class FakeStore : public StoreClient {
 public:
  struct Stored {
    MessageMeta meta;
    std::string body;
    int64_t retrieved = 0;  // markRetrieved's stamp (`now`); 0 = never
  };
  struct Folder {
    uint32_t id = 0;
    std::string name;
    uint32_t uidvalidity = 0;
    uint32_t uidnext = 1;
    uint64_t highestmodseq = 1;
    std::vector<std::string> keywords;  // index i <-> bit kKeywordBase + i
    std::vector<Stored> msgs;           // ascending uid
  };
  struct User {
    std::string password;
    std::map<std::string, Folder> folders;  // by name; INBOX made on first use
    std::map<std::string, std::string> settings;  // per-user overrides (userSettings)
    std::set<std::string> subscriptions;          // need not exist (RFC 3501 6.3.6)
  };

  explicit FakeStore(EventLoop& loop) : loop_(loop) {}

  // ---- test knobs --------------------------------------------------------
  std::map<std::string, User> users;
  std::set<uint32_t> corrupt_uids;        // fetchBodies answers kCorrupt for these (any folder)
  ErrorCode fail_all = ErrorCode::kOk;    // every call fails with this (stored down)
  std::map<std::string, ErrorCode> deliver_errors;  // per user
  uint32_t uidvalidity = 42;              // the first folder made gets this, the next +1, ...
  int64_t now = 1700000000;               // INTERNALDATE of appends without a date
  // Body streams stop after this many bodies (in each stream) until
  // releaseFetches(); -1 = never hold.
  int hold_fetch_after = -1;
  bool drop_changes = false;              // the change feed is "broken": nothing is delivered
  int expunge_calls = 0;
  int deliver_calls = 0;
  int user_exists_calls = 0;
  int fetch_pauses = 0;  // on_body returned false
  int fetch_calls = 0;
  int header_fetch_calls = 0;  // fetchHeaders (header blocks only; not in fetch_calls)
  // Locks by {user, name}: {owner, expiry in now_ms}. acquireLock counts in lock_calls.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, int64_t>> locks;
  int64_t now_ms = 0;
  int lock_calls = 0;
  ErrorCode settings_error = ErrorCode::kOk;  // userSettings fails with this
  int mark_retrieved_calls = 0;
  int expire_calls = 0;
  // searchText: off, the StoreClient default (every message unindexed: the
  // caller scans); on, answered like stored from mime::buildSearchText of
  // each body, except unindexed_uids (as if stored before search texts).
  bool search_texts = false;
  std::set<uint32_t> unindexed_uids;
  int search_text_calls = 0;

  // ---- setup helpers -----------------------------------------------------
  Folder& folder(const std::string& user, const std::string& name) {
    User& u = users[user];
    if (name != "INBOX") inboxOf(u);  // INBOX always has the lowest id
    auto it = u.folders.find(name);
    if (it != u.folders.end()) return it->second;
    Folder& f = u.folders[name];
    f.id = next_folder_id_++;
    f.name = name;
    f.uidvalidity = uidvalidity + made_++;
    return f;
  }
  std::vector<Stored>& inbox(const std::string& user) { return folder(user, "INBOX").msgs; }

  // Adds a message (as a delivery would) and announces it; returns its uid.
  uint32_t addMessage(const std::string& user, const std::string& body, uint64_t flags = 0,
                      const std::string& mailbox = "INBOX", int64_t internaldate = 0, int32_t tzoffset = 0) {
    Folder& f = folder(user, mailbox);
    Stored s;
    s.meta.uid = f.uidnext++;
    s.meta.flags = flags;
    s.meta.modseq = ++f.highestmodseq;
    s.meta.size = static_cast<uint32_t>(body.size());
    s.meta.internaldate = internaldate ? internaldate : now;
    s.meta.tzoffset = tzoffset;
    s.body = body;
    f.msgs.push_back(s);
    notify({change(Change::kNew, user, f, s.meta)});
    return s.meta.uid;
  }

  // Lets held body streams go on.
  void releaseFetches() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& w : held)
      if (auto s = w.lock()) {
        s->held_ = false;
        s->schedule();
      }
  }
  // The change feed was re-established after a break: on_resync for everyone.
  void resyncWatchers() {
    for (auto& w : watchers_) {
      auto f = w.second;
      loop_.post([f] { f(); });
    }
  }

  // ---- StoreClient -------------------------------------------------------
  void authenticate(const std::string& user, const std::string& password, const std::string& /*protocol*/,
                    Callback<std::string> cb) override {
    if (failed(cb)) return;
    std::string u = lower(user);
    auto it = users.find(u);
    if (it == users.end() || it->second.password != password) {
      post(cb, Result<std::string>(ErrorCode::kAuthFailed, "bad password"));
    } else {
      post(cb, Result<std::string>(u));
    }
  }
  void userExists(const std::vector<std::string>& names, Callback<std::vector<bool>> cb) override {
    ++user_exists_calls;
    if (failed(cb)) return;
    std::vector<bool> out;
    for (const auto& n : names) out.push_back(users.count(n) > 0);
    post(cb, Result<std::vector<bool>>(out));
  }

  void listMailboxes(const std::string& user, Callback<std::vector<MailboxInfo>> cb) override {
    if (failed(cb)) return;
    User* u = findUser(user);
    if (!u) return post(cb, Result<std::vector<MailboxInfo>>(ErrorCode::kNotFound, "no user"));
    inboxOf(*u);
    std::vector<MailboxInfo> out;
    for (const auto& [n, f] : u->folders) out.push_back(info(f));
    post(cb, Result<std::vector<MailboxInfo>>(out));
  }
  void getMailbox(const std::string& user, const std::string& name, Callback<MailboxInfo> cb) override {
    if (failed(cb)) return;
    Folder* f = findFolder(user, name);
    if (!f) return post(cb, Result<MailboxInfo>(ErrorCode::kNotFound, "no mailbox"));
    post(cb, Result<MailboxInfo>(info(*f)));
  }
  void createMailbox(const std::string& user, const std::string& name, Done cb) override {
    if (failedDone(cb)) return;
    if (!findUser(user)) return done(cb, Error{ErrorCode::kNotFound, "no user"});
    if (findFolder(user, name)) return done(cb, Error{ErrorCode::kExists, "exists"});
    Folder& f = folder(user, name);
    notify({mailboxChange(user, f.id)});
    done(cb, Error::none());
  }
  void deleteMailbox(const std::string& user, const std::string& name, Done cb) override {
    if (failedDone(cb)) return;
    if (name == "INBOX") return done(cb, Error{ErrorCode::kBadArgs, "INBOX cannot be deleted"});
    Folder* f = findFolder(user, name);
    if (!f) return done(cb, Error{ErrorCode::kNotFound, "no mailbox"});
    uint32_t id = f->id;
    users[user].folders.erase(name);
    notify({mailboxChange(user, id)});
    done(cb, Error::none());
  }
  void renameMailbox(const std::string& user, const std::string& from, const std::string& to, Done cb) override {
    if (failedDone(cb)) return;
    Folder* src = findFolder(user, from);
    if (!src) return done(cb, Error{ErrorCode::kNotFound, "no mailbox"});
    if (to == "INBOX" || findFolder(user, to)) return done(cb, Error{ErrorCode::kExists, "exists"});
    if (to.rfind(from + "/", 0) == 0) return done(cb, Error{ErrorCode::kBadArgs, "into itself"});
    User& u = users[user];
    std::vector<Change> changes;
    if (from == "INBOX") {
      Folder moved = *src;
      src->msgs.clear();
      Folder& nf = folder(user, to);
      nf.keywords = moved.keywords;
      for (auto& m : moved.msgs) {
        m.meta.uid = nf.uidnext++;
        nf.msgs.push_back(m);
      }
      changes.push_back(mailboxChange(user, u.folders["INBOX"].id));
      changes.push_back(mailboxChange(user, nf.id));
    } else {
      std::vector<std::string> names;
      for (const auto& [n, f] : u.folders)
        if (n == from || n.rfind(from + "/", 0) == 0) names.push_back(n);
      std::set<std::string> subs;
      for (const auto& s : u.subscriptions)
        subs.insert(s == from || s.rfind(from + "/", 0) == 0 ? to + s.substr(from.size()) : s);
      u.subscriptions = subs;
      for (const auto& n : names) {
        Folder f = u.folders[n];
        u.folders.erase(n);
        f.name = to + n.substr(from.size());
        changes.push_back(mailboxChange(user, f.id));
        u.folders[f.name] = f;
      }
    }
    notify(changes);
    done(cb, Error::none());
  }
  void subscribe(const std::string& user, const std::string& name, bool on, Done cb) override {
    if (failedDone(cb)) return;
    User* u = findUser(user);
    if (!u) return done(cb, Error{ErrorCode::kNotFound, "no user"});
    if (on) u->subscriptions.insert(name);
    else u->subscriptions.erase(name);
    done(cb, Error::none());
  }
  void listSubscriptions(const std::string& user, Callback<std::vector<std::string>> cb) override {
    if (failed(cb)) return;
    User* u = findUser(user);
    if (!u) return post(cb, Result<std::vector<std::string>>(ErrorCode::kNotFound, "no user"));
    post(cb, Result<std::vector<std::string>>(std::vector<std::string>(u->subscriptions.begin(), u->subscriptions.end())));
  }
  int select_calls = 0, select_claims = 0;
  // The change feed's holds per user (selectMailbox adds one while a watch
  // runs, unwatch releases), as stored counts them for feed `watcher_id`.
  uint64_t watcher_id = 7;
  std::map<std::string, int64_t> feed_holds;
  int unwatch_calls = 0;
  // With hold_selects, SelectMailbox answers wait for releaseSelects().
  bool hold_selects = false;
  std::vector<std::function<void()>> held_selects;
  void releaseSelects() {
    hold_selects = false;
    auto held = std::move(held_selects);
    held_selects.clear();
    for (auto& f : held) f();
  }
  // Answers say the feed broke and came back meanwhile (SelectedMailbox::feed_stale).
  bool select_feed_stale = false;

  void selectMailbox(const std::string& user, const std::string& name, bool claim_recent,
                     Callback<SelectedMailbox> cb) override {
    ++select_calls;
    if (hold_selects) {
      held_selects.push_back([this, user, name, claim_recent, cb] {
        --select_calls;
        selectMailbox(user, name, claim_recent, cb);
      });
      return;
    }
    if (failed(cb)) return;
    Folder* f = findFolder(user, name);
    if (!f) return post(cb, Result<SelectedMailbox>(ErrorCode::kNotFound, "no mailbox"));
    SelectedMailbox sel;
    sel.mailbox = info(*f);
    for (const auto& m : f->msgs) sel.messages.push_back(m.meta);
    if (claim_recent) {
      ++select_claims;
      std::tie(sel.recent_from, sel.recent_to) = claim(f->id, f->uidnext);
    }
    if (!watchers_.empty()) {  // the feed holds the user from now on
      sel.watcher = watcher_id;
      feed_holds[user]++;
    }
    sel.feed_stale = select_feed_stale;
    post(cb, Result<SelectedMailbox>(sel));
  }

  void append(AppendArgs a, Callback<AppendResult> cb) override {
    if (failed(cb)) return;
    Folder* f = findFolder(a.user, a.mailbox);
    if (!f) return post(cb, Result<AppendResult>(ErrorCode::kNotFound, "no mailbox"));
    bool grew = false;
    uint64_t kw = keywordBits(*f, a.keywords, true, &grew);
    Stored s;
    s.meta.uid = f->uidnext++;
    s.meta.flags = (a.flags & flag::kSystemMask) | kw;
    s.meta.modseq = ++f->highestmodseq;
    s.meta.size = static_cast<uint32_t>(a.body.size());
    s.meta.internaldate = a.internaldate ? a.internaldate : now;
    s.meta.tzoffset = a.tzoffset;
    s.body = a.body;
    f->msgs.push_back(s);
    Change c = change(Change::kNew, a.user, *f, s.meta);
    if (grew) c.keywords = f->keywords;
    notify({c});
    AppendResult res{f->uidvalidity, s.meta.uid, s.meta.modseq};
    if (a.claim_recent) {
      ++append_claims;
      std::tie(res.recent_from, res.recent_to) = claim(f->id, s.meta.uid + 1);
    }
    post(cb, Result<AppendResult>(res));
  }

  void deliver(const std::vector<std::string>& names, const std::string& mailbox, std::string body,
               Callback<std::vector<Error>> cb) override {
    ++deliver_calls;
    if (failed(cb)) return;
    std::vector<Error> out;
    for (const auto& n : names) {
      auto e = deliver_errors.find(n);
      if (e != deliver_errors.end()) {
        out.push_back(Error{e->second, "injected"});
      } else if (!users.count(n) || mailbox != "INBOX") {
        out.push_back(Error{ErrorCode::kNotFound, "no user"});
      } else {
        addMessage(n, body);
        out.push_back(Error::none());
      }
    }
    post(cb, Result<std::vector<Error>>(out));
  }

  class Stream : public BodyStream {
   public:
    void resume() override {
      if (paused_ && !finished_) {
        paused_ = false;
        schedule();
      }
    }
    void cancel() override {
      if (finished_) return;
      end(Error{ErrorCode::kTemp, "cancelled"});
    }
    void schedule() {
      std::weak_ptr<Stream> weak = keep_;
      store_->loop_.post([weak] {
        if (auto s = weak.lock()) s->step();
      });
    }
    void step() {
      if (finished_ || paused_ || held_) return;
      if (next_ >= uids_.size()) return end(Error::none());
      if (store_->hold_fetch_after >= 0 && sent_ >= static_cast<size_t>(store_->hold_fetch_after) &&
          !released_) {
        held_ = true;
        released_ = true;  // hold once per stream
        store_->held_.push_back(keep_);
        return;
      }
      uint32_t uid = uids_[next_++];
      ++sent_;
      Result<std::string> body(ErrorCode::kExpunged, "no such message");
      if (store_->corrupt_uids.count(uid)) {
        body = Result<std::string>(ErrorCode::kCorrupt, "body checksum mismatch");
      } else if (Folder* f = store_->findFolderById(user_, mailbox_id_)) {
        for (const auto& m : f->msgs)
          if (m.meta.uid == uid) body = Result<std::string>(m.body);
      } else {
        return end(Error{ErrorCode::kNotFound, "mailbox deleted"});
      }
      if (!on_body_(uid, std::move(body))) {
        ++store_->fetch_pauses;
        paused_ = true;
        return;
      }
      schedule();
    }
    void end(Error e) {
      finished_ = true;
      Done d = std::move(done_);
      done_ = nullptr;
      on_body_ = nullptr;
      auto keep = std::move(keep_);  // like the gRPC reader: alive until done
      if (d) d(std::move(e));
    }

    FakeStore* store_ = nullptr;
    std::shared_ptr<Stream> keep_;
    std::string user_;
    uint32_t mailbox_id_ = 0;
    std::vector<uint32_t> uids_;
    size_t next_ = 0;
    size_t sent_ = 0;
    OnBody on_body_;
    Done done_;
    bool paused_ = false;
    bool held_ = false;
    bool released_ = false;
    bool finished_ = false;
  };

  std::shared_ptr<BodyStream> fetchBodies(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                                          OnBody on_body, Done done) override {
    ++fetch_calls;
    auto s = std::make_shared<Stream>();
    s->store_ = this;
    s->keep_ = s;
    s->user_ = user;
    s->mailbox_id_ = mailbox_id;
    s->uids_ = std::move(uids);
    s->on_body_ = std::move(on_body);
    s->done_ = std::move(done);
    if (fail_all != ErrorCode::kOk) {
      ErrorCode code = fail_all;
      std::weak_ptr<Stream> weak = s;
      loop_.post([weak, code] {
        if (auto st = weak.lock(); st && !st->finished_) st->end(Error{code, "injected"});
      });
      return s;
    }
    s->schedule();
    return s;
  }

  std::shared_ptr<BodyStream> fetchHeaders(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                                           OnBody on_header, Done done) override {
    auto s = fetchBodies(
        user, mailbox_id, std::move(uids),
        [on_header = std::move(on_header)](uint32_t uid, Result<std::string> body) -> bool {
          if (!body.ok()) return on_header(uid, body.error());
          return on_header(uid, headerBlock(std::move(body.value())));
        },
        std::move(done));
    --fetch_calls;
    ++header_fetch_calls;
    return s;
  }

  // \Recent is off unless a test turns it on (recent_enabled): then each
  // folder hands out unclaimed uids once, like stored.
  bool recent_enabled = false;
  void searchText(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                  std::vector<TextNeedle> needles, Callback<TextSearchResult> cb) override {
    ++search_text_calls;
    if (!search_texts) return StoreClient::searchText(user, mailbox_id, std::move(uids), std::move(needles), cb);
    if (failed(cb)) return;
    Folder* f = findFolderById(user, mailbox_id);
    if (!f) return post(cb, Result<TextSearchResult>(ErrorCode::kNotFound, "no mailbox"));
    TextSearchResult r;
    for (uint32_t uid : uids) {
      if (unindexed_uids.count(uid) || corrupt_uids.count(uid)) {
        r.unindexed.push_back(uid);
        continue;
      }
      for (const auto& m : f->msgs) {
        if (m.meta.uid != uid) continue;
        std::string text = mime::buildSearchText(m.body, mime::parse(m.body));
        auto st = mime::SearchText::parse(text);
        uint64_t mask = 0;
        for (size_t i = 0; i < needles.size(); ++i) {
          std::string n = mime::foldCase(needles[i].text);
          if (st->mayContain(n) && st->contains(n, needles[i].scope, needles[i].field)) mask |= uint64_t(1) << i;
        }
        if (mask) r.hits.emplace_back(uid, mask);
      }
    }
    post(cb, Result<TextSearchResult>(std::move(r)));
  }

  std::map<uint32_t, uint32_t> recent_uid;  // mailbox id -> first unclaimed uid
  int claim_calls = 0, append_claims = 0;
  // The uids [first unclaimed, to) of the mailbox, as stored's claimRecent.
  std::pair<uint32_t, uint32_t> claim(uint32_t mailbox_id, uint32_t to) {
    if (!recent_enabled) return {0, 0};
    uint32_t from = std::max<uint32_t>(recent_uid[mailbox_id], 1);
    if (to <= from) return {0, 0};
    recent_uid[mailbox_id] = to;
    return {from, to};
  }
  // With hold_claims, ClaimRecent answers wait for releaseClaims() (and
  // claim what is unclaimed then).
  bool hold_claims = false;
  std::vector<std::function<void()>> held_claims;
  void releaseClaims() {
    hold_claims = false;
    auto held = std::move(held_claims);
    held_claims.clear();
    for (auto& f : held) f();
  }
  void claimRecent(const std::string& user, uint32_t mailbox_id,
                   Callback<std::pair<uint32_t, uint32_t>> cb) override {
    ++claim_calls;
    if (hold_claims) {
      held_claims.push_back([this, user, mailbox_id, cb] {
        --claim_calls;
        claimRecent(user, mailbox_id, cb);
      });
      return;
    }
    if (failed(cb)) return;
    Folder* f = findFolderById(user, mailbox_id);
    if (!f) return post(cb, Result<std::pair<uint32_t, uint32_t>>(ErrorCode::kNotFound, "no mailbox"));
    post(cb, Result<std::pair<uint32_t, uint32_t>>(claim(mailbox_id, f->uidnext)));
  }

  // Structures are not kept here: the body always travels and the structure
  // is empty, so callers exercise their parse-on-demand path. With
  // `imap_renderer` set, reads without the body get its answer as the IMAP
  // renderings instead, as stored sends them (and no body).
  std::function<std::string(const std::string& body)> imap_renderer;
  std::shared_ptr<BodyStream> fetchMessages(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                                            bool with_body, OnMessage on_message, Done done,
                                            uint32_t /*imap_parts*/ = 0) override {
    auto render = with_body ? nullptr : imap_renderer;
    return fetchBodies(
        user, mailbox_id, std::move(uids),
        [on_message = std::move(on_message), render](uint32_t uid, Result<std::string> body) -> bool {
          if (!body.ok()) return on_message(uid, body.error());
          Fetched f;
          if (render) f.imap = render(body.value());
          else f.body = std::move(body.value());
          return on_message(uid, std::move(f));
        },
        std::move(done));
  }

  void storeFlags(StoreFlagsArgs a, Callback<StoreFlagsResult> cb) override {
    if (failed(cb)) return;
    Folder* f = findFolderById(a.user, a.mailbox_id);
    if (!f) return post(cb, Result<StoreFlagsResult>(ErrorCode::kNotFound, "no mailbox"));
    bool grew = false;
    uint64_t bits = (a.flags & flag::kSystemMask) | keywordBits(*f, a.keywords, a.op != FlagOp::kRemove, &grew);
    std::sort(a.uids.begin(), a.uids.end());
    a.uids.erase(std::unique(a.uids.begin(), a.uids.end()), a.uids.end());
    StoreFlagsResult res;
    uint64_t modseq = f->highestmodseq + 1;
    for (uint32_t uid : a.uids) {
      Stored* m = findMsg(*f, uid);
      if (!m) continue;
      if (a.unchanged_since != 0 && m->meta.modseq > a.unchanged_since) continue;
      uint64_t nf = a.op == FlagOp::kReplace ? bits : a.op == FlagOp::kAdd ? (m->meta.flags | bits)
                                                                           : (m->meta.flags & ~bits);
      if (nf == m->meta.flags) continue;
      m->meta.flags = nf;
      m->meta.modseq = modseq;
      res.changed.push_back(m->meta);
    }
    if (!res.changed.empty()) f->highestmodseq = modseq;
    res.keywords = f->keywords;
    std::vector<Change> changes;
    for (size_t i = 0; i < res.changed.size(); ++i) {
      Change c = change(Change::kFlags, a.user, *f, res.changed[i]);
      if (grew && i == 0) c.keywords = res.keywords;
      changes.push_back(c);
    }
    notify(changes);
    post(cb, Result<StoreFlagsResult>(res));
  }

  void expunge(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, bool only_deleted,
               Callback<std::vector<uint32_t>> cb) override {
    ++expunge_calls;
    if (failed(cb)) return;
    Folder* f = findFolderById(user, mailbox_id);
    if (!f) return post(cb, Result<std::vector<uint32_t>>(ErrorCode::kNotFound, "no mailbox"));
    std::vector<uint32_t> gone;
    std::vector<Change> changes;
    uint64_t modseq = f->highestmodseq + 1;
    std::erase_if(f->msgs, [&](const Stored& m) {
      bool hit = uids.empty() || std::find(uids.begin(), uids.end(), m.meta.uid) != uids.end();
      if (hit && only_deleted && !(m.meta.flags & flag::kDeleted)) hit = false;
      if (hit) {
        gone.push_back(m.meta.uid);
        MessageMeta meta = m.meta;
        meta.modseq = modseq;
        changes.push_back(change(Change::kExpunged, user, *f, meta));
      }
      return hit;
    });
    if (!gone.empty()) f->highestmodseq = modseq;
    notify(changes);
    post(cb, Result<std::vector<uint32_t>>(gone));
  }

  void copy(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, const std::string& destination,
            bool move, Callback<CopyResult> cb) override {
    if (failed(cb)) return;
    Folder* src = findFolderById(user, mailbox_id);
    Folder* dst = findFolder(user, destination);
    if (!src || !dst) return post(cb, Result<CopyResult>(ErrorCode::kNotFound, "no mailbox"));
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    CopyResult res;
    res.uidvalidity = dst->uidvalidity;
    std::vector<Stored> picked;
    for (uint32_t uid : uids)
      if (Stored* m = findMsg(*src, uid)) picked.push_back(*m);
    std::vector<Change> changes;
    bool grew = false;
    uint64_t dmodseq = dst->highestmodseq + 1;
    for (const auto& m : picked) {
      Stored n = m;
      uint64_t fl = m.meta.flags & flag::kSystemMask;
      std::vector<std::string> names;
      for (size_t i = 0; i < src->keywords.size(); ++i)
        if (m.meta.flags & (1ull << (flag::kKeywordBase + i))) names.push_back(src->keywords[i]);
      fl |= keywordBits(*dst, names, true, &grew);
      n.meta.flags = fl;
      n.meta.uid = dst->uidnext++;
      n.meta.modseq = dmodseq;
      dst->msgs.push_back(n);
      res.source_uids.push_back(m.meta.uid);
      res.dest_uids.push_back(n.meta.uid);
      changes.push_back(change(Change::kNew, user, *dst, n.meta));
    }
    if (!picked.empty()) dst->highestmodseq = dmodseq;
    if (grew && !changes.empty()) changes.front().keywords = dst->keywords;
    if (move && !picked.empty()) {
      uint64_t smodseq = src->highestmodseq + (src == dst ? 0 : 1);
      for (const auto& m : picked) {
        std::erase_if(src->msgs, [&](const Stored& s) { return s.meta.uid == m.meta.uid; });
        MessageMeta meta = m.meta;
        meta.modseq = smodseq;
        changes.push_back(change(Change::kExpunged, user, *src, meta));
      }
      src->highestmodseq = smodseq;
    }
    notify(changes);
    post(cb, Result<CopyResult>(res));
  }

  // Locks: owner and expiry (FakeStore::now_ms, advanced by tests) per
  // user + name, as stored/store_locks.h keeps them.
  void acquireLock(const std::string& user, const std::string& name, const std::string& owner,
                   uint32_t lease_ms, Done cb) override {
    ++lock_calls;
    if (failedDone(cb)) return;
    auto& l = locks[{user, name}];
    if (!l.first.empty() && l.first != owner && l.second > now_ms)
      return done(cb, Error{ErrorCode::kInUse, "locked by " + l.first});
    l = {owner, now_ms + lease_ms};
    done(cb, Error::none());
  }
  void releaseLock(const std::string& user, const std::string& name, const std::string& owner,
                   Done cb) override {
    auto it = locks.find({user, name});
    if (it != locks.end() && it->second.first == owner) locks.erase(it);
    done(cb, Error::none());
  }
  void releaseLocks(const std::string& owner_prefix, const std::string& keep_prefix,
                    Callback<uint32_t> cb) override {
    uint32_t n = 0;
    std::erase_if(locks, [&](const auto& kv) {
      const std::string& o = kv.second.first;
      bool hit = o.starts_with(owner_prefix) && (keep_prefix.empty() || !o.starts_with(keep_prefix));
      n += hit ? 1 : 0;
      return hit;
    });
    post(cb, Result<uint32_t>(n));
  }

  void watch(OnChanges on_changes, std::function<void()> on_resync) override {
    watchers_.emplace_back(std::move(on_changes), std::move(on_resync));
  }

  void unwatch(const std::string& user, uint64_t watcher, uint32_t count) override {
    ++unwatch_calls;
    if (watcher == watcher_id) feed_holds[user] -= int64_t(count);
  }

  void userSettings(const std::string& user, Callback<UserSettings> cb) override {
    if (failed(cb)) return;
    if (settings_error != ErrorCode::kOk) return post(cb, Result<UserSettings>(settings_error, "injected"));
    User* u = findUser(user);
    if (!u) return post(cb, Result<UserSettings>(ErrorCode::kNotFound, "no user"));
    post(cb, Result<UserSettings>(u->settings));
  }
  void userSettingsSummary(Callback<SettingsSummary> cb) override {
    if (failed(cb)) return;
    std::map<std::string, std::set<std::string>> seen;
    for (const auto& [name, u] : users)
      for (const auto& [k, v] : u.settings) seen[k].insert(v);
    SettingsSummary out;
    for (const auto& [k, vs] : seen) out[k].assign(vs.begin(), vs.end());
    post(cb, Result<SettingsSummary>(out));
  }
  // Stamps with `now`, like stored's retention clock.
  void markRetrieved(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, Done cb) override {
    ++mark_retrieved_calls;
    if (failedDone(cb)) return;
    Folder* f = findFolderById(user, mailbox_id);
    if (!f) return done(cb, Error{ErrorCode::kNotFound, "no mailbox"});
    for (uint32_t uid : uids)
      if (Stored* m = findMsg(*f, uid); m && m->retrieved == 0) m->retrieved = now;
    done(cb, Error::none());
  }
  void expireRetrieved(const std::string& user, const std::string& mailbox, int64_t max_age_s,
                       Callback<std::vector<uint32_t>> cb) override {
    ++expire_calls;
    if (failed(cb)) return;
    Folder* f = findFolder(user, mailbox.empty() ? "INBOX" : mailbox);
    if (!f) return post(cb, Result<std::vector<uint32_t>>(ErrorCode::kNotFound, "no mailbox"));
    std::vector<uint32_t> old;
    for (const auto& m : f->msgs)
      if (m.retrieved != 0 && m.retrieved <= now - max_age_s) old.push_back(m.meta.uid);
    if (old.empty()) return post(cb, Result<std::vector<uint32_t>>(old));
    expunge(user, f->id, old, false, std::move(cb));
  }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static bool iequal(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

  User* findUser(const std::string& user) {
    auto it = users.find(user);
    return it == users.end() ? nullptr : &it->second;
  }
  Folder& inboxOf(User& u) {
    auto it = u.folders.find("INBOX");
    if (it != u.folders.end()) return it->second;
    Folder& f = u.folders["INBOX"];
    f.id = next_folder_id_++;
    f.name = "INBOX";
    f.uidvalidity = uidvalidity + made_++;
    return f;
  }
  Folder* findFolder(const std::string& user, const std::string& name) {
    User* u = findUser(user);
    if (!u) return nullptr;
    if (name == "INBOX") return &inboxOf(*u);
    auto it = u->folders.find(name);
    return it == u->folders.end() ? nullptr : &it->second;
  }
  Folder* findFolderById(const std::string& user, uint32_t id) {
    User* u = findUser(user);
    if (!u) return nullptr;
    inboxOf(*u);
    for (auto& [n, f] : u->folders)
      if (f.id == id) return &f;
    return nullptr;
  }
  static Stored* findMsg(Folder& f, uint32_t uid) {
    for (auto& m : f.msgs)
      if (m.meta.uid == uid) return &m;
    return nullptr;
  }
  static uint64_t keywordBits(Folder& f, const std::vector<std::string>& kws, bool add, bool* grew) {
    uint64_t bits = 0;
    for (const auto& kw : kws) {
      int idx = -1;
      for (size_t i = 0; i < f.keywords.size(); ++i)
        if (iequal(f.keywords[i], kw)) idx = static_cast<int>(i);
      if (idx < 0) {
        if (!add || f.keywords.size() >= static_cast<size_t>(flag::kMaxKeywords)) continue;
        f.keywords.push_back(kw);
        idx = static_cast<int>(f.keywords.size()) - 1;
        *grew = true;
      }
      bits |= 1ull << (flag::kKeywordBase + idx);
    }
    return bits;
  }
  static MailboxInfo info(const Folder& f) {
    MailboxInfo i;
    i.id = f.id;
    i.name = f.name;
    i.uidvalidity = f.uidvalidity;
    i.uidnext = f.uidnext;
    i.highestmodseq = f.highestmodseq;
    i.keywords = f.keywords;
    for (const auto& m : f.msgs) {
      ++i.messages;
      if (!(m.meta.flags & flag::kSeen)) ++i.unseen;
      i.size += m.meta.size;
    }
    return i;
  }
  static Change change(Change::Kind kind, const std::string& user, const Folder& f, const MessageMeta& meta) {
    Change c;
    c.kind = kind;
    c.user = user;
    c.mailbox_id = f.id;
    c.meta = meta;
    return c;
  }
  static Change mailboxChange(const std::string& user, uint32_t id) {
    Change c;
    c.kind = Change::kMailbox;
    c.user = user;
    c.mailbox_id = id;
    return c;
  }
  // Posted before the reply that caused it, so a session sees its own
  // changes (and ignores them) before its command completes.
  void notify(std::vector<Change> changes) {
    if (changes.empty() || drop_changes) return;
    for (auto& w : watchers_) {
      auto f = w.first;
      loop_.post([f, changes] { f(changes); });
    }
  }
  template <typename T>
  void post(Callback<T> cb, Result<T> r) {
    loop_.post([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
  }
  void done(Done cb, Error e) {
    loop_.post([cb = std::move(cb), e = std::move(e)]() mutable { cb(std::move(e)); });
  }
  template <typename T>
  bool failed(Callback<T>& cb) {
    if (fail_all == ErrorCode::kOk) return false;
    post(cb, Result<T>(fail_all, "injected"));
    return true;
  }
  bool failedDone(Done& cb) {
    if (fail_all == ErrorCode::kOk) return false;
    done(cb, Error{fail_all, "injected"});
    return true;
  }

  EventLoop& loop_;
  std::vector<std::pair<OnChanges, std::function<void()>>> watchers_;
  std::vector<std::weak_ptr<Stream>> held_;
  uint32_t next_folder_id_ = 1;
  uint32_t made_ = 0;
};

}  // namespace postern::testing
