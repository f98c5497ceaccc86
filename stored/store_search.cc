// SEARCH BODY / TEXT and header keys from the search texts kept beside each body (db "text",
// keys.h; mime/search_text.h): no body is read, decoded or sent.
#include "crc32c.h"
#include "engine_internal.h"
#include "mime/decode.h"
#include "mime/search_text.h"

namespace postern::stored {

using namespace detail;

Result<TextSearchResult> StoreEngine::searchText(const std::string& user, uint32_t mailbox_id,
                                                 const std::vector<uint32_t>& uids,
                                                 const std::vector<TextNeedle>& needles) {
  if (needles.size() > kMaxTextNeedles)
    return Error{ErrorCode::kBadArgs, "at most " + std::to_string(kMaxTextNeedles) + " search strings"};
  for (const auto& n : needles)
    if (n.scope == mime::SearchScope::kField && !mime::searchableField(n.field))
      return Error{ErrorCode::kBadArgs, "header field name not searchable in search texts"};
  std::vector<std::string> folded;
  for (const auto& n : needles) folded.push_back(mime::foldCase(n.text));
  uint32_t user_id = 0;
  {
    Reader rd(this);
    auto u = rd.user(user);
    if (!u.ok()) return u.error();
    user_id = u->id();
  }
  TextSearchResult res;
  for (size_t next = 0; next < uids.size();) {
    Reader rd(this);
    if (!rd.error().ok()) return rd.error();
    const Dbs& d = rd.dbs();
    if (!loadMailboxById(rd.txn(), d, user_id, mailbox_id).ok())
      return Error{ErrorCode::kNotFound, "mailbox deleted"};
    SeqReader messages(rd.txn(), d.messages), texts(rd.txn(), d.text);
    for (size_t end = std::min(uids.size(), next + kSearchGroup); next < end; ++next) {
      const uint32_t uid = uids[next];
      rec::Message m;
      auto r = messages.getRec(keys::messageKey(mailbox_id, uid), &m);
      if (!r.ok()) {
        res.unindexed.push_back(uid);  // an unreadable record: the scan reports it
        continue;
      }
      if (!*r) continue;  // expunged
      std::string_view v;
      auto t = texts.get(keys::bodyKey(m.body_id()), &v);
      std::optional<mime::SearchText> st;
      if (t.ok() && *t && v.size() >= keys::kTextHeader && uint8_t(v[0]) == keys::kTextVersion)
        st = mime::SearchText::parse(v.substr(keys::kTextHeader));
      // Absent (stored before search texts) or damaged: the caller scans it.
      if (!st || crc32c(st->filterBlock()) != keys::getBe32(v.data() + 1)) {
        res.unindexed.push_back(uid);
        continue;
      }
      uint64_t mask = 0;
      bool texts_checked = false, damaged = false;
      for (size_t i = 0; i < folded.size() && !damaged; ++i) {
        if (!st->mayContain(folded[i])) continue;
        if (!texts_checked) {
          texts_checked = true;
          damaged = crc32c(st->texts()) != keys::getBe32(v.data() + 5);
          if (damaged) break;
        }
        if (st->contains(folded[i], needles[i].scope, needles[i].field)) mask |= uint64_t(1) << i;
      }
      if (damaged) res.unindexed.push_back(uid);
      else if (mask != 0) res.hits.emplace_back(uid, mask);
    }
  }
  return res;
}

}  // namespace postern::stored
