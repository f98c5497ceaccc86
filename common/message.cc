#include "message.h"

#include <algorithm>
#include <cstring>

namespace postern {

std::string normalizeCrlf(std::string_view in) {
  const char* p = in.data();
  const size_t n = in.size();
  std::string out;
  out.reserve(n + n / 50 + 2);
  // The next LF and CR at or after i (n: none). Each is searched again only
  // once passed, so every byte is scanned at most twice: linear, whatever
  // the mix of line ends. Text between line ends is copied in one piece.
  auto find = [&](char c, size_t from) {
    const void* hit = memchr(p + from, c, n - from);
    return hit ? size_t(static_cast<const char*>(hit) - p) : n;
  };
  size_t next_lf = 0, next_cr = 0;
  bool lf_known = false, cr_known = false;
  for (size_t i = 0; i < n;) {
    if (!lf_known || next_lf < i) next_lf = find('\n', i), lf_known = true;
    if (!cr_known || next_cr < i) next_cr = find('\r', i), cr_known = true;
    size_t stop = std::min(next_lf, next_cr);
    out.append(p + i, stop - i);
    if (stop == n) break;
    out += "\r\n";
    i = stop + 1;
    if (p[stop] == '\r' && i < n && p[i] == '\n') ++i;
  }
  return out;
}

}  // namespace postern
