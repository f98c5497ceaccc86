// Licence file format: dates, fields, canonical text, strict parsing.
// The cryptography lives in licence_crypto.cc.
#include "licence.h"

#include <array>
#include <cstdio>

#include "sasl/base64.h"

namespace postern::master {
namespace {

constexpr size_t kMaxFileBytes = 64 * 1024;
constexpr size_t kMaxLicenseeBytes = 200;
constexpr size_t kSignatureBytes = 64;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = int64_t(yoe) + era * 400 + (*m <= 2);
}

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int64_t toInt(std::string_view s) {
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without C0/C1
// controls or DEL.
bool cleanUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) return false;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;
    i += n + 1;
  }
  return true;
}

bool isHexId(std::string_view s) {
  if (s.size() < 16 || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error bad(std::string msg) { return Error{ErrorCode::kBadArgs, std::move(msg)}; }

// Field-level checks shared by parseLicence and validateLicenceFields.
Error checkLicensee(std::string_view v) {
  if (v.empty()) return bad("licensee must not be empty");
  if (v.size() > kMaxLicenseeBytes) return bad("licensee is longer than 200 bytes");
  if (!cleanUtf8(v)) return bad("licensee must be UTF-8 text without control characters");
  return Error::none();
}

Error checkSeats(int64_t seats) {
  if (seats < kMinSeats || seats > kMaxSeats)
    return bad("seats must be 1-1000000 (got " + std::to_string(seats) + ")");
  return Error::none();
}

enum Field { kLicensee, kSeats, kMode, kExpires, kIssued, kId, kSignature, kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"licensee", "seats", "mode",     "expires",
                                                                   "issued",   "id",    "signature"};

}  // namespace

std::string_view licenceModeName(LicenceMode mode) {
  return mode == LicenceMode::kPerServer ? "per-server" : "per-seat";
}

Result<LicenceMode> parseLicenceMode(std::string_view text) {
  if (text == "per-seat") return LicenceMode::kPerSeat;
  if (text == "per-server") return LicenceMode::kPerServer;
  return bad("mode must be per-seat or per-server (got \"" + std::string(text) + "\")");
}

Result<int64_t> parseDay(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-' || !digits(t.substr(0, 4)) || !digits(t.substr(5, 2)) ||
      !digits(t.substr(8, 2)))
    return bad("date must be YYYY-MM-DD (got \"" + std::string(t) + "\")");
  int64_t y = toInt(t.substr(0, 4));
  int64_t m = toInt(t.substr(5, 2));
  int64_t d = toInt(t.substr(8, 2));
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool ok = y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= kDays[m - 1] + ((m == 2 && isLeap(y)) ? 1 : 0);
  if (!ok) return bad("no such date: " + std::string(t));
  return daysFromCivil(y, unsigned(m), unsigned(d));
}

std::string formatDay(int64_t day) {
  int64_t y;
  unsigned m, d;
  civilFromDays(day, &y, &m, &d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

int64_t dayOf(int64_t t) { return t >= 0 ? t / 86400 : -((-t + 86399) / 86400); }

std::string canonicalLicenceText(const LicenceFields& f) {
  std::string s = "postern-licence-v1\n";
  s += "licensee: " + f.licensee + "\n";
  s += "seats: " + std::to_string(f.seats) + "\n";
  s += "mode: " + std::string(licenceModeName(f.mode)) + "\n";
  s += "expires: " + (f.expires ? formatDay(*f.expires) : std::string("never")) + "\n";
  s += "issued: " + formatDay(f.issued) + "\n";
  s += "id: " + f.id + "\n";
  return s;
}

Error validateLicenceFields(const LicenceFields& f) {
  if (Error e = checkLicensee(f.licensee); !e.ok()) return e;
  if (Error e = checkSeats(f.seats); !e.ok()) return e;
  if (f.mode != LicenceMode::kPerSeat && f.mode != LicenceMode::kPerServer)
    return bad("mode must be per-seat or per-server");
  static const int64_t kLastDay = daysFromCivil(9999, 12, 31);
  if (f.issued < 0 || f.issued > kLastDay) return bad("issued must be a date in 1970-9999");
  if (f.expires) {
    if (*f.expires < 0 || *f.expires > kLastDay) return bad("expires must be a date in 1970-9999");
    if (*f.expires < f.issued)
      return bad("expires (" + formatDay(*f.expires) + ") is before issued (" + formatDay(f.issued) + ")");
  }
  if (!f.id.empty() && !isHexId(f.id)) return bad("id must be 16-64 lower-case hex digits");
  return Error::none();
}

Result<ParsedLicence> parseLicence(std::string_view text) {
  auto malformed = [](size_t line, const std::string& why) {
    return bad("line " + std::to_string(line) + ": " + why);
  };
  if (text.size() > kMaxFileBytes) return bad("file is larger than 64 KiB");
  std::array<bool, kFieldCount> seen{};
  ParsedLicence out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed(line_no, "expected \"name: value\"");
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    size_t field = kFieldCount;
    for (size_t i = 0; i < kFieldCount; ++i)
      if (kFieldNames[i] == name) field = i;
    if (field == kFieldCount) return malformed(line_no, "unknown field \"" + std::string(name) + "\"");
    if (seen[field]) return malformed(line_no, "duplicate field \"" + std::string(name) + "\"");
    seen[field] = true;
    switch (field) {
      case kLicensee: {
        if (Error e = checkLicensee(value); !e.ok()) return malformed(line_no, e.message);
        out.fields.licensee = std::string(value);
        break;
      }
      case kSeats: {
        if (!digits(value) || value.size() > 7 || (value.size() > 1 && value[0] == '0'))
          return malformed(line_no, "seats must be 1-1000000 (got \"" + std::string(value) + "\")");
        if (Error e = checkSeats(toInt(value)); !e.ok()) return malformed(line_no, e.message);
        out.fields.seats = uint32_t(toInt(value));
        break;
      }
      case kMode: {
        auto m = parseLicenceMode(value);
        if (!m) return malformed(line_no, m.error().message);
        out.fields.mode = *m;
        break;
      }
      case kExpires: {
        if (value == "never") break;
        auto d = parseDay(value);
        if (!d) return malformed(line_no, "expires: " + d.error().message);
        out.fields.expires = *d;
        break;
      }
      case kIssued: {
        auto d = parseDay(value);
        if (!d) return malformed(line_no, "issued: " + d.error().message);
        out.fields.issued = *d;
        break;
      }
      case kId: {
        if (!isHexId(value)) return malformed(line_no, "id must be 16-64 lower-case hex digits");
        out.fields.id = std::string(value);
        break;
      }
      case kSignature: {
        auto sig = sasl::decodeBase64(value);
        if (!sig || sig->size() != kSignatureBytes)
          return malformed(line_no, "signature must be base64 of 64 bytes");
        out.signature = std::move(*sig);
        break;
      }
    }
  }
  for (size_t i = 0; i < kFieldCount; ++i)
    if (!seen[i]) return bad("missing field \"" + std::string(kFieldNames[i]) + "\"");
  if (out.fields.expires && *out.fields.expires < out.fields.issued)
    return bad("expires (" + formatDay(*out.fields.expires) + ") is before issued (" +
               formatDay(out.fields.issued) + ")");
  return out;
}

bool Licence::expiredAt(int64_t now) const { return fields.expires && dayOf(now) > *fields.expires; }

Licence evaluationLicence() {
  Licence l;
  l.fields.licensee = "Evaluation";
  l.fields.seats = 25;
  l.fields.mode = LicenceMode::kPerSeat;
  l.fields.expires = std::nullopt;
  l.fields.issued = 0;
  l.fields.id = "evaluation";
  l.evaluation = true;
  return l;
}

std::string_view licenceStatusName(LicenceStatus status) {
  switch (status) {
    case LicenceStatus::kOk:
      return "ok";
    case LicenceStatus::kMalformed:
      return "malformed";
    case LicenceStatus::kBadKey:
      return "bad-key";
    case LicenceStatus::kBadSignature:
      return "bad-signature";
    case LicenceStatus::kExpired:
      return "expired";
  }
  return "unknown";
}

Result<Licence> verifyLicence(const std::string& text, const std::vector<std::string>& public_keys,
                              int64_t now) {
  LicenceCheck c = checkLicence(text, public_keys, now);
  switch (c.status) {
    case LicenceStatus::kOk:
      return std::move(*c.licence);
    case LicenceStatus::kMalformed:
    case LicenceStatus::kBadKey:
      return Error{ErrorCode::kBadArgs, c.reason};
    case LicenceStatus::kBadSignature:
      return Error{ErrorCode::kAuthFailed, c.reason};
    case LicenceStatus::kExpired:
      return Error{ErrorCode::kLimit, c.reason};
  }
  return Error{ErrorCode::kInternal, "unknown licence status"};
}

}  // namespace postern::master
