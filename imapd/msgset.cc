#include "msgset.h"

#include <algorithm>

namespace postern::imapd {

imap::Parsed<std::vector<uint32_t>> resolveSeqs(const MailboxView& v, const imap::Arg& arg, bool uid) {
  auto set = imap::SequenceSet::fromArg(arg);
  if (!set) return imap::Bad{set.reason()};
  std::vector<uint32_t> seqs;
  if (uid) {
    std::vector<uint32_t> all;
    all.reserve(v.count());
    for (uint32_t s = 1; s <= v.count(); ++s) all.push_back(v.at(s).uid);
    auto chosen = set->select(all);
    seqs.reserve(chosen.size());
    if (std::is_sorted(chosen.begin(), chosen.end())) {
      // One walk beside the view's uids (both ascending), not a search each.
      size_t i = 0;
      for (uint32_t u : chosen) {
        while (i < all.size() && all[i] < u) ++i;
        if (i < all.size() && all[i] == u) seqs.push_back(static_cast<uint32_t>(i + 1));
        else seqs.push_back(v.seqOf(u));  // not in the view: as seqOf says (0)
      }
    } else {
      for (uint32_t u : chosen) seqs.push_back(v.seqOf(u));
    }
    return seqs;
  }
  if (v.count() == 0 || set->maxExplicit() > v.count())
    return imap::Bad{"Invalid message sequence number"};
  for (const auto& r : set->clamp(v.count()))
    for (uint64_t s = r.first; s <= r.last; ++s) seqs.push_back(static_cast<uint32_t>(s));
  return seqs;
}

imap::Parsed<std::vector<uint32_t>> resolveSearchSeqs(const MailboxView& v, const imap::Arg& arg) {
  auto set = imap::SequenceSet::fromArg(arg);
  if (!set) return imap::Bad{set.reason()};
  std::vector<uint32_t> seqs;
  if (v.count() == 0) return seqs;
  for (const auto& r : set->clamp(v.count()))
    for (uint64_t s = r.first; s <= r.last; ++s) seqs.push_back(static_cast<uint32_t>(s));
  return seqs;
}

}  // namespace postern::imapd
