// Typed argument helpers: sequence sets, strings, flags, dates, mailbox names.
#include <doctest/doctest.h>

#include <vector>

#include "types.h"

namespace postern::imap {
namespace {

using Range = SequenceSet::Range;

Arg atom(std::string v) {
  Arg a;
  a.value = std::move(v);
  return a;
}

Arg quoted(std::string v) {
  Arg a;
  a.type = Arg::kQuoted;
  a.value = std::move(v);
  return a;
}

Arg list(std::vector<Arg> items) {
  Arg a;
  a.type = Arg::kList;
  a.list = std::move(items);
  return a;
}

TEST_CASE("sequence set parsing") {
  auto s = SequenceSet::parse("1,3:5,7:*,*");
  REQUIRE(s);
  CHECK(s->ranges() == std::vector<Range>{{1, 1}, {3, 5}, {7, SequenceSet::kStar},
                                          {SequenceSet::kStar, SequenceSet::kStar}});
  CHECK(s->usesStar());
  CHECK(s->maxExplicit() == 7);
  CHECK(s->toString() == "1,3:5,7:*,*");

  CHECK(SequenceSet::parse("4294967295"));
  for (const char* bad : {"", "0", "1:0", "01", "1:", ":1", ",1", "1,", "1,,2", "a", "1:2:3",
                          "4294967296", "-1", " 1", "$"}) {
    CAPTURE(bad);
    auto r = SequenceSet::parse(bad);
    CHECK_FALSE(r);
    CHECK(r.reason() == "Invalid sequence set");
  }
  auto saved = SequenceSet::parse("$", true);
  REQUIRE(saved);
  CHECK(saved->saved());
  CHECK_FALSE(SequenceSet::fromArg(quoted("1:2")));
  CHECK(SequenceSet::fromArg(atom("1:2")));
}

TEST_CASE("sequence set resolution: reversed ranges, star, clamping") {
  auto s = SequenceSet::parse("5:2,8:*,20");
  REQUIRE(s);
  CHECK(s->resolve(10) == std::vector<Range>{{2, 5}, {8, 10}, {20, 20}});
  CHECK(s->resolve(30) == std::vector<Range>{{2, 5}, {8, 30}});
  CHECK(s->clamp(10) == std::vector<Range>{{2, 5}, {8, 10}});
  CHECK(s->clamp(0).empty());
  CHECK(s->contains(3, 10));
  CHECK_FALSE(s->contains(6, 10));
  CHECK(s->contains(9, 10));
  CHECK(s->contains(20, 10));

  // "*:4" with 3 messages is 3:4 (RFC 3501: "*" is the largest number in use).
  auto t = SequenceSet::parse("*:4");
  REQUIRE(t);
  CHECK(t->resolve(3) == std::vector<Range>{{3, 4}});
  CHECK(t->contains(3, 3));

  // Adjacent and overlapping ranges merge.
  auto m = SequenceSet::parse("1:3,4,2:6,10");
  REQUIRE(m);
  CHECK(m->resolve(100) == std::vector<Range>{{1, 6}, {10, 10}});

  // Huge ranges are never materialised.
  auto h = SequenceSet::parse("1:4294967295,4294967295");
  REQUIRE(h);
  CHECK(h->resolve(5) == std::vector<Range>{{1, 4294967295u}});
  CHECK(h->contains(4000000000u, 5));
  CHECK(h->clamp(5) == std::vector<Range>{{1, 5}});
}

TEST_CASE("sequence set selects UIDs") {
  const std::vector<uint32_t> uids = {1, 5, 9, 100};
  auto sel = [&](const char* text) { return SequenceSet::parse(text)->select(uids); };
  CHECK(sel("2:9") == std::vector<uint32_t>{5, 9});
  CHECK(sel("*") == std::vector<uint32_t>{100});
  CHECK(sel("200:*") == std::vector<uint32_t>{100});  // "559:*" always includes the last UID
  CHECK(sel("1:*") == uids);
  CHECK(sel("9,1,9:5") == std::vector<uint32_t>{1, 5, 9});
  CHECK(sel("2:4").empty());
  CHECK(SequenceSet::parse("1:*")->select(std::vector<uint32_t>{}).empty());
  CHECK(SequenceSet::format(std::vector<uint32_t>{1, 2, 3, 7, 9, 10}) == "1:3,7,9:10");
  CHECK(SequenceSet::format(std::vector<uint32_t>{}).empty());
}

TEST_CASE("astring and string extraction") {
  CHECK(argAstring(atom("INBOX")) == "INBOX");
  CHECK(argAstring(atom("a]b")) == "a]b");
  CHECK_FALSE(argAstring(atom("a%b")));
  CHECK_FALSE(argAstring(atom("a*")));
  CHECK_FALSE(argAstring(atom("BODY[HEADER.FIELDS (A)]")));
  CHECK(argAstring(quoted("")) == "");
  CHECK_FALSE(argAstring(list({})));
  Arg nil = atom("nil");
  nil.type = Arg::kNil;
  CHECK(argAstring(nil) == "nil");
  CHECK_FALSE(argString(atom("x")));
  CHECK(argString(quoted("x")) == "x");
  CHECK(argListMailbox(atom("%/*")) == "%/*");
  CHECK_FALSE(argListMailbox(atom("a\\b")));
  CHECK(argAtom(atom("SINCE")) == "SINCE");
  CHECK_FALSE(argAtom(quoted("SINCE")));
}

TEST_CASE("flag lists") {
  auto f = parseFlagList(list({atom("\\seen"), atom("\\ANSWERED"), atom("$Label1"), atom("foo"),
                               atom("FOO")}));
  REQUIRE(f);
  CHECK(f->system == (kFlagSeen | kFlagAnswered));
  CHECK(f->keywords == std::vector<std::string>{"$Label1", "foo"});
  CHECK(f->hasKeyword("$label1"));
  CHECK(parseFlagList(list({}))->system == 0);

  CHECK(parseFlagList(list({atom("\\Recent")})).reason() == "Can't set the \\Recent flag");
  CHECK(parseFlagList(list({atom("\\Recent")}), true)->has(kFlagRecent));
  CHECK_FALSE(parseFlagList(list({atom("\\Foo")})));
  CHECK_FALSE(parseFlagList(list({atom("a]b")})));
  CHECK_FALSE(parseFlagList(list({atom("a%")})));
  CHECK_FALSE(parseFlagList(list({quoted("x")})));
  CHECK_FALSE(parseFlagList(atom("\\Seen")));

  std::vector<Arg> bare = {atom("\\Deleted"), atom("\\Draft"), atom("\\Flagged")};
  auto s = parseStoreFlags(bare);
  REQUIRE(s);
  CHECK(s->system == (kFlagDeleted | kFlagDraft | kFlagFlagged));
  std::vector<Arg> one = {list({atom("\\Seen")})};
  CHECK(parseStoreFlags(one)->system == kFlagSeen);
  CHECK_FALSE(parseStoreFlags({}));

  CHECK(parseStoreAction("FLAGS")->op == StoreAction::kReplace);
  CHECK(parseStoreAction("+flags")->op == StoreAction::kAdd);
  auto a = parseStoreAction("-FLAGS.SILENT");
  REQUIRE(a);
  CHECK(a->op == StoreAction::kRemove);
  CHECK(a->silent);
  CHECK_FALSE(parseStoreAction("*FLAGS"));
  CHECK_FALSE(parseStoreAction("FLAGS.LOUD"));
}

TEST_CASE("dates") {
  CHECK(parseDate("1-Feb-1994") == Date{1994, 2, 1});
  CHECK(parseDate("01-feb-1994") == Date{1994, 2, 1});
  CHECK(parseDate("29-Feb-2024") == Date{2024, 2, 29});
  for (const char* bad : {"29-Feb-2023", "31-Apr-2000", "0-Jan-2000", "1-Foo-1994", "1-Feb-94",
                          "1 Feb 1994", "123-Feb-1994", "1-Feb-1994x", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(parseDate(bad));
  }
  CHECK(Date{1970, 1, 1}.daysSinceEpoch() == 0);
  CHECK(Date{1969, 12, 31}.daysSinceEpoch() == -1);
  CHECK(dateFromDays(Date{2024, 2, 29}.daysSinceEpoch()) == Date{2024, 2, 29});
}

TEST_CASE("date-time parse and INTERNALDATE format round trip") {
  auto dt = parseDateTime("17-Jul-1996 02:44:25 -0700");
  REQUIRE(dt);
  CHECK(dt->utc == 837596665);
  CHECK(dt->tzOffsetMinutes == -420);
  CHECK(formatDateTime(dt->utc, dt->tzOffsetMinutes) == "17-Jul-1996 02:44:25 -0700");

  auto padded = parseDateTime(" 7-Jul-1996 02:44:25 +0130");
  REQUIRE(padded);
  CHECK(formatDateTime(padded->utc, padded->tzOffsetMinutes) == " 7-Jul-1996 02:44:25 +0130");
  CHECK(parseDateTime("07-Jul-1996 02:44:25 +0130") == padded);

  CHECK(formatDateTime(1709251199, 0) == "29-Feb-2024 23:59:59 +0000");
  CHECK(formatDateTime(1709251199, 60) == " 1-Mar-2024 00:59:59 +0100");
  CHECK(formatDateTime(-86400, 0) == "31-Dec-1969 00:00:00 +0000");

  for (const char* bad : {"17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:44:25", "17-Jul-1996 2:44:25 +0000",
                          "17-Jul-1996 02:60:00 +0000", "17-Jul-1996 02:44:25 +0060",
                          "17-Jul-1996 02:44:25 0700", "\"17-Jul-1996 02:44:25 -0700\""}) {
    CAPTURE(bad);
    CHECK_FALSE(parseDateTime(bad));
  }
}

TEST_CASE("mailbox names") {
  CHECK(normalizeMailbox("inbox") == "INBOX");
  CHECK(normalizeMailbox("InBoX/Sub") == "INBOX/Sub");
  CHECK(normalizeMailbox("InBoX.Sub", '.') == "INBOX.Sub");
  CHECK(normalizeMailbox("inboxes") == "inboxes");
  CHECK(normalizeMailbox("Sent") == "Sent");
}

TEST_CASE("modified UTF-7 (RFC 3501 5.1.3)") {
  const std::string utf8 = "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
  CHECK(mutf7ToUtf8("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == utf8);
  CHECK(utf8ToMutf7(utf8) == "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  CHECK(mutf7ToUtf8("a&-b") == "a&b");
  CHECK(utf8ToMutf7("a&b") == "a&-b");
  CHECK(utf8ToMutf7("plain") == "plain");

  const std::string emoji = "x\xf0\x9f\x98\x80y";  // U+1F600, a surrogate pair
  auto enc = utf8ToMutf7(emoji);
  REQUIRE(enc);
  CHECK(*enc == "x&2D3eAA-y");
  CHECK(mutf7ToUtf8(*enc) == emoji);

  for (const char* bad : {"&", "&U,BTFw", "&AGE-", "a\xc3\xa9", "&Jjo-&Jjo-", "&U,BTF-",
                          "&2D0-", "&3gA-", "&U/BTFw-", "tab\there"}) {
    CAPTURE(bad);
    CHECK_FALSE(isValidMutf7(bad));
  }
  CHECK(isValidMutf7("&Jjo-&-"));
  CHECK_FALSE(utf8ToMutf7("\xff"));
  CHECK_FALSE(utf8ToMutf7("\xc0\xaf"));        // overlong "/"
  CHECK_FALSE(utf8ToMutf7("\xed\xa0\x80"));    // encoded surrogate
}

}  // namespace
}  // namespace postern::imap
