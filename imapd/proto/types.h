#pragma once
// Typed views of generic IMAP arguments (parser.h Arg): sequence sets,
// strings, flags, dates and mailbox names. Pure functions, no I/O. Every
// failure carries a short reason meant for the client ("<tag> BAD <reason>").
// FETCH attributes are in fetch.h, modified UTF-7 in mutf7.h.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mutf7.h"
#include "parser.h"

namespace postern::imap {

// A syntax failure with a client-facing reason.
struct Bad {
  std::string reason;
};

// A value or a Bad. (postern::Error's message must never reach clients;
// these reasons are written for them, hence a separate type.)
template <typename T>
class Parsed {
 public:
  Parsed(T value) : value_(std::move(value)) {}  // NOLINT(implicit)
  Parsed(Bad bad) : reason_(std::move(bad.reason)) {}  // NOLINT(implicit)

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  const std::string& reason() const { return reason_; }

 private:
  std::optional<T> value_;
  std::string reason_;
};

// ---- sequence sets (RFC 3501 sequence-set, RFC 5182 "$") -----------------

class SequenceSet {
 public:
  static constexpr uint32_t kStar = 0;  // "*" in a Range (0 is never a valid number)
  struct Range {
    uint32_t first = 0;
    uint32_t last = 0;
    bool operator==(const Range&) const = default;
  };

  // "1,3:5,7:*,*", ranges may be reversed ("5:2" == "2:5"). "$" only when
  // allowSaved. Numbers are nz-number (1..4294967295, no leading zero).
  static Parsed<SequenceSet> parse(std::string_view text, bool allowSaved = false);
  // Same, from an atom argument.
  static Parsed<SequenceSet> fromArg(const Arg& arg, bool allowSaved = false);

  bool saved() const { return saved_; }  // the set is "$"
  const std::vector<Range>& ranges() const { return ranges_; }  // as sent
  bool usesStar() const;
  // Largest number written explicitly (not "*"), 0 if none. A handler
  // checks message sequence numbers against EXISTS with this.
  uint32_t maxExplicit() const;

  // "*" replaced by `star` (the highest MSN or UID in use, 0 when the
  // mailbox is empty), each range ordered, sorted and merged. Never
  // materialises the numbers, so "1:4294967295" costs one Range.
  std::vector<Range> resolve(uint32_t star) const;
  // resolve(count) limited to 1..count (message sequence numbers).
  std::vector<Range> clamp(uint32_t count) const;
  bool contains(uint32_t value, uint32_t star) const;
  // The members of `sorted` (ascending UIDs of a mailbox) in the set, with
  // "*" = sorted.back(). O(ranges * log n + result).
  std::vector<uint32_t> select(std::span<const uint32_t> sorted) const;

  std::string toString() const;
  // Compact sequence-set text for ascending values ("1:3,7"), "" if empty.
  static std::string format(std::span<const uint32_t> sorted);

 private:
  std::vector<Range> ranges_;
  bool saved_ = false;
};

// ---- strings ---------------------------------------------------------------

// astring: an atom of ASTRING-CHARs (NIL counts as the atom "NIL"), a quoted
// string or a literal. nullopt for lists and atoms with other characters.
std::optional<std::string_view> argAstring(const Arg& arg);
// string: quoted or literal only.
std::optional<std::string_view> argString(const Arg& arg);
// list-mailbox (LIST/LSUB patterns): astring that may also contain "%" "*".
std::optional<std::string_view> argListMailbox(const Arg& arg);
// An atom (NIL included), e.g. a search key or a command keyword.
std::optional<std::string_view> argAtom(const Arg& arg);

bool isAstringChar(char c);
bool iequals(std::string_view a, std::string_view b);  // ASCII case-insensitive
std::string toUpper(std::string_view s);               // ASCII

// ---- flags -----------------------------------------------------------------

enum SystemFlag : uint8_t {
  kFlagSeen = 1,
  kFlagAnswered = 2,
  kFlagFlagged = 4,
  kFlagDeleted = 8,
  kFlagDraft = 16,
  kFlagRecent = 32,
};

struct FlagSet {
  uint8_t system = 0;                 // SystemFlag bits
  std::vector<std::string> keywords;  // as sent, unique case-insensitively

  bool has(SystemFlag f) const { return (system & f) != 0; }
  bool hasKeyword(std::string_view keyword) const;  // case-insensitive
  bool operator==(const FlagSet&) const = default;
};

// "\Seen" for kFlagSeen etc.
std::string_view systemFlagName(SystemFlag flag);
// A flag-list "(" [flag *(SP flag)] ")" (APPEND). System flags are
// case-insensitive; other "\X" flags are refused, and so is \Recent unless
// allowRecent (it can never be set by a client).
Parsed<FlagSet> parseFlagList(const Arg& list, bool allowRecent = false);
// STORE's flags: one flag-list, or one or more bare flags.
Parsed<FlagSet> parseStoreFlags(std::span<const Arg> args, bool allowRecent = false);

struct StoreAction {
  enum Op { kReplace, kAdd, kRemove };
  Op op = kReplace;
  bool silent = false;
};
// "FLAGS", "+FLAGS", "-FLAGS.SILENT", ... (case-insensitive).
std::optional<StoreAction> parseStoreAction(std::string_view atom);

// ---- dates -----------------------------------------------------------------

struct Date {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;
  int64_t daysSinceEpoch() const;  // 1970-01-01 is 0
  bool operator==(const Date&) const = default;
};

struct DateTime {
  int64_t utc = 0;           // seconds since the epoch
  int tzOffsetMinutes = 0;   // -0700 is -420
  bool operator==(const DateTime&) const = default;
};

// date-text "1-Feb-1994" (month case-insensitive); SEARCH passes the atom or
// the quoted string's contents.
std::optional<Date> parseDate(std::string_view text);
// date-time contents without the quotes: "17-Jul-1996 02:44:25 -0700"; the
// day may be " 7", "07" or "7".
std::optional<DateTime> parseDateTime(std::string_view text);
// INTERNALDATE text without quotes, day space-padded: " 7-Jul-1996 02:44:25 -0700".
std::string formatDateTime(int64_t utc, int tzOffsetMinutes);
Date dateFromDays(int64_t daysSinceEpoch);

// ---- mailbox names ---------------------------------------------------------

// "inbox" (any case) becomes "INBOX", and so does the INBOX part of
// "inbox<delimiter>child". Other names are returned unchanged.
std::string normalizeMailbox(std::string_view name, char delimiter = '/');

}  // namespace postern::imap
