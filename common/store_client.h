#pragma once
// The abstract store client every protocol handler talks to. The gRPC
// implementation (store_client_grpc.cc, the only worker file that includes
// the store stubs) never blocks: each call returns at once and its callback
// runs later on the owning EventLoop's thread. A transport failure (stored
// down or restarting) arrives as ErrorCode::kUnavailable; nothing throws.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "mime/header.h"
#include "mime/search_text.h"

namespace postern {

// System flag bits; keyword i of a mailbox is bit kKeywordBase + i.
namespace flag {
inline constexpr uint64_t kSeen = 1u << 0;
inline constexpr uint64_t kAnswered = 1u << 1;
inline constexpr uint64_t kFlagged = 1u << 2;
inline constexpr uint64_t kDeleted = 1u << 3;
inline constexpr uint64_t kDraft = 1u << 4;
inline constexpr uint64_t kSystemMask = 0x1f;
inline constexpr int kKeywordBase = 5;
inline constexpr int kMaxKeywords = 64 - kKeywordBase;
}  // namespace flag

struct MailboxInfo {
  uint32_t id = 0;
  std::string name;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highestmodseq = 0;
  uint32_t messages = 0;
  uint32_t unseen = 0;
  uint32_t recent = 0;
  std::vector<std::string> keywords;  // index i <-> flag bit kKeywordBase + i
  uint64_t size = 0;
};

struct MessageMeta {
  uint32_t uid = 0;
  uint64_t flags = 0;
  uint64_t modseq = 0;
  uint32_t size = 0;
  int64_t internaldate = 0;  // unix seconds
  int32_t tzoffset = 0;      // minutes east of UTC
};

struct SelectedMailbox {
  MailboxInfo mailbox;
  std::vector<MessageMeta> messages;  // ascending uid
  // \Recent claimed with the select (selectMailbox's claim_recent): [from, to).
  uint32_t recent_from = 0, recent_to = 0;
  // The change feed (watch) this select made hold the user's changes, to be
  // released with unwatch() once the mailbox is no longer selected; 0: none.
  uint64_t watcher = 0;
  // The feed broke and came back between the select and its answer (or came
  // up meanwhile): changes may have gone by that neither the snapshot nor
  // the feed carries; the mailbox must be read again (a resync).
  bool feed_stale = false;
};

struct AppendArgs {
  std::string user;
  std::string mailbox;
  uint64_t flags = 0;  // system bits
  std::vector<std::string> keywords;
  int64_t internaldate = 0;  // 0 = now
  int32_t tzoffset = 0;
  std::string body;  // CRLF-normalised
  // The appending session has the mailbox selected read-write: claim
  // \Recent for it up to the new message (claimRecent with up_to = uid + 1)
  // in the same call, instead of a claim round trip once it hears of it.
  bool claim_recent = false;
};
struct AppendResult {
  uint32_t uidvalidity = 0;
  uint32_t uid = 0;
  uint64_t modseq = 0;
  uint32_t recent_from = 0, recent_to = 0;  // claimed \Recent [from, to)
};

enum class FlagOp { kReplace, kAdd, kRemove };
struct StoreFlagsArgs {
  std::string user;
  uint32_t mailbox_id = 0;
  std::vector<uint32_t> uids;
  FlagOp op = FlagOp::kReplace;
  uint64_t flags = 0;  // system bits
  std::vector<std::string> keywords;
  uint64_t unchanged_since = 0;
};
struct StoreFlagsResult {
  std::vector<MessageMeta> changed;   // uid, flags, modseq
  std::vector<std::string> keywords;  // mailbox keyword table afterwards
};

struct CopyResult {
  uint32_t uidvalidity = 0;
  std::vector<uint32_t> source_uids;
  std::vector<uint32_t> dest_uids;
};

// SEARCH BODY / TEXT and the header keys answered from the search texts
// stored keeps at delivery (mime/search_text.h). A needle as sent (UTF-8,
// not folded), where it is looked for, and for kField the field name
// (mime::searchableField()).
struct TextNeedle {
  std::string text;
  mime::SearchScope scope = mime::SearchScope::kBody;
  std::string field;
};
struct TextSearchResult {
  // Messages without a usable search text (stored before it was kept, or
  // damaged): the caller decides them by a scan of the message.
  std::vector<uint32_t> unindexed;
  // The others that contain at least one needle: uid and a mask, bit i set
  // when needles[i] is in the message. Uids gone from the mailbox are in
  // neither list.
  std::vector<std::pair<uint32_t, uint64_t>> hits;
};
inline constexpr size_t kMaxTextNeedles = 64;

struct Change {
  enum Kind { kNew, kFlags, kExpunged, kMailbox } kind = kNew;
  std::string user;
  uint32_t mailbox_id = 0;
  MessageMeta meta;                   // uid/flags/modseq/size/date as relevant
  std::vector<std::string> keywords;  // new keyword table, when it grew
};

// A running FetchBodies stream. resume() continues a paused stream;
// cancel() stops it (the done callback still runs, with kTemp). Loop thread only.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual void resume() = 0;
  virtual void cancel() = 0;
};

// SCRAM keys of a user (RFC 5802 section 3), as stored keeps them. For an
// unknown user, or one whose keys do not exist yet (legacy password hash),
// stored answers with made-up keys that look real, so that the exchange
// fails exactly like a wrong password. `denied`: the protocol asked for is
// disabled for the user (to be told only after a correct proof).
struct ScramSecrets {
  std::string user;  // canonical
  std::string salt;
  uint32_t iterations = 0;
  std::string stored_key;
  std::string server_key;
  bool denied = false;
};

class StoreClient {
 public:
  template <typename T>
  using Callback = std::function<void(Result<T>)>;
  using Done = std::function<void(Error)>;
  // Returns true to receive the next message now, false to pause until
  // BodyStream::resume(). A message that cannot be read (corrupt, gone)
  // arrives as an error for that uid only; the stream goes on.
  using OnBody = std::function<bool(uint32_t uid, Result<std::string> body)>;
  // A message with its serialised MIME structure (mime::serialise form,
  // computed once at delivery); `body` is empty when only the structure
  // was asked for.
  struct Fetched {
    std::string body;
    std::string structure;
    // Without the body (fetchMessages with_body false), from stored when it
    // keeps them, instead of `structure`: imap::renderAll() form.
    std::string imap;
  };
  using OnMessage = std::function<bool(uint32_t uid, Result<Fetched> msg)>;
  using OnChanges = std::function<void(const std::vector<Change>&)>;

  virtual ~StoreClient() = default;

  // Returns the canonical user name on success; kAuthFailed for a wrong
  // user or password, kDenied when `protocol` (imap, pop3) is disabled for
  // the user.
  virtual void authenticate(const std::string& user, const std::string& password, const std::string& protocol,
                            Callback<std::string> cb) = 0;
  virtual void userExists(const std::vector<std::string>& users, Callback<std::vector<bool>> cb) = 0;
  // SCRAM credentials of `user` for `mechanism` ("SCRAM-SHA-1",
  // "SCRAM-SHA-256"), checked against `protocol` (imap, pop3). Not pure, so
  // test fakes need not implement it: the default answers kUnavailable.
  virtual void scramSecrets(const std::string& user, const std::string& mechanism, const std::string& protocol,
                            Callback<ScramSecrets> cb) {
    cb(Error{ErrorCode::kUnavailable, "SCRAM credentials not available from this store client"});
  }

  virtual void listMailboxes(const std::string& user, Callback<std::vector<MailboxInfo>> cb) = 0;
  virtual void getMailbox(const std::string& user, const std::string& name, Callback<MailboxInfo> cb) = 0;
  virtual void createMailbox(const std::string& user, const std::string& name, Done cb) = 0;
  virtual void deleteMailbox(const std::string& user, const std::string& name, Done cb) = 0;
  virtual void renameMailbox(const std::string& user, const std::string& from, const std::string& to,
                             Done cb) = 0;
  // Subscribing needs no existing mailbox; DELETE keeps the subscription,
  // RENAME moves it (RFC 3501 6.3.4, 6.3.6).
  virtual void subscribe(const std::string& user, const std::string& name, bool on, Done cb) = 0;
  virtual void listSubscriptions(const std::string& user, Callback<std::vector<std::string>> cb) = 0;
  // With `claim_recent` (SELECT, not EXAMINE) the call also claims \Recent
  // up to the listed messages (claimRecent below, in the same round trip).
  virtual void selectMailbox(const std::string& user, const std::string& name, bool claim_recent,
                             Callback<SelectedMailbox> cb) = 0;

  virtual void append(AppendArgs args, Callback<AppendResult> cb) = 0;
  // One result per user, in order. Durable before the callback runs.
  virtual void deliver(const std::vector<std::string>& users, const std::string& mailbox,
                       std::string body, Callback<std::vector<Error>> cb) = 0;
  // \Recent: the uids [first, second) no session has seen yet become this
  // caller's (empty range when none). Exactly one session gets each.
  virtual void claimRecent(const std::string& user, uint32_t mailbox_id,
                           Callback<std::pair<uint32_t, uint32_t>> cb) = 0;

  // Like fetchBodies, with each message's structure; with `with_body` false
  // only structures travel (FETCH ENVELOPE / BODYSTRUCTURE of a big mailbox).
  // `imap_parts`: without the body, which IMAP renderings are wanted
  // (imap::RenderedPart bits; the others come empty); 0 = all.
  virtual std::shared_ptr<BodyStream> fetchMessages(const std::string& user, uint32_t mailbox_id,
                                                    std::vector<uint32_t> uids, bool with_body,
                                                    OnMessage on_message, Done done, uint32_t imap_parts = 0) = 0;
  virtual std::shared_ptr<BodyStream> fetchBodies(const std::string& user, uint32_t mailbox_id,
                                                  std::vector<uint32_t> uids, OnBody on_body,
                                                  Done done) = 0;
  // Like fetchBodies, but each message arrives cut to its header block:
  // up to and including the first empty line (CRLF CRLF), just the CRLF if
  // the message starts with one, the whole message if it has no empty line
  // (SEARCH FROM / SUBJECT / HEADER / SENT*). stored sends only those bytes;
  // this default, for clients that cannot, cuts full bodies.
  static std::string headerBlock(std::string body) {
    body.resize(mime::headerBlockSize(body));
    return body;
  }
  virtual std::shared_ptr<BodyStream> fetchHeaders(const std::string& user, uint32_t mailbox_id,
                                                   std::vector<uint32_t> uids, OnBody on_header, Done done) {
    return fetchBodies(
        user, mailbox_id, std::move(uids),
        [on_header = std::move(on_header)](uint32_t uid, Result<std::string> body) -> bool {
          if (!body.ok()) return on_header(uid, body.error());
          return on_header(uid, headerBlock(std::move(body.value())));
        },
        std::move(done));
  }
  // Which of `uids` contain which of `needles` (at most kMaxTextNeedles),
  // exactly as mime::bodyContains / headerContains decide it.
  // This default, for a store without search texts, lists every uid as
  // unindexed: the caller then scans them all.
  virtual void searchText(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                          std::vector<TextNeedle> needles, Callback<TextSearchResult> cb) {
    (void)user, (void)mailbox_id, (void)needles;
    TextSearchResult r;
    r.unindexed = std::move(uids);
    cb(std::move(r));
  }
  virtual void storeFlags(StoreFlagsArgs args, Callback<StoreFlagsResult> cb) = 0;
  // Returns the uids expunged. Empty `uids` means every message.
  virtual void expunge(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                       bool only_deleted, Callback<std::vector<uint32_t>> cb) = 0;
  virtual void copy(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids,
                    const std::string& destination, bool move, Callback<CopyResult> cb) = 0;

  // Advisory locks kept by stored in memory with a lease (the POP3 maildrop
  // lock; stored/store_locks.h). acquireLock takes lock `name` of `user` for
  // `owner` for lease_ms, or renews it for its current owner; kInUse when
  // another owner holds it. releaseLock frees it if `owner` holds it.
  // releaseLocks frees the locks of every owner starting with owner_prefix
  // but not with keep_prefix (a restarted worker frees its predecessor's)
  // and returns how many. A stored restart drops every lock.
  virtual void acquireLock(const std::string& user, const std::string& name, const std::string& owner,
                           uint32_t lease_ms, Done cb) = 0;
  virtual void releaseLock(const std::string& user, const std::string& name, const std::string& owner,
                           Done cb) = 0;
  virtual void releaseLocks(const std::string& owner_prefix, const std::string& keep_prefix,
                            Callback<uint32_t> cb) = 0;

  // Starts the change feed. `on_changes` runs on the loop thread for every
  // batch; `on_resync` runs after the feed was re-established following a
  // break (changes may have been missed: sessions must re-read state), and
  // once it is up if a selectMailbox came before it could hold anything.
  // The feed carries at least the changes of the users a selectMailbox made
  // it hold (SelectedMailbox::watcher), from before that select read the
  // mailbox until unwatch() releases them; it may carry others.
  virtual void watch(OnChanges on_changes, std::function<void()> on_resync) = 0;
  // Releases `count` holds of feed `watcher` on `user`'s changes (no answer;
  // a feed that has since broken has none left to release).
  virtual void unwatch(const std::string& user, uint64_t watcher, uint32_t count) = 0;

  // ---- per-user settings and POP3 retention (stored/store_pop3.cc) ----
  // Not pure, so test fakes need not implement them: the defaults answer
  // kUnavailable. A user's overrides of config keys (pop3.expire,
  // pop3.login_delay, pop3.mark_seen), values as in the config file.
  using UserSettings = std::map<std::string, std::string>;
  virtual void userSettings(const std::string& user, Callback<UserSettings> cb) {
    (void)user;
    cb(Error{ErrorCode::kUnavailable, "user settings not available from this store client"});
  }
  // For every key some user has set, the distinct values set.
  using SettingsSummary = std::map<std::string, std::vector<std::string>>;
  virtual void userSettingsSummary(Callback<SettingsSummary> cb) {
    cb(Error{ErrorCode::kUnavailable, "user settings not available from this store client"});
  }
  // Stamps the first POP3 retrieval of each of `uids` (stamped ones keep
  // their time); durable before `cb` runs. Unknown uids are skipped.
  virtual void markRetrieved(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, Done cb) {
    (void)user, (void)mailbox_id, (void)uids;
    cb(Error{ErrorCode::kUnavailable, "retrieval times not available from this store client"});
  }
  // RFC 2449 EXPIRE: expunges from `mailbox` the messages first retrieved at
  // least max_age_s seconds ago (never one not retrieved); returns their uids.
  virtual void expireRetrieved(const std::string& user, const std::string& mailbox, int64_t max_age_s,
                               Callback<std::vector<uint32_t>> cb) {
    (void)user, (void)mailbox, (void)max_age_s;
    cb(Error{ErrorCode::kUnavailable, "retrieval times not available from this store client"});
  }
};

}  // namespace postern
