#pragma once
// The store itself: users, mailboxes and messages in one LMDB environment.
// No gRPC here (store_service.cc translates); tests drive it directly.
//
// Threading: every method is thread-safe. Reads run in their own read-only
// LMDB transactions, concurrently. Writes are queued to one writer thread
// that runs up to `batch_max` queued writes in one write transaction (each
// inside a nested transaction, so a failing write rolls back only itself),
// commits once (fsync) and only then returns to each caller: a write method
// blocks until its data is durable. After each commit the changes are
// published on changes().
//
// Names: user names are case-insensitive (canonical lower-case, 1-64 chars of
// [a-z0-9._-@+]). Mailbox names use "/" as hierarchy delimiter; "INBOX" (and
// the INBOX prefix of its children) is case-insensitive.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "auth_cache.h"
#include "bodystructure.h"
#include "list_cache.h"
#include "change_hub.h"
#include "error.h"
#include "store_client.h"
#include "write_ahead.h"

typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;

namespace postern::stored {

struct EngineDbs;  // LMDB database handles (engine_internal.h)

struct EngineOptions {
  std::string path;                // LMDB environment directory (must exist)
  uint64_t map_size_mb = 16384;
  uint32_t batch_max = 512;        // writes per commit
  uint64_t max_message_size = 50ull << 20;
  size_t watch_backlog = 100000;   // ChangeHub per-subscriber limit
  uint32_t auth_cache_ttl_s = 300;  // verified-credential cache (auth_cache.h); 0 = off
  size_t auth_cache_max = 100000;   // entries
  size_t max_subscriptions = 10000;  // per user
  size_t list_cache_bytes = 64u << 20;  // SELECT's lists of large mailboxes (list_cache.h); 0 = off
  size_t list_cache_min_messages = 1024;  // shorter lists are read each time
  size_t recent_kept = 10000;  // mailboxes with unsaved \Recent claims before they are saved (claimRecent)
  uint64_t write_ahead_mb = 32;  // the file kept written this far past its used end (write_ahead.h); 0 = off
};

struct UserSummary {
  std::string name;
  uint32_t id = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  std::vector<std::string> denied_protocols;
  std::string password_scheme = {};    // "SCRYPT", "SHA512-CRYPT", ... (password.h); never the hash
  std::vector<std::string> scram = {};  // "SCRAM-SHA-1", "SCRAM-SHA-256": keys present
};

// One line of a Dovecot passwd-file import (importPasswd).
struct ImportLineResult {
  uint32_t line = 0;
  std::string user;
  bool imported = false;
  std::string detail;  // imported: the scheme; skipped: why (never the hash)
};

struct ExpungeResult {
  std::vector<uint32_t> expunged;  // ascending
  uint64_t modseq = 0;             // mailbox HIGHESTMODSEQ afterwards
};

class StoreEngine {
 public:
  // Opens (creating if needed) the environment in opts.path. kUnavailable on failure.
  static Result<std::unique_ptr<StoreEngine>> open(const EngineOptions& opts);
  ~StoreEngine();  // close()
  StoreEngine(const StoreEngine&) = delete;
  StoreEngine& operator=(const StoreEngine&) = delete;

  // Finishes every queued write, stops the writer, closes the hub and LMDB.
  // Later calls fail with kUnavailable. Idempotent.
  void close();

  // ---- users ----
  // Returns the canonical name; kAuthFailed for unknown user or wrong password.
  Result<std::string> authenticate(const std::string& user, const std::string& password);
  // The same, then kDenied when `protocol` is disabled for the user (only
  // after a correct password, so it reveals nothing to guessers).
  Result<std::string> authenticate(const std::string& user, const std::string& password,
                                   const std::string& protocol);
  // Enables or disables a protocol ("imap", "pop3") for the user.
  Error setProtocolAccess(const std::string& user, const std::string& protocol, bool allowed);
  // Creates the user and its INBOX. kExists, kBadArgs (bad name).
  Error addUser(const std::string& user, const std::string& password);
  Error deleteUser(const std::string& user);
  Error setPassword(const std::string& user, const std::string& password);
  // SCRAM keys of `user` for "SCRAM-SHA-1" / "SCRAM-SHA-256", with `denied`
  // set when `protocol` is disabled for the user. Unknown users, and users
  // without keys for this mechanism (legacy hash: logged), get stable
  // made-up keys, indistinguishable from real ones (kBadArgs only for an
  // unknown mechanism). Cheap: no hashing.
  Result<ScramSecrets> scramSecrets(const std::string& user, const std::string& mechanism,
                                    const std::string& protocol);
  // Imports Dovecot passwd-file lines ("user:{SCHEME}hash[:...]"); blank
  // lines and '#' comments are ignored, every other line gets a result,
  // numbered from `first_line`. New users are created (with INBOX); an
  // existing user is skipped unless `replace`, which sets the password.
  // {PLAIN} is hashed natively at once; other schemes are kept and upgraded
  // at the user's next successful login. One transaction; kUnavailable etc.
  // only when the store itself fails.
  Result<std::vector<ImportLineResult>> importPasswd(const std::vector<std::string>& lines, uint32_t first_line,
                                                     bool replace);
  Result<std::vector<bool>> usersExist(const std::vector<std::string>& users);
  Result<std::vector<UserSummary>> listUsers();
  Result<bool> hasUsers();

  // ---- mailboxes ----
  Result<std::vector<MailboxInfo>> listMailboxes(const std::string& user);
  Result<MailboxInfo> getMailbox(const std::string& user, const std::string& name);
  Error createMailbox(const std::string& user, const std::string& name);
  // kBadArgs for INBOX, kNotFound when absent. Children are kept.
  Error deleteMailbox(const std::string& user, const std::string& name);
  // Renames children too. Renaming INBOX moves its messages to a new mailbox.
  Error renameMailbox(const std::string& user, const std::string& from, const std::string& to);
  // The subscription list is the user's own: names need not exist, DELETE
  // keeps them, RENAME moves them. kLimit past options max_subscriptions.
  Error subscribe(const std::string& user, const std::string& name, bool on);
  Result<std::vector<std::string>> listSubscriptions(const std::string& user);
  Result<SelectedMailbox> selectMailbox(const std::string& user, const std::string& name);
  // The same with the list shared: from the list cache (list_cache.h) when
  // the mailbox has not changed since it was read, else read and kept.
  struct SharedSelect {
    MailboxInfo mailbox;
    ListCache::List messages;  // never null
  };
  Result<SharedSelect> selectMailboxShared(const std::string& user, const std::string& name);
  // \Recent: hands the caller every uid no session has claimed yet, as
  // [from, to); later callers get none of them, so exactly one session
  // sees each new message as recent. An empty range when there are none.
  // Claims are kept in memory, not written at once: a claim is one read
  // transaction, never a queued write behind deliveries (it sits between a
  // delivery and every IDLE session's EXISTS). They reach the mailbox
  // record (recent_uid) at close() and whenever more than
  // EngineOptions::recent_kept mailboxes hold unsaved claims (a save queued,
  // never waited for: the writer thread claims for appendAsync); after a crash, messages claimed since
  // may be shown as \Recent once more (RFC 3501 2.3.2 asks no more).
  // With `up_to` set, only uids below it: the claim of a session that knows
  // the mailbox only so far (SELECT's snapshot, the session's own APPEND);
  // later messages are claimed by whoever hears of them first.
  Result<std::pair<uint32_t, uint32_t>> claimRecent(const std::string& user, uint32_t mailbox_id,
                                                    uint32_t up_to = 0);
  // Writes the unsaved claims into the mailbox records (one write); the
  // async form does not wait (see the ...Async forms below).
  Error persistRecent();
  void persistRecentAsync(std::function<void(Error)> done);

  // ---- messages ----
  // The writes below come in two forms: one that returns once the write's
  // group commit landed, and one (...Async) that returns at once and tells
  // `done` then, on the writer thread (so `done` must be quick: the gRPC
  // service only hands the response to gRPC), or at once on the caller's
  // thread when the arguments are refused or the store is shutting down.
  // They call `done` exactly once, or throw (bad_alloc, before anything is
  // queued) and never call it.
  template <class T>
  using Done = std::function<void(Result<T>)>;
  Result<AppendResult> append(const AppendArgs& args);
  void appendAsync(AppendArgs args, Done<AppendResult> done);
  // One transaction; one result per user in order (kNotFound for an unknown
  // user only). An empty or missing `mailbox` delivers to INBOX.
  std::vector<Error> deliver(const std::vector<std::string>& users, const std::string& mailbox,
                             const std::string& body);
  void deliverAsync(std::vector<std::string> users, std::string mailbox, std::string body,
                    std::function<void(std::vector<Error>)> done);
  // Calls on_body once per uid in order: the body, or kExpunged (no such
  // uid) / kCorrupt (checksum mismatch) for that uid. Stops early when
  // on_body returns false. Returns non-OK only when the mailbox is unusable.
  using OnBody = std::function<bool(uint32_t uid, Result<std::string> body)>;
  Error fetchBodies(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                    const OnBody& on_body);
  // The same, with each message's serialised MIME structure (stored at
  // delivery; parsed on demand for bodies stored before structures were
  // kept). With `with_body` false only the structure is read; with
  // `header_only` the body is cut to its header block as
  // StoreClient::headerBlock() cuts it, checked by the header block's own
  // checksum (version-2 bodies), and no structure is read.
  // Messages are read in groups, one short read transaction per group
  // (kFetchGroup messages or kFetchGroupBytes), and handed over outside it:
  // a slow consumer never pins old pages.
  // Without the body, the IMAP renderings kept at delivery (db "imap") come
  // instead of the structure; bodies stored before them get the structure.
  struct Fetched {
    std::string body;       // empty unless with_body
    std::string structure;  // mime::serialise() form
    std::string imap;       // imap::renderAll() form (only without the body)
  };
  using OnMessage = std::function<bool(uint32_t uid, Result<Fetched> msg)>;
  Error fetchMessages(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                      bool with_body, const OnMessage& on_message, bool header_only = false,
                      uint32_t imap_parts = 0);
  // A structure-only read of the renderings kept at delivery (FetchBodies'
  // packed form): from uids[*pos] on, at most kFetchGroup messages in one
  // read transaction, each handed to `on` as a view valid only during the
  // call (the renderings, parsed by imap::parseRendered), or kExpunged /
  // kCorrupt for that uid; *pos advances past each. Stops early when `on`
  // returns false, and at a message without usable renderings (older
  // bodies, a damaged value) with *pos at it and *slow set: the caller reads
  // that one through fetchMessages (its structure). Non-OK only when the
  // mailbox is unusable.
  using OnRendering = std::function<bool(uint32_t uid, Result<imap::Rendered> rendered)>;
  Error readRenderings(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                       size_t* pos, bool* slow, const OnRendering& on);
  // SEARCH BODY / TEXT from the search texts kept at delivery (db "text"):
  // see StoreClient::searchText. kBadArgs for more than kMaxTextNeedles.
  // Read in groups of kSearchGroup messages, one read transaction each.
  Result<TextSearchResult> searchText(const std::string& user, uint32_t mailbox_id,
                                      const std::vector<uint32_t>& uids, const std::vector<TextNeedle>& needles);
  static constexpr size_t kSearchGroup = 4096;
  static constexpr size_t kFetchGroup = 256;
  static constexpr size_t kFetchGroupBytes = 4 << 20;
  // ---- integrity ----
  struct Damaged {
    std::string user, mailbox;
    uint32_t uid = 0;
    std::string reason;
  };
  struct VerifyReport {
    uint64_t checked = 0;  // messages read
    std::vector<Damaged> damaged;
  };
  // Reads every message of `user` (or of every user when empty) and checks
  // its integrity. Slow (reads all bodies); never holds a long transaction.
  Result<VerifyReport> verify(const std::string& user);

  // Unknown uids are ignored. kLimit when the keyword table would overflow.
  Result<StoreFlagsResult> storeFlags(const StoreFlagsArgs& args);
  void storeFlagsAsync(StoreFlagsArgs args, Done<StoreFlagsResult> done);
  Result<ExpungeResult> expunge(const std::string& user, uint32_t mailbox_id,
                                const std::vector<uint32_t>& uids, bool only_deleted);
  void expungeAsync(const std::string& user, uint32_t mailbox_id, std::vector<uint32_t> uids, bool only_deleted,
                    Done<ExpungeResult> done);
  // kNotFound when the destination does not exist (TRYCREATE).
  Result<CopyResult> copy(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids,
                          const std::string& destination, bool move);

  // ---- per-user settings and POP3 retention (store_pop3.cc) ----
  // The config keys a user may override, in order.
  static const std::vector<std::string>& userSettingKeys();
  // The user's overrides (key -> value as in the config file). kNotFound.
  Result<std::map<std::string, std::string>> userSettings(const std::string& user);
  // Sets `key` for `user` (validated like the config file), or removes the
  // override when `value` is empty. kBadArgs for another key or a bad value.
  Error setUserSetting(const std::string& user, const std::string& key, const std::string& value);
  // For every key some user has set, the distinct values (sorted). Cached
  // between changes: cheap enough for every CAPA before a POP3 login.
  Result<std::map<std::string, std::vector<std::string>>> userSettingsSummary();
  // Stamps each of `uids` not stamped yet with retentionNow(): its first
  // POP3 retrieval. Unknown uids are skipped; nothing is published.
  Error markRetrieved(const std::string& user, uint32_t mailbox_id, const std::vector<uint32_t>& uids);
  // Expunges from `mailbox` (empty = INBOX) the messages stamped at least
  // max_age_s seconds before retentionNow() (0: every stamped one), as
  // expunge() does; a message never stamped is never touched.
  Result<ExpungeResult> expireRetrieved(const std::string& user, const std::string& mailbox, int64_t max_age_s);
  // The stamp of one message (0: none), for tests and tools. kNotFound.
  Result<int64_t> retrievedAt(const std::string& user, uint32_t mailbox_id, uint32_t uid);
  // The retention clock: wall clock (unix seconds) + an offset that tests
  // set (posternctl debug clock-offset); the offset is not persisted.
  int64_t retentionNow() const;
  void setClockOffset(int64_t seconds) { clock_offset_ = seconds; }

  ChangeHub& changes() { return *hub_; }
  // The bytes LMDB uses (its last page's end) and the file's size (more:
  // written ahead, or pages freed at the end).
  struct FileUse {
    uint64_t used = 0;
    uint64_t size = 0;
  };
  FileUse fileUse() const;
  uint64_t commitCount() const { return commits_.load(); }
  uint64_t writeCount() const { return writes_.load(); }
  // Verified-credential cache, and how many real password hashes
  // authenticate() has checked (tests: a cache hit checks none).
  AuthCache& authCache() { return auth_cache_; }
  uint64_t passwordVerifications() const { return password_verifications_.load(); }
  ListCache& listCache() { return list_cache_; }

 private:
  struct WriteOp;
  class Reader;
  friend class Reader;
  // A write body: runs inside a nested write txn; appends its changes.
  using WriteFn = std::function<Error(MDB_txn* txn, std::vector<Change>* changes)>;
  // Told the write's result once its commit landed (or failed): on the
  // writer thread, so it must be quick; at once on the caller's thread when
  // the store is shutting down.
  using WriteDone = std::function<void(Error)>;

  explicit StoreEngine(const EngineOptions& opts);
  Error init();
  // After a successful login with `password`: rewrites a legacy hash (or a
  // native one missing its SCRAM keys) as native hash + SCRAM keys, unless the
  // password changed meanwhile (store_auth.cc).
  void upgradePassword(const std::string& name, const std::string& password, const std::string& old_hash);
  // The secret behind the made-up SCRAM keys (meta kMetaScramSecret), created
  // on first use.
  Result<std::string> scramSecret();
  // The first uid not claimed as \Recent: the record's or a newer claim's.
  // Caller holds recent_mu_.
  uint32_t recentUidLocked(uint32_t mailbox_id, uint32_t record_uid) const;
  // Queues `fn` for the writer and waits for its commit.
  Error runWrite(WriteFn fn);
  // The same without waiting: `done` gets the result (see WriteDone).
  void runWriteAsync(WriteFn fn, WriteDone done);
  void writerLoop();
  // Between commits, while no write is queued: one step of write-ahead.
  WriteAhead::Step idleStep();

  EngineOptions opts_;
  MDB_env* env_ = nullptr;
  std::unique_ptr<EngineDbs> dbs_;
  std::shared_ptr<ChangeHub> hub_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<WriteOp>> queue_;
  bool stopping_ = false;
  bool closed_ = false;
  std::thread writer_;
  std::unique_ptr<WriteAhead> write_ahead_;  // used by the writer thread only
  bool ahead_synced_ = false;  // under mu_: write-ahead's chunk synced (wakes the writer)
  uint64_t page_size_ = 4096;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> writes_{0};
  std::mutex close_mu_;
  mutable std::shared_mutex env_mu_;  // shared by readers (and fileUse), exclusive for close
  std::atomic<int64_t> clock_offset_{0};
  // userSettingsSummary() cache; settings_gen_ moves at every settings change
  // or user deletion.
  std::atomic<uint64_t> settings_gen_{1};
  std::mutex summary_mu_;
  uint64_t summary_gen_ = 0;
  std::map<std::string, std::vector<std::string>> summary_;
  std::mutex secret_mu_;
  std::string scram_secret_;  // cached kMetaScramSecret
  AuthCache auth_cache_{opts_.auth_cache_ttl_s, opts_.auth_cache_max};  // after opts_
  std::atomic<uint64_t> password_verifications_{0};
  ListCache list_cache_{opts_.list_cache_bytes, opts_.list_cache_min_messages};  // after opts_
  // \Recent claims not yet in the mailbox records: mailbox id -> (user id,
  // first uid not claimed). Claims read the record inside recent_mu_, so a
  // claim after persistRecent() erased an entry sees the record it wrote.
  struct RecentClaim {
    uint32_t user_id = 0;
    uint32_t next_uid = 0;
  };
  std::mutex recent_mu_;
  std::unordered_map<uint32_t, RecentClaim> recent_;
  std::atomic<bool> recent_flushing_{false};
};

// Canonical user name, or kBadArgs.
Result<std::string> canonicalUser(std::string_view name);
// Canonical mailbox name ("inbox/x" -> "INBOX/x"), or kBadArgs.
Result<std::string> canonicalMailbox(std::string_view name);

}  // namespace postern::stored
