#include "mime/header.h"

#include <algorithm>

#include "mime/mime.h"

namespace postern::mime {

namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool isBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}

void forEachField(std::string_view header, const std::function<bool(const HeaderField&)>& fn) {
  size_t pos = 0;
  bool have = false;
  HeaderField cur;
  size_t valueStart = 0;
  auto flush = [&]() -> bool {
    if (!have) return true;
    have = false;
    cur.rawValue = header.substr(valueStart, cur.end - valueStart);
    return fn(cur);
  };
  while (pos < header.size()) {
    size_t nl = header.find('\n', pos);
    size_t end = nl == std::string_view::npos ? header.size() : nl + 1;
    std::string_view line = header.substr(pos, end - pos);
    if (line == "\r\n" || line == "\n") break;
    if (isBlank(line[0])) {
      if (have) cur.end = end;  // a continuation line
    } else {
      if (!flush()) return;
      size_t colon = line.find(':');
      if (colon != std::string_view::npos && colon > 0) {
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && isBlank(name.back())) name.remove_suffix(1);
        if (!name.empty()) {
          have = true;
          cur = HeaderField{name, {}, pos, end};
          valueStart = pos + colon + 1;
        }
      }
    }
    pos = end;
  }
  flush();
}

std::string unfold(std::string_view raw, size_t max) {
  std::string out;
  out.reserve(std::min(raw.size(), max == std::string::npos ? raw.size() : max));
  size_t first = 0;  // leading blanks do not count against max
  while (first < raw.size() && (isBlank(raw[first]) || raw[first] == '\r' || raw[first] == '\n')) ++first;
  for (size_t i = first; i < raw.size() && out.size() < max; ++i) {
    char c = raw[i];
    if (c == '\n' || c == '\0') continue;
    if (c == '\r') {
      if (i + 1 < raw.size() && raw[i + 1] == '\n') continue;
      c = ' ';
    }
    out += c;
  }
  size_t b = 0;
  while (b < out.size() && isBlank(out[b])) ++b;
  size_t e = out.size();
  while (e > b && isBlank(out[e - 1])) --e;
  return out.substr(b, e - b);
}

std::vector<std::string> headerValues(std::string_view header, std::string_view name) {
  std::vector<std::string> out;
  forEachField(header, [&](const HeaderField& f) {
    if (iequals(f.name, name)) out.push_back(unfold(f.rawValue));
    return true;
  });
  return out;
}

std::string headerFields(std::string_view header, const std::vector<std::string>& names, bool exclude) {
  std::string out;
  forEachField(header, [&](const HeaderField& f) {
    bool listed = std::any_of(names.begin(), names.end(),
                              [&](const std::string& n) { return iequals(n, f.name); });
    if (listed != exclude) {
      out.append(header.substr(f.start, f.end - f.start));
      // A last field without a line end still needs one before the blank line.
      if (out.back() != '\n') out += "\r\n";
    }
    return true;
  });
  out += "\r\n";
  return out;
}

}  // namespace postern::mime
