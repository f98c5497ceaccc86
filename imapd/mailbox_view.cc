#include "mailbox_view.h"

#include <algorithm>

namespace postern::imapd {

MailboxView::MailboxView(SelectedMailbox sel, bool read_only)
    : info_(std::move(sel.mailbox)),
      watcher_(sel.watcher),
      feed_stale_(sel.feed_stale),
      read_only_(read_only),
      msgs_(std::move(sel.messages)) {
  max_known_uid_ = msgs_.empty() ? 0 : msgs_.back().uid;
  if (info_.uidnext > 0 && info_.uidnext - 1 > max_known_uid_) max_known_uid_ = info_.uidnext - 1;
}

uint32_t MailboxView::uidNext() const {
  uint32_t n = info_.uidnext;
  if (!msgs_.empty() && msgs_.back().uid >= n) n = msgs_.back().uid + 1;
  return n;
}

uint32_t MailboxView::seqOf(uint32_t uid) const {
  auto it = std::lower_bound(msgs_.begin(), msgs_.end(), uid,
                             [](const MessageMeta& m, uint32_t u) { return m.uid < u; });
  if (it == msgs_.end() || it->uid != uid) return 0;
  return static_cast<uint32_t>(it - msgs_.begin()) + 1;
}

uint32_t MailboxView::firstUnseen() const {
  for (size_t i = 0; i < msgs_.size(); ++i)
    if (!(msgs_[i].flags & flag::kSeen)) return static_cast<uint32_t>(i + 1);
  return 0;
}

void MailboxView::queue(const Change& c) {
  if (c.mailbox_id != info_.id) return;
  if (!c.keywords.empty() && c.keywords.size() > info_.keywords.size()) {
    info_.keywords = c.keywords;
    keywords_changed_ = true;
  }
  if (c.meta.modseq > info_.highestmodseq) info_.highestmodseq = c.meta.modseq;
  switch (c.kind) {
    case Change::kNew:
      if (c.meta.uid <= max_known_uid_) return;  // already in our snapshot
      max_known_uid_ = c.meta.uid;
      break;
    case Change::kFlags:
    case Change::kExpunged:
      break;
    case Change::kMailbox:
      return;
  }
  pending_.push_back(c);
}

void MailboxView::applyFlags(const std::vector<MessageMeta>& changed, const std::vector<std::string>& keywords) {
  if (keywords.size() > info_.keywords.size()) {
    info_.keywords = keywords;
    keywords_changed_ = true;
  }
  for (const auto& m : changed) {
    uint32_t seq = seqOf(m.uid);
    if (seq == 0) continue;
    auto& mine = msgs_[seq - 1];
    if (m.modseq >= mine.modseq) {
      mine.flags = m.flags;
      mine.modseq = m.modseq;
    }
    if (m.modseq > info_.highestmodseq) info_.highestmodseq = m.modseq;
  }
}

std::string MailboxView::flush(bool allow_expunge, bool with_uid_in_fetch) {
  std::string out;
  if (keywords_changed_) {
    out += "* FLAGS " + allFlags(false) + "\r\n";
    out += "* OK [PERMANENTFLAGS " + allFlags(true) + "] Flags permitted.\r\n";
    keywords_changed_ = false;
  }
  uint32_t old_count = count();
  std::vector<Change> keep;
  for (auto& c : pending_) {
    switch (c.kind) {
      case Change::kNew:
        if (!msgs_.empty() && c.meta.uid <= msgs_.back().uid) break;
        msgs_.push_back(c.meta);
        break;
      case Change::kFlags: {
        uint32_t seq = seqOf(c.meta.uid);
        if (seq == 0) break;
        auto& m = msgs_[seq - 1];
        if (c.meta.modseq <= m.modseq) break;  // we already know (our own STORE)
        m.flags = c.meta.flags;
        m.modseq = c.meta.modseq;
        out += "* " + std::to_string(seq) + " FETCH (";
        if (with_uid_in_fetch) out += "UID " + std::to_string(m.uid) + " ";
        out += "FLAGS " + flagsOf(m) + ")\r\n";
        break;
      }
      case Change::kExpunged: {
        if (!allow_expunge) {
          keep.push_back(c);
          break;
        }
        uint32_t seq = seqOf(c.meta.uid);
        if (seq == 0) break;
        // EXISTS for messages added before this expunge keeps the counts consistent.
        if (count() > old_count) {
          out += "* " + std::to_string(count()) + " EXISTS\r\n";
          old_count = count();
        }
        msgs_.erase(msgs_.begin() + (seq - 1));
        --old_count;
        out += "* " + std::to_string(seq) + " EXPUNGE\r\n";
        break;
      }
      case Change::kMailbox:
        break;
    }
  }
  pending_.swap(keep);
  if (count() != old_count) {
    out += "* " + std::to_string(count()) + " EXISTS\r\n";
    if (count() > old_count) {
      out += "* " + std::to_string(recentCount()) + " RECENT\r\n";
      recent_changed_ = false;
      // Claimed already (the session claims before it flushes when it can):
      // no need to ask the store again.
      for (size_t i = old_count; i < msgs_.size() && !read_only_; ++i)
        if (!isRecent(msgs_[i].uid)) {
          claim_needed_ = true;
          break;
        }
    }
  }
  if (recent_changed_) {
    out += "* " + std::to_string(recentCount()) + " RECENT\r\n";
    recent_changed_ = false;
  }
  return out;
}

std::string MailboxView::expungeNow(const std::vector<uint32_t>& uids) {
  std::string out;
  for (uint32_t uid : uids) {
    uint32_t seq = seqOf(uid);
    if (seq == 0) continue;
    msgs_.erase(msgs_.begin() + (seq - 1));
    out += "* " + std::to_string(seq) + " EXPUNGE\r\n";
  }
  return out;
}

bool MailboxView::resync(const SelectedMailbox& fresh) {
  if (fresh.mailbox.uidvalidity != info_.uidvalidity) return false;
  watcher_ = fresh.watcher;
  pending_.clear();
  const auto& now = fresh.messages;
  // New messages first: EXISTS then covers them before any EXPUNGE.
  uint32_t last = msgs_.empty() ? 0 : msgs_.back().uid;
  for (const auto& m : now) {
    if (m.uid <= last) continue;
    Change c;
    c.kind = Change::kNew;
    c.mailbox_id = info_.id;
    c.meta = m;
    pending_.push_back(c);
    if (m.uid > max_known_uid_) max_known_uid_ = m.uid;
  }
  size_t j = 0;
  for (const auto& m : msgs_) {
    while (j < now.size() && now[j].uid < m.uid) ++j;
    Change c;
    c.mailbox_id = info_.id;
    if (j < now.size() && now[j].uid == m.uid) {
      if (now[j].modseq != m.modseq || now[j].flags != m.flags) {
        c.kind = Change::kFlags;
        c.meta = now[j];
        if (c.meta.modseq <= m.modseq) c.meta.modseq = m.modseq + 1;  // force the update
        pending_.push_back(c);
      }
    } else {
      c.kind = Change::kExpunged;
      c.meta = m;
      pending_.push_back(c);
    }
  }
  if (fresh.mailbox.keywords.size() > info_.keywords.size()) {
    info_.keywords = fresh.mailbox.keywords;
    keywords_changed_ = true;
  }
  if (fresh.mailbox.highestmodseq > info_.highestmodseq) info_.highestmodseq = fresh.mailbox.highestmodseq;
  return true;
}

std::string MailboxView::flagList(uint64_t flags) const {
  static const char* kSys[] = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"};
  std::string out = "(";
  for (int i = 0; i < flag::kKeywordBase; ++i) {
    if (flags & (1ull << i)) {
      if (out.size() > 1) out += ' ';
      out += kSys[i];
    }
  }
  for (size_t k = 0; k < info_.keywords.size() && k < static_cast<size_t>(flag::kMaxKeywords); ++k) {
    if (flags & (1ull << (flag::kKeywordBase + k))) {
      if (out.size() > 1) out += ' ';
      out += info_.keywords[k];
    }
  }
  out += ')';
  return out;
}

std::string MailboxView::flagsOf(const MessageMeta& m) const {
  std::string f = flagList(m.flags);
  if (!isRecent(m.uid)) return f;
  return f.size() == 2 ? "(\\Recent)" : "(\\Recent " + f.substr(1);
}

void MailboxView::addRecent(uint32_t from, uint32_t to) {
  if (to <= from) return;
  recent_.emplace_back(from, to);
  recent_changed_ = true;
}

bool MailboxView::isRecent(uint32_t uid) const {
  for (const auto& [from, to] : recent_)
    if (uid >= from && uid < to) return true;
  return false;
}

uint32_t MailboxView::recentCount() const {
  if (recent_.empty()) return 0;
  uint32_t n = 0;
  for (const auto& m : msgs_)
    if (isRecent(m.uid)) ++n;
  return n;
}

bool MailboxView::unclaimedNewPending() const {
  if (read_only_) return false;
  uint32_t last = msgs_.empty() ? 0 : msgs_.back().uid;
  for (const auto& c : pending_)
    if (c.kind == Change::kNew && c.meta.uid > last && !isRecent(c.meta.uid)) return true;
  return false;
}

bool MailboxView::takeClaimNeeded() {
  bool n = claim_needed_;
  claim_needed_ = false;
  return n;
}

std::string MailboxView::allFlags(bool permanent) const {
  std::string out = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  for (const auto& k : info_.keywords) out += " " + k;
  // "\*": new keywords can be created - not once the mailbox's keyword
  // table is full (RFC 3501 7.1).
  if (permanent && !read_only_ && info_.keywords.size() < static_cast<size_t>(flag::kMaxKeywords)) out += " \\*";
  out += ")";
  if (permanent && read_only_) return "()";
  return out;
}

}  // namespace postern::imapd
