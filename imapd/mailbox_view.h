#pragma once
// The selected mailbox as this session's client sees it: the message
// sequence (uid, flags, modseq in sequence order) plus changes made by
// others that have not been announced yet. Changes are queued and turned
// into untagged EXISTS / EXPUNGE / FETCH responses only at points where
// RFC 3501 (7.4.1) allows them; no store or socket in here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store_client.h"

namespace postern::imapd {

class MailboxView {
 public:
  // Takes the message list over (100,000 entries at a big SELECT: no copy).
  MailboxView(SelectedMailbox sel, bool read_only);

  uint32_t id() const { return info_.id; }
  // The change feed holding this mailbox's user for the view (SelectedMailbox::watcher).
  uint64_t watcher() const { return watcher_; }
  // The select's feed had broken and come back before its answer (SelectedMailbox::feed_stale).
  bool feedStale() const { return feed_stale_; }
  const std::string& name() const { return info_.name; }
  bool readOnly() const { return read_only_; }
  uint32_t uidValidity() const { return info_.uidvalidity; }
  uint32_t uidNext() const;
  uint64_t highestModseq() const { return info_.highestmodseq; }
  const std::vector<std::string>& keywords() const { return info_.keywords; }
  uint32_t count() const { return static_cast<uint32_t>(msgs_.size()); }
  const MessageMeta& at(uint32_t seq) const { return msgs_[seq - 1]; }  // 1-based
  // Sequence number of `uid`, or 0.
  uint32_t seqOf(uint32_t uid) const;
  uint32_t firstUnseen() const;  // 0 = none
  uint32_t maxUid() const { return msgs_.empty() ? 0 : msgs_.back().uid; }
  // True once `uid` is in the view or queued to be announced (or older than
  // anything the view was built from).
  bool knows(uint32_t uid) const { return uid <= max_known_uid_; }

  // Queues a change from the feed (ignores ones already known).
  void queue(const Change& c);
  bool hasPending() const { return !pending_.empty() || keywords_changed_ || recent_changed_; }

  // Applies our own STORE result at once (no queueing).
  void applyFlags(const std::vector<MessageMeta>& changed, const std::vector<std::string>& keywords);

  // Turns queued changes into untagged responses ("* 3 EXPUNGE\r\n", ...).
  // With allow_expunge false, expunges stay queued (during FETCH, STORE,
  // SEARCH) and only flags and new messages are announced.
  std::string flush(bool allow_expunge, bool with_uid_in_fetch);
  // Removes `uids` now (our own EXPUNGE), returning the EXPUNGE responses.
  std::string expungeNow(const std::vector<uint32_t>& uids);

  // Queues the differences to a fresh snapshot (after the change feed broke)
  // and takes its watcher. Returns false if UIDVALIDITY changed: the session
  // must end.
  bool resync(const SelectedMailbox& fresh);

  // "(\Seen \Flagged $Junk)".
  std::string flagList(uint64_t flags) const;
  // The same for one message, with \Recent when this session holds it.
  std::string flagsOf(const MessageMeta& m) const;

  // \Recent: the uids [from, to) this session claimed from the store.
  void addRecent(uint32_t from, uint32_t to);
  bool isRecent(uint32_t uid) const;
  uint32_t recentCount() const;
  // True when new messages were announced that nobody has claimed yet
  // (the session then asks the store; cleared by takeClaimNeeded()).
  bool takeClaimNeeded();
  // True when queued new messages will be announced at the next flush and
  // some are not this session's \Recent yet: a session that claims before
  // it flushes can then report EXISTS and the right RECENT together (as
  // Dovecot does) instead of RECENT one command later. Read-only: false.
  bool unclaimedNewPending() const;
  // The RECENT count went out with the SELECT response.
  void markRecentAnnounced() { recent_changed_ = false; }
  // "(\Answered \Flagged \Deleted \Seen \Draft kw...)" for FLAGS/PERMANENTFLAGS.
  std::string allFlags(bool permanent) const;

 private:
  MailboxInfo info_;
  uint64_t watcher_ = 0;
  bool feed_stale_ = false;
  bool read_only_;
  std::vector<MessageMeta> msgs_;
  std::vector<Change> pending_;
  bool keywords_changed_ = false;
  uint32_t max_known_uid_ = 0;  // highest uid seen (announced or queued)
  std::vector<std::pair<uint32_t, uint32_t>> recent_;  // claimed [from, to) ranges
  bool recent_changed_ = false;  // announce "* N RECENT" at the next flush
  bool claim_needed_ = false;
};

}  // namespace postern::imapd
