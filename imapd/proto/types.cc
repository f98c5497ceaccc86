#include "types.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace postern::imap {
namespace {

constexpr uint64_t kMaxNumber = 4294967295ULL;

// nz-number or "*" (kStar).
std::optional<uint32_t> parseSeqNumber(std::string_view s) {
  if (s == "*") return SequenceSet::kStar;
  if (s.empty() || s.size() > 10 || s[0] < '1' || s[0] > '9') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > kMaxNumber) return std::nullopt;
  return static_cast<uint32_t>(v);
}

SequenceSet::Range ordered(SequenceSet::Range r, uint32_t star) {
  const uint32_t a = r.first == SequenceSet::kStar ? star : r.first;
  const uint32_t b = r.last == SequenceSet::kStar ? star : r.last;
  return {std::min(a, b), std::max(a, b)};
}

bool isAtomCharStrict(char c) { return c != ']' && isAstringChar(c); }

constexpr std::array<std::string_view, 12> kMonths = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool isLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && isLeap(y)) ? 29 : kDays[m - 1];
}

// Howard Hinnant's days_from_civil.
int64_t daysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// A small cursor over date text.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool eat(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // Exactly `n` digits.
  std::optional<int> digits(size_t n) {
    if (i + n > s.size()) return std::nullopt;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = s[i + k];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    i += n;
    return v;
  }
  // 1 or 2 digits.
  std::optional<int> day() {
    auto v = digits(1);
    if (!v) return std::nullopt;
    if (i < s.size() && s[i] >= '0' && s[i] <= '9') v = *v * 10 + (s[i++] - '0');
    return v;
  }
  std::optional<int> month() {
    if (i + 3 > s.size()) return std::nullopt;
    const std::string_view m = s.substr(i, 3);
    for (size_t k = 0; k < kMonths.size(); ++k) {
      if (iequals(m, kMonths[k])) {
        i += 3;
        return static_cast<int>(k) + 1;
      }
    }
    return std::nullopt;
  }
  bool done() const { return i == s.size(); }
};

// "d-Mon-yyyy" at the cursor.
std::optional<Date> dateText(Cursor& c) {
  Date d;
  auto day = c.day();
  if (!day || !c.eat('-')) return std::nullopt;
  auto month = c.month();
  if (!month || !c.eat('-')) return std::nullopt;
  auto year = c.digits(4);
  if (!year) return std::nullopt;
  if (*day < 1 || *day > daysInMonth(*year, *month)) return std::nullopt;
  d.year = *year;
  d.month = *month;
  d.day = *day;
  return d;
}

}  // namespace

// ---- sequence sets ---------------------------------------------------------

Parsed<SequenceSet> SequenceSet::parse(std::string_view text, bool allowSaved) {
  SequenceSet set;
  if (text == "$") {
    if (!allowSaved) return Bad{"Invalid sequence set"};
    set.saved_ = true;
    return set;
  }
  if (text.empty()) return Bad{"Invalid sequence set"};
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    const size_t colon = item.find(':');
    std::optional<uint32_t> a, b;
    if (colon == std::string_view::npos) {
      a = b = parseSeqNumber(item);
    } else {
      a = parseSeqNumber(item.substr(0, colon));
      b = parseSeqNumber(item.substr(colon + 1));
    }
    if (!a || !b) return Bad{"Invalid sequence set"};
    set.ranges_.push_back({*a, *b});
    start = comma + 1;
  }
  return set;
}

Parsed<SequenceSet> SequenceSet::fromArg(const Arg& arg, bool allowSaved) {
  if (arg.type != Arg::kAtom) return Bad{"Invalid sequence set"};
  return parse(arg.value, allowSaved);
}

bool SequenceSet::usesStar() const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [](const Range& r) { return r.first == kStar || r.last == kStar; });
}

uint32_t SequenceSet::maxExplicit() const {
  uint32_t m = 0;
  for (const Range& r : ranges_) m = std::max({m, r.first, r.last});
  return m;
}

std::vector<SequenceSet::Range> SequenceSet::resolve(uint32_t star) const {
  std::vector<Range> out;
  out.reserve(ranges_.size());
  for (const Range& r : ranges_) out.push_back(ordered(r, star));
  std::sort(out.begin(), out.end(),
            [](const Range& x, const Range& y) { return x.first < y.first; });
  std::vector<Range> merged;
  for (const Range& r : out) {
    if (!merged.empty() && uint64_t{r.first} <= uint64_t{merged.back().last} + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::vector<SequenceSet::Range> SequenceSet::clamp(uint32_t count) const {
  std::vector<Range> out;
  for (Range r : resolve(count)) {
    r.first = std::max<uint32_t>(r.first, 1);
    r.last = std::min(r.last, count);
    if (r.first <= r.last) out.push_back(r);
  }
  return out;
}

bool SequenceSet::contains(uint32_t value, uint32_t star) const {
  for (const Range& r : ranges_) {
    const Range o = ordered(r, star);
    if (value >= o.first && value <= o.last) return true;
  }
  return false;
}

std::vector<uint32_t> SequenceSet::select(std::span<const uint32_t> sorted) const {
  std::vector<uint32_t> out;
  if (sorted.empty()) return out;
  for (const Range& r : resolve(sorted.back())) {
    auto it = std::lower_bound(sorted.begin(), sorted.end(), r.first);
    for (; it != sorted.end() && *it <= r.last; ++it) out.push_back(*it);
  }
  return out;
}

std::string SequenceSet::toString() const {
  if (saved_) return "$";
  std::string s;
  auto num = [&](uint32_t v) {
    if (v == kStar) {
      s += '*';
    } else {
      s += std::to_string(v);
    }
  };
  for (const Range& r : ranges_) {
    if (!s.empty()) s += ',';
    num(r.first);
    if (r.last != r.first) {
      s += ':';
      num(r.last);
    }
  }
  return s;
}

std::string SequenceSet::format(std::span<const uint32_t> sorted) {
  std::string s;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    while (j + 1 < sorted.size() && uint64_t{sorted[j + 1]} == uint64_t{sorted[j]} + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(sorted[i]);
    if (j > i) s += ':' + std::to_string(sorted[j]);
    i = j + 1;
  }
  return s;
}

// ---- strings ---------------------------------------------------------------

bool isAstringChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (c <= 0x20 || c >= 0x7f) return false;
  return std::strchr("(){%*\"\\", c) == nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

std::string toUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

std::optional<std::string_view> argAstring(const Arg& arg) {
  switch (arg.type) {
    case Arg::kQuoted:
    case Arg::kLiteral:
      return std::string_view(arg.value);
    case Arg::kAtom:
    case Arg::kNil:
      if (!std::all_of(arg.value.begin(), arg.value.end(), isAstringChar)) return std::nullopt;
      return std::string_view(arg.value);
    case Arg::kList:
      break;
  }
  return std::nullopt;
}

std::optional<std::string_view> argString(const Arg& arg) {
  if (!arg.isString()) return std::nullopt;
  return std::string_view(arg.value);
}

std::optional<std::string_view> argListMailbox(const Arg& arg) {
  if (arg.type != Arg::kAtom && arg.type != Arg::kNil) return argAstring(arg);
  for (char c : arg.value) {
    if (c != '%' && c != '*' && !isAstringChar(c)) return std::nullopt;
  }
  return std::string_view(arg.value);
}

std::optional<std::string_view> argAtom(const Arg& arg) {
  if (arg.type != Arg::kAtom && arg.type != Arg::kNil) return std::nullopt;
  return std::string_view(arg.value);
}

// ---- flags -----------------------------------------------------------------

bool FlagSet::hasKeyword(std::string_view keyword) const {
  return std::any_of(keywords.begin(), keywords.end(),
                     [&](const std::string& k) { return iequals(k, keyword); });
}

std::string_view systemFlagName(SystemFlag flag) {
  switch (flag) {
    case kFlagSeen: return "\\Seen";
    case kFlagAnswered: return "\\Answered";
    case kFlagFlagged: return "\\Flagged";
    case kFlagDeleted: return "\\Deleted";
    case kFlagDraft: return "\\Draft";
    case kFlagRecent: return "\\Recent";
  }
  return "";
}

namespace {

std::optional<Bad> addFlag(const Arg& arg, bool allowRecent, FlagSet& out) {
  if (arg.type != Arg::kAtom && arg.type != Arg::kNil) return Bad{"Invalid flag"};
  const std::string_view v = arg.value;
  if (v[0] == '\\') {
    static constexpr SystemFlag kAll[] = {kFlagSeen, kFlagAnswered, kFlagFlagged,
                                          kFlagDeleted, kFlagDraft, kFlagRecent};
    for (SystemFlag f : kAll) {
      if (!iequals(v, systemFlagName(f))) continue;
      if (f == kFlagRecent && !allowRecent) return Bad{"Can't set the \\Recent flag"};
      out.system |= f;
      return std::nullopt;
    }
    return Bad{"Invalid system flag " + std::string(v)};
  }
  if (!std::all_of(v.begin(), v.end(), isAtomCharStrict)) return Bad{"Invalid keyword"};
  if (!out.hasKeyword(v)) out.keywords.emplace_back(v);
  return std::nullopt;
}

}  // namespace

Parsed<FlagSet> parseFlagList(const Arg& list, bool allowRecent) {
  if (!list.isList()) return Bad{"Flag list expected"};
  FlagSet out;
  for (const Arg& a : list.list) {
    if (auto bad = addFlag(a, allowRecent, out)) return std::move(*bad);
  }
  return out;
}

Parsed<FlagSet> parseStoreFlags(std::span<const Arg> args, bool allowRecent) {
  if (args.empty()) return Bad{"Missing flags"};
  if (args.size() == 1 && args[0].isList()) return parseFlagList(args[0], allowRecent);
  FlagSet out;
  for (const Arg& a : args) {
    if (auto bad = addFlag(a, allowRecent, out)) return std::move(*bad);
  }
  return out;
}

std::optional<StoreAction> parseStoreAction(std::string_view atom) {
  StoreAction act;
  if (!atom.empty() && (atom[0] == '+' || atom[0] == '-')) {
    act.op = atom[0] == '+' ? StoreAction::kAdd : StoreAction::kRemove;
    atom.remove_prefix(1);
  }
  if (iequals(atom, "FLAGS.SILENT")) {
    act.silent = true;
  } else if (!iequals(atom, "FLAGS")) {
    return std::nullopt;
  }
  return act;
}

// ---- dates -----------------------------------------------------------------

int64_t Date::daysSinceEpoch() const { return daysFromCivil(year, month, day); }

Date dateFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  Date d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = static_cast<int>(yoe + era * 400 + (d.month <= 2 ? 1 : 0));
  return d;
}

std::optional<Date> parseDate(std::string_view text) {
  Cursor c{text};
  auto d = dateText(c);
  if (!d || !c.done()) return std::nullopt;
  return d;
}

std::optional<DateTime> parseDateTime(std::string_view text) {
  Cursor c{text};
  c.eat(' ');  // date-day-fixed = (SP DIGIT) / 2DIGIT
  auto d = dateText(c);
  if (!d || !c.eat(' ')) return std::nullopt;
  auto hh = c.digits(2);
  if (!hh || !c.eat(':')) return std::nullopt;
  auto mm = c.digits(2);
  if (!mm || !c.eat(':')) return std::nullopt;
  auto ss = c.digits(2);
  if (!ss || !c.eat(' ')) return std::nullopt;
  int sign = 0;
  if (c.eat('+')) {
    sign = 1;
  } else if (c.eat('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  auto zh = c.digits(2);
  auto zm = zh ? c.digits(2) : std::nullopt;
  if (!zm || !c.done()) return std::nullopt;
  if (*hh > 23 || *mm > 59 || *ss > 60 || *zm > 59) return std::nullopt;
  DateTime dt;
  dt.tzOffsetMinutes = sign * (*zh * 60 + *zm);
  dt.utc = d->daysSinceEpoch() * 86400 + *hh * 3600 + *mm * 60 + *ss -
           int64_t{dt.tzOffsetMinutes} * 60;
  return dt;
}

std::string formatDateTime(int64_t utc, int tzOffsetMinutes) {
  const int64_t local = utc + int64_t{tzOffsetMinutes} * 60;
  int64_t days = local / 86400;
  int64_t secs = local % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  const Date d = dateFromDays(days);
  const int tz = tzOffsetMinutes < 0 ? -tzOffsetMinutes : tzOffsetMinutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%2d-%.3s-%04d %02d:%02d:%02d %c%02d%02d", d.day,
                kMonths[static_cast<size_t>(d.month - 1)].data(), d.year,
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60), tzOffsetMinutes < 0 ? '-' : '+', tz / 60, tz % 60);
  return buf;
}

// ---- mailbox names ---------------------------------------------------------

std::string normalizeMailbox(std::string_view name, char delimiter) {
  if (name.size() >= 5 && iequals(name.substr(0, 5), "INBOX") &&
      (name.size() == 5 || name[5] == delimiter)) {
    return "INBOX" + std::string(name.substr(5));
  }
  return std::string(name);
}

}  // namespace postern::imap
