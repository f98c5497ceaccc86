// searchText: SEARCH BODY / TEXT / header keys from the search texts kept at
// delivery. Answers equal the scan's (mime::bodyContains / headerContains); messages
// without a usable search text come back as unindexed; the texts go with
// their body.
#include <map>

#include "crc32c.h"
#include "keys.h"
#include "mime/decode.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {

const std::string kPlain = "Subject: Lunch plans\r\nFrom: Bob <bob@example.org>\r\n\r\nMeet at NOON by the river.\r\n";
const std::string kQp =
    "Subject: =?iso-8859-1?q?K=F6ln?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nStra=DFe am Rhein, noon=\r\ntime\r\n";
const std::string kAttach =
    "Subject: report\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
    "see attached\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "bm9vbiBpbiBhIHBkZg==\r\n--b--\r\n";

constexpr auto B = mime::SearchScope::kBody, T = mime::SearchScope::kText, H = mime::SearchScope::kHeader,
               F = mime::SearchScope::kField;

// What the scan answers for one needle.
bool scan(const std::string& m, const TextNeedle& n) {
  const std::string_view header = std::string_view(m).substr(0, mime::headerBlockSize(m));
  switch (n.scope) {
    case mime::SearchScope::kBody: return mime::bodyContains(m, mime::parse(m), n.text);
    case mime::SearchScope::kText:
      return mime::bodyContains(m, mime::parse(m), n.text) || mime::headerContains(header, "", n.text);
    case mime::SearchScope::kHeader: return mime::headerContains(header, "", n.text);
    case mime::SearchScope::kField: return mime::headerContains(header, n.field, n.text);
  }
  return false;
}

// uid -> mask, and the unindexed uids.
struct Answer {
  std::map<uint32_t, uint64_t> hits;
  std::vector<uint32_t> unindexed;
};
Answer search(Fixture& f, uint32_t id, const std::vector<uint32_t>& uids, const std::vector<TextNeedle>& needles) {
  auto r = f.store->searchText("alice", id, uids, needles);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  Answer a;
  for (auto [uid, mask] : r->hits) a.hits[uid] = mask;
  a.unindexed = r->unindexed;
  return a;
}

}  // namespace

TEST_CASE("searchText: the scan's answers, per needle, for appended and delivered messages") {
  Fixture f;
  f.append("INBOX", kPlain);
  f.append("INBOX", kQp);
  REQUIRE(f.store->deliver({"alice"}, "", kAttach)[0].ok());
  const uint32_t id = f.mailboxId("INBOX");
  const std::vector<std::string> bodies = {kPlain, kQp, kAttach};
  const std::vector<TextNeedle> needles = {
      {"noon", B, ""}, {"NOON", T, ""}, {"köln", T, ""}, {"köln", B, ""}, {"STRASSE", B, ""}, {"straße", B, ""},
      {"attached", B, ""}, {"in a pdf", B, ""}, {"bob@example", T, ""}, {"bob@example", B, ""}, {"", B, ""},
      {"subject: lunch", T, ""}, {"e.\r\n", B, ""}, {"absent", T, ""}, {"LUNCH", F, "subject"},
      {"köln", F, "SUBJECT"}, {"bob", F, "From"}, {"bob", F, "to"}, {"subject: l", H, ""}, {"river", H, ""},
      {"", F, "subject"}, {"", F, "x-none"}, {"unch", F, "subjec"}};
  Answer a = search(f, id, {1, 2, 3, 99}, needles);  // 99: no such message
  CHECK(a.unindexed.empty());
  CHECK(a.hits.count(99) == 0);
  for (uint32_t uid = 1; uid <= 3; ++uid) {
    uint64_t want = 0;
    for (size_t i = 0; i < needles.size(); ++i)
      if (scan(bodies[uid - 1], needles[i])) want |= uint64_t(1) << i;
    CHECK_MESSAGE(a.hits[uid] == want, "uid " << uid);
  }
  // A few by hand, so the comparison above is not all it rests on.
  CHECK((a.hits[1] & 1) == 1);       // noon, BODY, any case
  CHECK((a.hits[2] & 1) == 1);       // "noon=\r\ntime": the soft break joins "noontime"
  CHECK((a.hits[2] >> 2 & 1) == 1);  // köln in the encoded Subject: TEXT
  CHECK((a.hits[2] >> 3 & 1) == 0);  // ... but not BODY
  CHECK((a.hits[3] >> 7 & 1) == 0);  // text inside a base64 PDF is not searched
  CHECK((a.hits[1] >> 11 & 1) == 1);
  CHECK((a.hits[1] >> 13 & 1) == 0);
  CHECK((a.hits[1] >> 14 & 1) == 1);  // SUBJECT lunch
  CHECK((a.hits[2] >> 15 & 1) == 1);  // SUBJECT köln, decoded
  CHECK((a.hits[1] >> 16 & 1) == 1);  // FROM bob
  CHECK((a.hits[1] >> 17 & 1) == 0);  // TO bob: no To field
  CHECK((a.hits[1] >> 19 & 1) == 0);  // "river" is in the body, not the header
  CHECK((a.hits[1] >> 20 & 1) == 1);  // HEADER Subject "": the field exists
  CHECK((a.hits[1] >> 21 & 1) == 0);  // ... X-None does not
  CHECK((a.hits[1] >> 22 & 1) == 0);  // a prefix of a field name is not the field
}

TEST_CASE("searchText: bodies without a usable search text are unindexed; texts go with the body") {
  Fixture f;
  f.append("INBOX", kPlain);
  f.append("INBOX", kQp);
  f.append("INBOX", kAttach);
  const uint32_t id = f.mailboxId("INBOX");
  const std::vector<TextNeedle> needles = {{"river", B, ""}};
  CHECK(search(f, id, {1, 2, 3}, needles).hits == std::map<uint32_t, uint64_t>{{1, 1}});
  // Damage: the filter of one value, the texts of another, the version of a third.
  f.store->close();
  int n = 0;
  CHECK(rewriteValues(f.dir.path, keys::kDbText, [&](std::string& v) {
          ++n;
          if (n == 1) v[v.size() - 4] ^= 0x20;               // in the texts ("river." -> "riveR.")
          if (n == 2) v[keys::kTextHeader + 4] ^= 1;         // in the filter
          if (n == 3) v[0] = char(keys::kTextVersion + 1);   // unknown version
          return true;
        }) == 3);
  f.store = openEngine(f.dir.path);
  Answer a = search(f, id, {1, 2, 3}, needles);
  CHECK(a.hits.empty());
  // The texts' checksum is read only when the filter passes: uid 1 (filter
  // passes for "river") is caught; uid 3's version is refused outright.
  CHECK(std::find(a.unindexed.begin(), a.unindexed.end(), 1u) != a.unindexed.end());
  CHECK(std::find(a.unindexed.begin(), a.unindexed.end(), 2u) != a.unindexed.end());
  CHECK(std::find(a.unindexed.begin(), a.unindexed.end(), 3u) != a.unindexed.end());
  // Bodies stored before search texts: unindexed.
  f.store->close();
  withStoreTxn(f.dir.path, true, [](MDB_txn* t) { REQUIRE(mdb_drop(t, openDb(t, keys::kDbText), 0) == 0); });
  f.store = openEngine(f.dir.path);
  CHECK(search(f, id, {1, 2, 3}, needles).unindexed == std::vector<uint32_t>{1, 2, 3});
  // New bodies get one; the last message of a body takes it along.
  f.append("INBOX", kPlain);
  CHECK(search(f, id, {4}, needles).hits == std::map<uint32_t, uint64_t>{{4, 1}});
  REQUIRE(f.store->expunge("alice", id, {}, false).ok());
  f.store->close();
  CHECK(dbEntries(f.dir.path, keys::kDbText) == 0);
  f.store = openEngine(f.dir.path);
}

TEST_CASE("searchText: limits and errors") {
  Fixture f;
  f.append("INBOX", kPlain);
  const uint32_t id = f.mailboxId("INBOX");
  std::vector<TextNeedle> many(kMaxTextNeedles + 1, TextNeedle{"x", B, ""});
  CHECK(f.store->searchText("alice", id, {1}, many).error().code == ErrorCode::kBadArgs);
  many.pop_back();
  many.back().text = "river";
  auto r = f.store->searchText("alice", id, {1}, many);
  REQUIRE(r.ok());
  REQUIRE(r->hits.size() == 1);
  CHECK(r->hits[0].second == uint64_t(1) << (kMaxTextNeedles - 1));
  CHECK(f.store->searchText("alice", id + 100, {1}, many).error().code == ErrorCode::kNotFound);
  CHECK(f.store->searchText("nobody", id, {1}, many).error().code == ErrorCode::kNotFound);
  // Many messages: more than one read group.
  for (int i = 0; i < int(StoreEngine::kSearchGroup) + 10; ++i) f.append("INBOX", i % 1000 == 7 ? kPlain : kQp);
  std::vector<uint32_t> uids;
  for (uint32_t u = 1; u <= StoreEngine::kSearchGroup + 11; ++u) uids.push_back(u);
  CHECK(f.store->searchText("alice", id, {1}, {{"x", F, "Bad Name"}}).error().code == ErrorCode::kBadArgs);
  CHECK(f.store->searchText("alice", id, {1}, {{"x", F, ""}}).error().code == ErrorCode::kBadArgs);
  auto all = f.store->searchText("alice", id, uids, {{"river", B, ""}});
  REQUIRE(all.ok());
  CHECK(all->hits.size() == 1 + 5);  // uid 1, and i = 7, 1007, 2007, 3007, 4007
  CHECK(all->unindexed.empty());
}

TEST_CASE("crc32c: the published check value, hardware and table paths agree") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32cTable("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  std::string s;
  for (int i = 0; i < 1000; ++i) {
    s += char(i * 7 + 3);
    CHECK(crc32c(s) == crc32cTable(s));  // every length: the 8-byte loop and its tail
  }
}
