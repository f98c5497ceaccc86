// BODY[section] by offsets (RFC 3501 6.4.5).
#include "mime/mime.h"

namespace postern::mime {

namespace {

// Sub-part n (1-based) of entity x: a multipart's n-th child; for
// message/rfc822, the n-th part of the encapsulated message (its top entity
// itself when that is not multipart); for anything else only part 1, which
// is the entity itself.
const Part* subpart(const Part& x, uint32_t n) {
  if (n == 0) return nullptr;
  switch (x.kind) {
    case Part::Kind::kMultipart:
      return n <= x.children.size() ? &x.children[n - 1] : nullptr;
    case Part::Kind::kMessage: {
      if (x.children.empty()) return nullptr;
      const Part& e = x.children[0];
      if (e.kind == Part::Kind::kMultipart) return n <= e.children.size() ? &e.children[n - 1] : nullptr;
      return n == 1 ? &e : nullptr;
    }
    case Part::Kind::kLeaf:
      return n == 1 ? &x : nullptr;
  }
  return nullptr;
}

std::optional<std::string_view> slice(std::string_view msg, const Range& r) {
  if (r.start > r.end || r.end > msg.size()) return std::nullopt;
  return msg.substr(r.start, r.end - r.start);
}

}  // namespace

std::optional<std::string_view> section(std::string_view message, const Structure& s,
                                        const std::vector<uint32_t>& part, SectionText text) {
  const Part& root = s.root;
  if (part.empty()) {
    switch (text) {
      case SectionText::kNone: return message;
      case SectionText::kHeader: return slice(message, root.header);
      case SectionText::kText: return slice(message, root.body);
      case SectionText::kMime: return std::nullopt;
    }
    return std::nullopt;
  }
  // The message itself: part 1 of a non-multipart message is its body,
  // even when that body is an encapsulated message.
  const Part* cur = nullptr;
  if (root.kind == Part::Kind::kMultipart) {
    cur = part[0] >= 1 && part[0] <= root.children.size() ? &root.children[part[0] - 1] : nullptr;
  } else {
    cur = part[0] == 1 ? &root : nullptr;
  }
  for (size_t i = 1; cur && i < part.size(); ++i) cur = subpart(*cur, part[i]);
  if (!cur) return std::nullopt;
  switch (text) {
    case SectionText::kNone: return slice(message, cur->body);
    case SectionText::kMime: return slice(message, cur->header);
    case SectionText::kHeader:
    case SectionText::kText:
      if (cur->kind != Part::Kind::kMessage || cur->children.empty()) return std::nullopt;
      return slice(message, text == SectionText::kHeader ? cur->children[0].header : cur->children[0].body);
  }
  return std::nullopt;
}

}  // namespace postern::mime
