#include "fetch.h"

#include <algorithm>

#include "writer.h"

namespace postern::imap {
namespace {

using Kind = FetchItem::Kind;
using Text = BodySection::Text;

const Bad kInvalid{"Invalid fetch attribute"};

struct Simple {
  std::string_view name;
  Kind kind;
};
constexpr Simple kSimple[] = {
    {"FLAGS", Kind::kFlags},
    {"UID", Kind::kUid},
    {"INTERNALDATE", Kind::kInternalDate},
    {"RFC822.SIZE", Kind::kRfc822Size},
    {"RFC822", Kind::kRfc822},
    {"RFC822.HEADER", Kind::kRfc822Header},
    {"RFC822.TEXT", Kind::kRfc822Text},
    {"ENVELOPE", Kind::kEnvelope},
    {"BODY", Kind::kBody},
    {"BODYSTRUCTURE", Kind::kBodyStructure},
};

FetchItem simple(Kind kind) {
  FetchItem it;
  it.kind = kind;
  return it;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// RFC 5322 ftext: printable ASCII except ":".
bool isFieldName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= 33 && c <= 126 && c != ':';
  });
}

std::optional<uint32_t> number(std::string_view s, bool nonZero) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 4294967295ULL || (nonZero && v == 0)) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// header-list: "(" header-fld-name *(SP header-fld-name) ")", names being
// atoms or quoted strings. The whole of `s` must be the list.
std::optional<std::vector<std::string>> headerList(std::string_view s) {
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') return std::nullopt;
  s = s.substr(1, s.size() - 2);
  std::vector<std::string> names;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    std::string name;
    if (s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        name += s[i++];
      }
      if (i == s.size()) return std::nullopt;
      ++i;  // closing quote
      if (i < s.size() && s[i] != ' ') return std::nullopt;
    } else {
      while (i < s.size() && s[i] != ' ') {
        if (!isAstringChar(s[i])) return std::nullopt;
        name += s[i++];
      }
    }
    if (!isFieldName(name)) return std::nullopt;
    names.push_back(toUpper(name));
  }
  if (names.empty()) return std::nullopt;
  return names;
}

std::optional<BodySection> parseSection(std::string_view s) {
  BodySection sec;
  // section-part: nz-number *("." nz-number), then optionally "." section-text.
  while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
    const size_t dot = s.find('.');
    auto n = number(s.substr(0, dot), true);
    if (!n) return std::nullopt;
    sec.part.push_back(*n);
    if (dot == std::string_view::npos) return sec;
    s.remove_prefix(dot + 1);
    if (s.empty()) return std::nullopt;  // "1."
  }
  if (s.empty()) return sec;
  if (iequals(s, "HEADER")) {
    sec.text = Text::kHeader;
  } else if (iequals(s, "TEXT")) {
    sec.text = Text::kText;
  } else if (iequals(s, "MIME")) {
    if (sec.part.empty()) return std::nullopt;  // MIME only follows a part number
    sec.text = Text::kMime;
  } else {
    std::string_view rest;
    if (startsWithNoCase(s, "HEADER.FIELDS.NOT ")) {
      sec.text = Text::kHeaderFieldsNot;
      rest = s.substr(18);
    } else if (startsWithNoCase(s, "HEADER.FIELDS ")) {
      sec.text = Text::kHeaderFields;
      rest = s.substr(14);
    } else {
      return std::nullopt;
    }
    auto names = headerList(rest);
    if (!names) return std::nullopt;
    sec.fields = std::move(*names);
  }
  return sec;
}

// Index of the "]" closing the "[" at `open`, skipping quoted strings.
size_t matchingBracket(std::string_view s, size_t open) {
  int depth = 0;
  bool quoted = false;
  for (size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::string BodySection::toString() const {
  std::string s;
  for (uint32_t p : part) {
    if (!s.empty()) s += '.';
    s += std::to_string(p);
  }
  if (text == Text::kNone) return s;
  if (!part.empty()) s += '.';
  switch (text) {
    case Text::kHeader: s += "HEADER"; break;
    case Text::kText: s += "TEXT"; break;
    case Text::kMime: s += "MIME"; break;
    case Text::kHeaderFields:
    case Text::kHeaderFieldsNot:
      s += text == Text::kHeaderFields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (";
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) s += ' ';
        // A bare "[" or "]" would end the section early for whoever reads
        // it back, and so would the literal appendAstring picks past
        // kMaxQuoted; field names are printable ASCII (isFieldName), so a
        // quoted string always works.
        const std::string& f = fields[i];
        if (f.find_first_of("[]") == std::string::npos && f.size() <= kMaxQuoted) {
          appendAstring(s, f);
        } else {
          appendQuoted(s, f);
        }
      }
      s += ')';
      break;
    case Text::kNone: break;
  }
  return s;
}

std::string FetchItem::responseName() const {
  if (kind != Kind::kBodySection) {
    for (const Simple& s : kSimple) {
      if (s.kind == kind) return std::string(s.name);
    }
    return "";
  }
  std::string s = "BODY[" + section.toString() + "]";
  // RFC 3501 6.4.5: only the origin octet is echoed, "BODY[]<0>".
  if (partialOffset) s += "<" + std::to_string(*partialOffset) + ">";
  return s;
}

bool FetchItem::setsSeen() const {
  return (kind == Kind::kBodySection && !peek) || kind == Kind::kRfc822 ||
         kind == Kind::kRfc822Text;
}

bool FetchRequest::has(FetchItem::Kind kind) const {
  return std::any_of(items.begin(), items.end(),
                     [&](const FetchItem& i) { return i.kind == kind; });
}

bool FetchRequest::setsSeen() const {
  return std::any_of(items.begin(), items.end(),
                     [](const FetchItem& i) { return i.setsSeen(); });
}

Parsed<FetchItem> parseFetchAtt(std::string_view atom) {
  const size_t open = atom.find('[');
  if (open == std::string_view::npos) {
    for (const Simple& s : kSimple) {
      if (iequals(atom, s.name)) return simple(s.kind);
    }
    return kInvalid;
  }
  FetchItem it;
  it.kind = Kind::kBodySection;
  const std::string_view prefix = atom.substr(0, open);
  if (iequals(prefix, "BODY.PEEK")) {
    it.peek = true;
  } else if (!iequals(prefix, "BODY")) {
    return kInvalid;
  }
  const size_t close = matchingBracket(atom, open);
  if (close == std::string_view::npos) return kInvalid;
  auto section = parseSection(atom.substr(open + 1, close - open - 1));
  if (!section) return Bad{"Invalid BODY[..] section"};
  it.section = std::move(*section);
  std::string_view rest = atom.substr(close + 1);
  if (rest.empty()) return it;
  // "<" number "." nz-number ">"
  const size_t dot = rest.find('.');
  if (rest.front() != '<' || rest.back() != '>' || dot == std::string_view::npos) {
    return Bad{"Invalid partial"};
  }
  auto offset = number(rest.substr(1, dot - 1), false);
  auto length = number(rest.substr(dot + 1, rest.size() - dot - 2), true);
  if (!offset || !length) return Bad{"Invalid partial"};
  it.partialOffset = *offset;
  it.partialLength = *length;
  return it;
}

Parsed<FetchRequest> parseFetchRequest(const Arg& arg) {
  FetchRequest req;
  if (arg.type == Arg::kAtom) {
    // Macros are only valid on their own, never inside a list.
    if (iequals(arg.value, "ALL") || iequals(arg.value, "FAST") || iequals(arg.value, "FULL")) {
      req.items = {simple(Kind::kFlags), simple(Kind::kInternalDate), simple(Kind::kRfc822Size)};
      if (!iequals(arg.value, "FAST")) req.items.push_back(simple(Kind::kEnvelope));
      if (iequals(arg.value, "FULL")) req.items.push_back(simple(Kind::kBody));
      return req;
    }
    auto item = parseFetchAtt(arg.value);
    if (!item) return Bad{item.reason()};
    req.items.push_back(std::move(*item));
    return req;
  }
  if (!arg.isList() || arg.list.empty()) return kInvalid;
  for (const Arg& a : arg.list) {
    if (a.type != Arg::kAtom) return kInvalid;
    auto item = parseFetchAtt(a.value);
    if (!item) return Bad{item.reason()};
    req.items.push_back(std::move(*item));
  }
  return req;
}

}  // namespace postern::imap
