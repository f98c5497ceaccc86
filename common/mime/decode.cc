#include "mime/decode.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "mime/content.h"
#include "mime/header.h"

namespace postern::mime {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the valid UTF-8 sequence at s[i] (and its code point), or 0.
size_t utf8Seq(std::string_view s, size_t i, uint32_t& cp) {
  auto b = static_cast<uint8_t>(s[i]);
  size_t n;
  uint32_t min;
  if (b < 0x80) {
    cp = b;
    return 1;
  } else if ((b & 0xE0) == 0xC0) {
    n = 2, cp = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3, cp = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<uint8_t>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Length of the run of ASCII octets starting at i, eight at a time.
size_t asciiRun(std::string_view s, size_t i) {
  size_t start = i;
  while (i + 8 <= s.size()) {
    uint64_t w;
    memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < s.size() && static_cast<uint8_t>(s[i]) < 0x80) ++i;
  return i - start;
}

bool validUtf8(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    i += asciiRun(s, i);
    if (i == s.size()) break;
    size_t n = utf8Seq(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// MIME charset name -> iconv name; empty when it names no charset at all.
std::string iconvName(std::string_view cs) {
  std::string n = unfold(cs);
  if (size_t star = n.find('*'); star != std::string::npos) n.resize(star);  // RFC 2231 language
  if (n.size() >= 2 && n.front() == '"' && n.back() == '"') n = n.substr(1, n.size() - 2);
  std::string l = toLower(n);
  if (l.empty() || l == "x-unknown" || l == "unknown-8bit" || l == "unknown" || l == "default") return {};
  if (l == "utf8") return "UTF-8";
  if (l == "unicode-1-1-utf-7") return "UTF-7";
  if (l == "gb2312" || l == "gbk" || l == "x-gbk") return "GB18030";  // supersets
  if (l == "ks_c_5601-1987" || l == "ks_c_5601") return "CP949";
  if (l == "iso-8859-8-i") return "ISO-8859-8";
  return n;
}

std::string decodeQ(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 && hexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// One "=?charset?B|Q?text?=" at s[i]; on success fills charset and bytes
// and returns the offset past it, else 0.
size_t encodedWord(std::string_view s, size_t i, std::string& charset, std::string& bytes) {
  // Searches are bounded (RFC 2047 words are at most 75 octets; we allow
  // far more) so that a value full of "=?" stays linear.
  constexpr size_t kMaxCharset = 100, kMaxText = 2000;
  if (s.substr(i, 2) != "=?") return 0;
  size_t q1 = s.substr(0, std::min(s.size(), i + 2 + kMaxCharset)).find('?', i + 2);
  if (q1 == std::string_view::npos || q1 == i + 2 || q1 + 2 >= s.size() || s[q1 + 2] != '?') return 0;
  char enc = s[q1 + 1];
  size_t textStart = q1 + 3;
  size_t endQ = s.substr(0, std::min(s.size(), textStart + kMaxText)).find("?=", textStart);
  if (endQ == std::string_view::npos) return 0;
  std::string_view cs = s.substr(i + 2, q1 - i - 2);
  std::string_view text = s.substr(textStart, endQ - textStart);
  for (char c : cs) {
    if (c == ' ' || c == '\t' || c == '=') return 0;
  }
  for (char c : text) {
    if (c == ' ' || c == '\t') return 0;
  }
  if (enc == 'B' || enc == 'b') {
    bytes = decodeBase64(text);
  } else if (enc == 'Q' || enc == 'q') {
    bytes = decodeQ(text);
  } else {
    return 0;
  }
  charset = std::string(cs);
  return endQ + 2;
}

// Maps a code point to lower case for the ranges foldCase() promises.
uint32_t lowerCp(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 32;
  if (c >= 0x100 && c <= 0x137) return c | 1;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
  if (c >= 0x14A && c <= 0x177) return c | 1;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

}  // namespace

std::string sanitizeUtf8(std::string_view bytes) {
  if (validUtf8(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) appendUtf8(out, static_cast<uint8_t>(c));
  return out;
}

std::optional<std::string> toUtf8(std::string_view bytes, std::string_view charset) {
  std::string name = iconvName(charset);
  if (name.empty()) return std::nullopt;
  std::string l = toLower(name);
  if (l == "us-ascii" || l == "ascii" || l == "utf-8") return sanitizeUtf8(bytes);
  iconv_t cd = iconv_open("UTF-8", name.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  std::vector<char> buf(4096);
  char* in = const_cast<char*>(bytes.data());
  size_t inLeft = bytes.size();
  while (inLeft > 0) {
    char* o = buf.data();
    size_t oLeft = buf.size();
    size_t r = iconv(cd, &in, &inLeft, &o, &oLeft);
    out.append(buf.data(), buf.size() - oLeft);
    if (r != static_cast<size_t>(-1)) continue;
    if (errno == E2BIG) continue;
    out += "\xEF\xBF\xBD";  // EILSEQ or EINVAL: replace one octet and go on
    ++in;
    --inLeft;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  // Flush shift state (stateful charsets such as ISO-2022-JP).
  char* o = buf.data();
  size_t oLeft = buf.size();
  iconv(cd, nullptr, nullptr, &o, &oLeft);
  out.append(buf.data(), buf.size() - oLeft);
  iconv_close(cd);
  return out;
}

std::string decodeHeader(std::string_view s) {
  std::string out;
  std::string pending, pendingCharset;  // adjacent encoded words in one charset
  auto flush = [&]() {
    if (pendingCharset.empty() && pending.empty()) return;
    std::optional<std::string> u = toUtf8(pending, pendingCharset);
    out += u ? *u : sanitizeUtf8(pending);
    pending.clear();
    pendingCharset.clear();
  };
  bool lastWasWord = false;
  size_t i = 0;
  std::string raw;  // undecoded text since the last word
  while (i < s.size()) {
    std::string cs, bytes;
    size_t next = encodedWord(s, i, cs, bytes);
    if (next) {
      // Blanks between two encoded words are not part of the text.
      bool onlyBlanks = raw.find_first_not_of(" \t\r\n") == std::string::npos;
      if (!(lastWasWord && onlyBlanks)) {
        flush();
        out += sanitizeUtf8(raw);
      }
      raw.clear();
      if (!iequals(cs, pendingCharset)) flush();
      pendingCharset = cs;
      pending += bytes;
      lastWasWord = true;
      i = next;
    } else {
      raw += s[i++];
    }
  }
  flush();
  out += sanitizeUtf8(raw);
  return out;
}

std::string decodeBase64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+') v = 62;
    else if (ch == '/') v = 63;
    else continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string decodeQuotedPrintable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '=') {
      if (i + 2 < in.size() && hexValue(in[i + 1]) >= 0 && hexValue(in[i + 2]) >= 0) {
        out += static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2]));
        i += 3;
        continue;
      }
      // Soft line break: "=" then optional blanks then the line end.
      size_t j = i + 1;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      if (j < in.size() && (in[j] == '\r' || in[j] == '\n')) {
        if (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') ++j;
        i = j + 1;
        continue;
      }
      if (j == in.size()) break;
      out += c;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      // Transport padding (blanks at the end of a line) is not content.
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    }
    out += c;
    ++i;
  }
  return out;
}

std::string decodeTransfer(std::string_view body, std::string_view encoding) {
  if (iequals(encoding, "base64")) return decodeBase64(body);
  if (iequals(encoding, "quoted-printable")) return decodeQuotedPrintable(body);
  return std::string(body);
}

std::string partText(std::string_view message, const Part& part) {
  if (part.body.end > message.size() || part.body.start > part.body.end) return {};
  std::string raw = decodeTransfer(message.substr(part.body.start, part.body.size()),
                                   part.encoding ? std::string_view(*part.encoding) : std::string_view());
  std::optional<std::string_view> cs = findParam(part.params, "charset");
  if (cs) {
    if (std::optional<std::string> u = toUtf8(raw, *cs)) return std::move(*u);
  }
  return sanitizeUtf8(raw);
}

std::string decodeParam(const Param& p) {
  if (p.name.empty() || p.name.back() != '*') return decodeHeader(p.value);
  // charset'language'percent-encoded
  size_t q1 = p.value.find('\'');
  size_t q2 = q1 == std::string::npos ? std::string::npos : p.value.find('\'', q1 + 1);
  std::string charset = q2 == std::string::npos ? std::string() : p.value.substr(0, q1);
  std::string_view enc = std::string_view(p.value).substr(q2 == std::string::npos ? 0 : q2 + 1);
  std::string bytes;
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%' && i + 2 < enc.size() && hexValue(enc[i + 1]) >= 0 && hexValue(enc[i + 2]) >= 0) {
      bytes += static_cast<char>(hexValue(enc[i + 1]) * 16 + hexValue(enc[i + 2]));
      i += 2;
    } else {
      bytes += enc[i];
    }
  }
  if (!charset.empty()) {
    if (std::optional<std::string> u = toUtf8(bytes, charset)) return std::move(*u);
  }
  return sanitizeUtf8(bytes);
}

std::string foldCase(std::string_view s) {
  // Written in place: every mapping of lowerCp keeps the UTF-8 length (a
  // code point whose lower case would not is left as it is), invalid
  // octets are copied. ASCII, the bulk of mail, goes through a table.
  static const auto kLower = [] {
    std::array<char, 128> t{};
    for (int c = 0; c < 128; ++c) t[size_t(c)] = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return t;
  }();
  std::string out(s.size(), '\0');
  char* o = out.data();
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      o[i] = kLower[b];
      ++i;
      continue;
    }
    uint32_t cp;
    size_t n = utf8Seq(s, i, cp);
    if (n == 0) {
      o[i] = s[i];
      ++i;
      continue;
    }
    std::string enc;
    appendUtf8(enc, lowerCp(cp));
    if (enc.size() == n) memcpy(o + i, enc.data(), n);
    else memcpy(o + i, s.data() + i, n);
    i += n;
  }
  return out;
}

bool containsText(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  std::string n = foldCase(needle);
  std::string h = foldCase(haystack);
  return std::search(h.begin(), h.end(), std::boyer_moore_horspool_searcher(n.begin(), n.end())) != h.end();
}

bool forEachHeaderText(std::string_view header, const std::function<bool(std::string&&)>& fn) {
  bool stopped = false;
  forEachField(header, [&](const HeaderField& f) {
    stopped = !fn(std::string(f.name) + ": " + decodeHeader(unfold(f.rawValue)));
    return !stopped;
  });
  return !stopped;
}

bool forEachBodyText(std::string_view message, const Structure& s, const std::function<bool(std::string&&)>& fn) {
  std::function<bool(const Part&)> walk = [&](const Part& p) -> bool {
    switch (p.kind) {
      case Part::Kind::kMultipart:
        for (const Part& c : p.children) {
          if (!walk(c)) return false;
        }
        return true;
      case Part::Kind::kMessage: {
        if (p.children.empty()) return true;
        const Part& e = p.children[0];
        if (e.header.end <= message.size() && !forEachHeaderText(message.substr(e.header.start, e.header.size()), fn))
          return false;
        return walk(e);
      }
      case Part::Kind::kLeaf:
        if (!p.isType("text") && !p.isType("message")) return true;
        return fn(partText(message, p));
    }
    return true;
  };
  return walk(s.root);
}

bool headerContains(std::string_view header, std::string_view name, std::string_view needle) {
  std::string n = foldCase(needle);
  if (name.empty())
    return !forEachHeaderText(header, [&](std::string&& t) { return foldCase(t).find(n) == std::string::npos; });
  bool found = false;
  forEachField(header, [&](const HeaderField& f) {
    if (!iequals(f.name, name)) return true;
    found = foldCase(decodeHeader(unfold(f.rawValue))).find(n) != std::string::npos;
    return !found;
  });
  return found;
}

bool bodyContains(std::string_view message, const Structure& s, std::string_view needle) {
  std::string n = foldCase(needle);
  return !forEachBodyText(message, s, [&](std::string&& t) { return foldCase(t).find(n) == std::string::npos; });
}

}  // namespace postern::mime
