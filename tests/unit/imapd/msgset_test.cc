// resolveSeqs: sequence sets and UID sets to the view's sequence numbers.
#include <doctest/doctest.h>

#include "msgset.h"
#include "view_util.h"

using namespace postern;
using namespace postern::imapd;

namespace {

MailboxView view(std::initializer_list<uint32_t> uids) { return MailboxView(test::box(uids), false); }

std::vector<uint32_t> seqs(const MailboxView& v, const char* set, bool uid) {
  imap::Arg a;
  a.value = set;
  auto r = resolveSeqs(v, a, uid);
  REQUIRE_MESSAGE(r.ok(), set);
  return r.value();
}

}  // namespace

TEST_CASE("resolveSeqs: UID sets name the sequence numbers of the uids in the view") {
  auto v = view({3, 5, 9, 12, 20});
  CHECK(seqs(v, "4:12", true) == std::vector<uint32_t>{2, 3, 4});
  CHECK(seqs(v, "*", true) == std::vector<uint32_t>{5});
  CHECK(seqs(v, "1:100", true) == std::vector<uint32_t>{1, 2, 3, 4, 5});
  CHECK(seqs(v, "20,3", true) == std::vector<uint32_t>{1, 5});
  CHECK(seqs(v, "6:8,21:30", true).empty());
  CHECK(seqs(v, "3:4,12:19", true) == std::vector<uint32_t>{1, 4});
  CHECK(seqs(view({}), "1:*", true).empty());
}

TEST_CASE("resolveSeqs: message sequence numbers") {
  auto v = view({3, 5, 9});
  CHECK(seqs(v, "2:*", false) == std::vector<uint32_t>{2, 3});
  CHECK(seqs(v, "3,1", false) == std::vector<uint32_t>{1, 3});
  imap::Arg past;
  past.value = "4";
  CHECK_FALSE(resolveSeqs(v, past, false).ok());
}
