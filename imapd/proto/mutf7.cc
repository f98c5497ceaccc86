#include "mutf7.h"

#include <cstdint>

namespace postern::imap {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Next code point of UTF-8 text, rejecting overlongs, surrogates and > U+10FFFF.
std::optional<uint32_t> nextCodePoint(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t cp;
  uint32_t min;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + len > s.size()) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  i += len;
  return cp;
}

}  // namespace

std::optional<std::string> mutf7ToUtf8(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c < 0x20 || c > 0x7e) return std::nullopt;
    ++i;
    if (c != '&') {
      out += c;
      continue;
    }
    if (i < s.size() && s[i] == '-') {
      out += '&';
      ++i;
      continue;
    }
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // pending high surrogate
    size_t chars = 0;
    for (; i < s.size() && s[i] != '-'; ++i, ++chars) {
      const int v = b64Value(s[i]);
      if (v < 0) return std::nullopt;
      bits = ((bits << 6) | static_cast<uint32_t>(v)) & 0xffffff;
      nbits += 6;
      if (nbits < 16) continue;
      nbits -= 16;
      const uint32_t u = (bits >> nbits) & 0xffff;
      if (high != 0) {
        if (u < 0xdc00 || u > 0xdfff) return std::nullopt;
        appendUtf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
        high = 0;
      } else if (u >= 0xd800 && u <= 0xdbff) {
        high = u;
      } else if (u >= 0xdc00 && u <= 0xdfff) {
        return std::nullopt;
      } else if (u >= 0x20 && u <= 0x7e) {
        return std::nullopt;  // printable ASCII must represent itself
      } else {
        appendUtf8(out, u);
      }
    }
    if (i == s.size() || chars == 0 || high != 0) return std::nullopt;
    if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return std::nullopt;
    ++i;  // "-"
    // "&...-&...-" must have been written as one run.
    if (i < s.size() && s[i] == '&' && !(i + 1 < s.size() && s[i + 1] == '-')) {
      return std::nullopt;
    }
  }
  return out;
}

bool isValidMutf7(std::string_view mutf7) { return mutf7ToUtf8(mutf7).has_value(); }

std::optional<std::string> utf8ToMutf7(std::string_view s) {
  std::string out;
  bool inB64 = false;
  uint32_t bits = 0;
  int nbits = 0;
  auto pushUnit = [&](uint32_t u) {
    bits = ((bits << 16) | u) & 0xffffff;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kB64[(bits >> nbits) & 0x3f];
    }
  };
  auto closeB64 = [&]() {
    if (nbits > 0) out += kB64[(bits << (6 - nbits)) & 0x3f];
    out += '-';
    inB64 = false;
    bits = 0;
    nbits = 0;
  };
  size_t i = 0;
  while (i < s.size()) {
    const auto cp = nextCodePoint(s, i);
    if (!cp) return std::nullopt;
    if (*cp >= 0x20 && *cp <= 0x7e) {
      if (inB64) closeB64();
      out += static_cast<char>(*cp);
      if (*cp == '&') out += '-';
      continue;
    }
    if (!inB64) {
      out += '&';
      inB64 = true;
    }
    if (*cp >= 0x10000) {
      pushUnit(0xd800 + ((*cp - 0x10000) >> 10));
      pushUnit(0xdc00 + ((*cp - 0x10000) & 0x3ff));
    } else {
      pushUnit(*cp);
    }
  }
  if (inB64) closeB64();
  return out;
}

}  // namespace postern::imap
