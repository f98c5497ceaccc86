#include "mime/content.h"

#include <algorithm>
#include <map>

#include "mime/header.h"
#include "mime/lex.h"

namespace postern::mime {

namespace {

// One name*N[*]=value piece of an RFC 2231 parameter.
struct Piece {
  std::string base;
  unsigned index = 0;
  bool extended = false;
  std::string value;
  size_t order = 0;  // position in the header, to keep the output order stable
};

// Splits "name*3*" into its parts; false for a plain name.
bool splitRfc2231(const std::string& name, Piece& p) {
  size_t star = name.find('*');
  if (star == std::string::npos || star == 0) return false;
  size_t i = star + 1;
  unsigned idx = 0;
  bool digits = false;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && idx < 100000) {
    idx = idx * 10 + static_cast<unsigned>(name[i] - '0');
    digits = true;
    ++i;
  }
  bool extended = false;
  if (i < name.size() && name[i] == '*') {
    extended = true;
    ++i;
  }
  if (i != name.size()) return false;
  if (!digits && !extended) return false;  // "name*" without anything after: not 2231
  p.base = name.substr(0, star);
  p.index = digits ? idx : 0;
  p.extended = extended;
  return true;
}

void escapePercent(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '%') {
      out += "%25";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::vector<Param> parseParams(std::string_view s) {
  std::vector<Param> out;
  std::vector<Piece> pieces;
  size_t i = 0;
  size_t order = 0;
  while (i < s.size()) {
    lex::skipCfws(s, i);
    if (i >= s.size()) break;
    if (s[i] == ';') {
      ++i;
      continue;
    }
    std::string name(lex::readWhile(s, i, [](char c) { return lex::isTokenChar(c) || c == '*'; }));
    lex::skipCfws(s, i);
    if (name.empty() || i >= s.size() || s[i] != '=') {
      // Garbage or a parameter without a value: skip to the next one.
      while (i < s.size() && s[i] != ';') ++i;
      continue;
    }
    ++i;
    lex::skipCfws(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      value = lex::readQuoted(s, i);
    } else {
      // Tolerant: an unquoted value runs to ';' or a comment, so that
      // name=foo bar.pdf keeps its blank as mailers meant it.
      std::string_view raw = lex::readWhile(s, i, [](char c) { return c != ';' && c != '(' && c != '"'; });
      value = unfold(raw);
    }
    while (i < s.size() && s[i] != ';') {
      if (s[i] == '(') {
        lex::skipCfws(s, i);
      } else {
        ++i;
      }
    }
    Piece p;
    if (splitRfc2231(name, p)) {
      p.value = std::move(value);
      p.order = order++;
      pieces.push_back(std::move(p));
    } else {
      out.push_back({std::move(name), std::move(value)});
      ++order;
    }
  }
  if (pieces.empty()) return out;

  // Merge continuations per name (case-insensitive), in index order. With a
  // gap in the indexes the pieces stay separate, as Dovecot does.
  std::map<std::string, std::vector<Piece>> groups;
  std::vector<std::string> keysInOrder;
  for (Piece& p : pieces) {
    std::string key = toLower(p.base);
    if (!groups.count(key)) keysInOrder.push_back(key);
    groups[key].push_back(std::move(p));
  }
  for (const std::string& key : keysInOrder) {
    std::vector<Piece>& g = groups[key];
    std::stable_sort(g.begin(), g.end(), [](const Piece& a, const Piece& b) { return a.index < b.index; });
    bool contiguous = true;
    bool anyExtended = false;
    for (size_t k = 0; k < g.size(); ++k) {
      if (g[k].index != k) contiguous = false;
      anyExtended = anyExtended || g[k].extended;
    }
    if (!contiguous) {
      for (const Piece& p : g) {
        out.push_back({p.base + "*" + std::to_string(p.index) + (p.extended ? "*" : ""), p.value});
      }
      continue;
    }
    std::string value;
    if (anyExtended && !g[0].extended) value = "''";
    for (const Piece& p : g) {
      if (anyExtended && !p.extended) {
        escapePercent(value, p.value);
      } else {
        value += p.value;
      }
    }
    out.push_back({g[0].base + (anyExtended ? "*" : ""), std::move(value)});
  }
  return out;
}

bool parseContentType(std::string_view s, std::string& type, std::string& subtype,
                      std::vector<Param>& params) {
  size_t i = 0;
  lex::skipCfws(s, i);
  std::string_view t = lex::readWhile(s, i, lex::isTokenChar);
  if (t.empty()) return false;
  lex::skipCfws(s, i);
  std::string_view sub;
  if (i < s.size() && s[i] == '/') {
    ++i;
    lex::skipCfws(s, i);
    sub = lex::readWhile(s, i, lex::isTokenChar);
  }
  type = std::string(t).substr(0, kMaxValue);
  subtype = std::string(sub).substr(0, kMaxValue);
  while (i < s.size() && s[i] != ';') ++i;
  params = parseParams(s.substr(i));
  return true;
}

bool parseDisposition(std::string_view s, std::string& token, std::vector<Param>& params) {
  size_t i = 0;
  lex::skipCfws(s, i);
  std::string_view t = lex::readWhile(s, i, lex::isTokenChar);
  if (t.empty()) return false;
  token = std::string(t).substr(0, kMaxValue);
  while (i < s.size() && s[i] != ';') ++i;
  params = parseParams(s.substr(i));
  return true;
}

std::optional<std::string> parseToken(std::string_view s) {
  size_t i = 0;
  lex::skipCfws(s, i);
  std::string_view t = lex::readWhile(s, i, lex::isTokenChar);
  if (t.empty()) return std::nullopt;
  return std::string(t).substr(0, kMaxValue);
}

std::vector<std::string> parseLanguage(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size() && out.size() < 100) {
    lex::skipCfws(s, i);
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    std::string_view t = lex::readWhile(s, i, [](char c) { return lex::isTokenChar(c); });
    if (t.empty()) break;
    out.emplace_back(t.substr(0, 256));
  }
  return out;
}

std::optional<std::string_view> findParam(const std::vector<Param>& params, std::string_view name) {
  for (const Param& p : params) {
    if (iequals(p.name, name)) return std::string_view(p.value);
  }
  return std::nullopt;
}

}  // namespace postern::mime
