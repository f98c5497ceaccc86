#include "mime/search_text.h"

#include <bit>

#include "mime/decode.h"
#include "mime/header.h"

namespace postern::mime {

namespace {

constexpr size_t kMinFilter = 32, kMaxFilter = size_t(128) << 10;  // bytes

uint32_t be32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}
void putBe32(std::string* out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out->append(b, 4);
}

// Two bit positions of the trigram at `p` in a filter of 2^bits bits
// (multiplicative hashing: the high bits of the product are well mixed).
inline void probes(const char* p, unsigned bits, uint32_t* a, uint32_t* b) {
  const uint64_t t = uint64_t(uint8_t(p[0])) << 16 | uint64_t(uint8_t(p[1])) << 8 | uint8_t(p[2]);
  const uint64_t x = (t + 1) * 0x9E3779B97F4A7C15ull;
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  *a = uint32_t(x >> (64 - bits));
  *b = uint32_t((x >> (64 - 2 * bits)) & mask);
}

}  // namespace

std::string buildSearchText(std::string_view message, const Structure& s) {
  std::string texts;
  size_t total = 0;
  auto add = [&](uint8_t scope) {
    return [&texts, &total, scope](std::string&& t) {
      std::string f = foldCase(t);
      texts += char(scope);
      putBe32(&texts, uint32_t(f.size()));
      texts += f;
      total += f.size();
      return true;
    };
  };
  forEachHeaderText(message.substr(0, headerBlockSize(message)), add(0));
  forEachBodyText(message, s, add(1));
  // One to two bits per byte of text: real text has far fewer distinct
  // trigrams than bytes (about 1 in 3 in English mail), so a third or less
  // of the bits are set and an absent 7-byte needle (5 trigrams, 10 probes)
  // passes about once in a few thousand messages; the texts decide anyway.
  // The filter is read (and checksummed) for every message searched: small
  // matters more than tight.
  size_t bytes = std::bit_ceil(std::max(kMinFilter, total / 8));
  bytes = std::min(bytes, kMaxFilter);
  const unsigned bits = unsigned(std::countr_zero(bytes * 8));
  std::string out;
  out.reserve(4 + bytes + texts.size());
  putBe32(&out, uint32_t(bytes));
  out.append(bytes, '\0');
  char* filter = out.data() + 4;
  for (size_t i = 0; i < texts.size();) {
    const size_t n = be32(texts.data() + i + 1);
    const char* t = texts.data() + i + 5;
    for (size_t j = 0; j + 3 <= n; ++j) {
      uint32_t a, b;
      probes(t + j, bits, &a, &b);
      filter[a >> 3] = char(filter[a >> 3] | (1 << (a & 7)));
      filter[b >> 3] = char(filter[b >> 3] | (1 << (b & 7)));
    }
    i += 5 + n;
  }
  out += texts;
  return out;
}

std::optional<SearchText> SearchText::parse(std::string_view data) {
  if (data.size() < 4) return std::nullopt;
  const size_t f = be32(data.data());
  if (f < kMinFilter || f > kMaxFilter || !std::has_single_bit(f) || data.size() - 4 < f) return std::nullopt;
  SearchText st;
  st.filter_block_ = data.substr(0, 4 + f);
  st.filter_ = data.substr(4, f);
  st.texts_ = data.substr(4 + f);
  return st;
}

bool SearchText::mayContain(std::string_view folded) const {
  if (folded.size() < 3) return true;
  const unsigned bits = unsigned(std::countr_zero(filter_.size() * 8));
  const auto* f = reinterpret_cast<const unsigned char*>(filter_.data());
  for (size_t j = 0; j + 3 <= folded.size(); ++j) {
    uint32_t a, b;
    probes(folded.data() + j, bits, &a, &b);
    if (!(f[a >> 3] & (1 << (a & 7))) || !(f[b >> 3] & (1 << (b & 7)))) return false;
  }
  return true;
}

bool searchableField(std::string_view field) {
  if (field.empty()) return false;
  for (char c : field)
    if (c <= ' ' || c >= 127 || c == ':') return false;
  return true;
}

bool SearchText::contains(std::string_view folded, SearchScope scope, std::string_view field) const {
  const bool header = scope != SearchScope::kBody, body = scope == SearchScope::kBody || scope == SearchScope::kText;
  for (size_t i = 0; i + 5 <= texts_.size();) {
    const uint8_t kind = uint8_t(texts_[i]);
    const size_t n = be32(texts_.data() + i + 1);
    if (n > texts_.size() - i - 5) return false;
    std::string_view t = texts_.substr(i + 5, n);
    i += 5 + n;
    if (kind == 0 ? !header : !body) continue;
    if (scope == SearchScope::kField) {
      // "name: value", the name folded: ASCII letters lower-cased, and no
      // other octet of it folds to ASCII, so this is headerContains' iequals.
      if (t.size() < field.size() + 2 || t[field.size()] != ':' || t[field.size() + 1] != ' ') continue;
      bool same = true;
      for (size_t k = 0; k < field.size() && same; ++k)
        same = t[k] == char(field[k] >= 'A' && field[k] <= 'Z' ? field[k] + 32 : field[k]);
      if (!same) continue;
      t.remove_prefix(field.size() + 2);
    }
    if (t.find(folded) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace postern::mime
