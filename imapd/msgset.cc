#include "msgset.h"

namespace postern::imapd {

imap::Parsed<std::vector<uint32_t>> resolveSeqs(const MailboxView& v, const imap::Arg& arg, bool uid) {
  auto set = imap::SequenceSet::fromArg(arg);
  if (!set) return imap::Bad{set.reason()};
  std::vector<uint32_t> seqs;
  if (uid) {
    std::vector<uint32_t> all;
    all.reserve(v.count());
    for (uint32_t s = 1; s <= v.count(); ++s) all.push_back(v.at(s).uid);
    for (uint32_t u : set->select(all)) seqs.push_back(v.seqOf(u));
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
