#pragma once
// The abstract store client every protocol handler talks to. The gRPC
// implementation (store_client_grpc.cc, the only worker file that includes
// the store stubs) never blocks: each call returns at once and its callback
// runs later on the owning EventLoop's thread. A transport failure (stored
// down or restarting) arrives as ErrorCode::kUnavailable; nothing throws.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error.h"

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
  bool subscribed = false;
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
};

struct AppendArgs {
  std::string user;
  std::string mailbox;
  uint64_t flags = 0;  // system bits
  std::vector<std::string> keywords;
  int64_t internaldate = 0;  // 0 = now
  int32_t tzoffset = 0;
  std::string body;  // CRLF-normalised
};
struct AppendResult {
  uint32_t uidvalidity = 0;
  uint32_t uid = 0;
  uint64_t modseq = 0;
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

  virtual void listMailboxes(const std::string& user, Callback<std::vector<MailboxInfo>> cb) = 0;
  virtual void getMailbox(const std::string& user, const std::string& name, Callback<MailboxInfo> cb) = 0;
  virtual void createMailbox(const std::string& user, const std::string& name, Done cb) = 0;
  virtual void deleteMailbox(const std::string& user, const std::string& name, Done cb) = 0;
  virtual void renameMailbox(const std::string& user, const std::string& from, const std::string& to,
                             Done cb) = 0;
  virtual void subscribe(const std::string& user, const std::string& name, bool on, Done cb) = 0;
  virtual void selectMailbox(const std::string& user, const std::string& name,
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
  virtual std::shared_ptr<BodyStream> fetchMessages(const std::string& user, uint32_t mailbox_id,
                                                    std::vector<uint32_t> uids, bool with_body,
                                                    OnMessage on_message, Done done) = 0;
  virtual std::shared_ptr<BodyStream> fetchBodies(const std::string& user, uint32_t mailbox_id,
                                                  std::vector<uint32_t> uids, OnBody on_body,
                                                  Done done) = 0;
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
  // break (changes may have been missed: sessions must re-read state).
  virtual void watch(OnChanges on_changes, std::function<void()> on_resync) = 0;
};

}  // namespace postern
