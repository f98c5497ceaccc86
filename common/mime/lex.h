#pragma once
// RFC 5322 / RFC 2045 lexical helpers (internal to the MIME engine). Each
// takes the text and a position, advances it, and never reads past the end.
#include <cstddef>
#include <string>
#include <string_view>

namespace postern::mime::lex {

inline bool isWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Skips blanks and (nested) comments. The text of the last comment skipped
// goes to *comment when given (an addr-spec's comment is its display name).
inline void skipCfws(std::string_view s, size_t& i, std::string* comment = nullptr) {
  while (i < s.size()) {
    if (isWsp(s[i])) {
      ++i;
    } else if (s[i] == '(') {
      int depth = 0;
      std::string text;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          text += s[i++];
          continue;
        }
        if (c == '(') {
          if (depth++ == 0) continue;
        } else if (c == ')') {
          if (--depth == 0) break;
        }
        text += c;
      }
      if (comment) *comment = text;
    } else {
      break;
    }
  }
}

// At a '"': the quoted string's content with quoting removed, folding
// removed. An unterminated string runs to the end.
inline std::string readQuoted(std::string_view s, size_t& i) {
  std::string out;
  ++i;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '"') break;
    if (c == '\\' && i < s.size()) {
      out += s[i++];
    } else if (c != '\r' && c != '\n') {
      out += c;
    }
  }
  return out;
}

// RFC 5322 atext plus 8-bit octets (UTF-8 and raw 8-bit names are common).
inline bool isAtext(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if (c >= 0x80) return true;
  if (c <= 0x20 || c == 0x7f) return false;
  return std::string_view("()<>[]:;@\\,.\"").find(ch) == std::string_view::npos;
}

// RFC 2045 token characters.
inline bool isTokenChar(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if (c >= 0x80) return true;
  if (c <= 0x20 || c == 0x7f) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(ch) == std::string_view::npos;
}

template <typename Pred>
inline std::string_view readWhile(std::string_view s, size_t& i, Pred pred) {
  size_t b = i;
  while (i < s.size() && pred(s[i])) ++i;
  return s.substr(b, i - b);
}

}  // namespace postern::mime::lex
