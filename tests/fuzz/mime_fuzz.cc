// Fuzz target: the MIME engine (common/mime) as delivery and FETCH use it:
// parse() on an arbitrary message, serialise/deserialise of the structure,
// deserialise() of arbitrary bytes (a damaged stored structure), every
// section of every part, the ENVELOPE / BODY / BODYSTRUCTURE renderings and
// the SEARCH decoding, and the search text (equal to the scan).
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bodystructure.h"
#include "fuzz_util.h"
#include "mime/decode.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "mime/search_text.h"

namespace {

using namespace postern;

struct Walk {
  std::string_view msg;
  size_t parts = 0;
  int max_depth = 0;
};

// Offsets stay inside the message and inside the parent; a part's header
// ends where its body starts; counts fit the body.
void checkPart(Walk& w, const mime::Part& p, mime::Range outer, int depth) {
  ++w.parts;
  if (depth > w.max_depth) w.max_depth = depth;
  FUZZ_CHECK(p.header.start <= p.header.end);
  FUZZ_CHECK(p.body.start <= p.body.end);
  FUZZ_CHECK(p.header.end <= p.body.start);
  FUZZ_CHECK(p.header.start >= outer.start);
  FUZZ_CHECK(p.body.end <= outer.end);
  FUZZ_CHECK(p.body.end <= w.msg.size());
  FUZZ_CHECK(p.bodyLines <= p.body.size());
  FUZZ_CHECK(p.bodyOctets >= p.body.size() && p.bodyOctets <= 2 * p.body.size());
  if (p.kind == mime::Part::Kind::kMessage) FUZZ_CHECK(p.children.size() == 1);
  if (p.kind == mime::Part::Kind::kLeaf) FUZZ_CHECK(p.children.empty());
  uint64_t prev_end = p.body.start;
  for (const auto& c : p.children) {
    // Children follow one another inside the body.
    FUZZ_CHECK(c.header.start >= prev_end);
    prev_end = c.body.end;
    checkPart(w, c, p.body, depth + 1);
  }
}

// Balanced parentheses outside quoted strings and literals, and nothing
// after the closing one: what a client's response parser needs.
void checkImapList(std::string_view s) {
  FUZZ_CHECK(!s.empty() && s.front() == '(');
  int depth = 0;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        FUZZ_CHECK(s[i] != '\r' && s[i] != '\n');
        FUZZ_CHECK(static_cast<unsigned char>(s[i]) < 0x80);
        if (s[i] == '\\') ++i;
        ++i;
      }
      FUZZ_CHECK(i < s.size());
      ++i;
      continue;
    }
    if (c == '{') {
      size_t close = s.find("}\r\n", i);
      FUZZ_CHECK(close != std::string_view::npos);
      uint64_t n = 0;
      for (size_t k = i + 1; k < close; ++k) {
        FUZZ_CHECK(s[k] >= '0' && s[k] <= '9');
        n = n * 10 + static_cast<uint64_t>(s[k] - '0');
        FUZZ_CHECK(n <= s.size());
      }
      i = close + 3 + n;
      FUZZ_CHECK(i <= s.size());
      continue;
    }
    FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    if (c == '(') ++depth;
    if (c == ')') {
      FUZZ_CHECK(depth > 0);
      --depth;
      if (depth == 0) FUZZ_CHECK(i + 1 == s.size());
    }
    ++i;
  }
  FUZZ_CHECK(depth == 0);
}

// `fits`: s was parsed from msg (not an arbitrary deserialised structure),
// so every non-multipart part's section is exactly its body range.
void checkSections(std::string_view msg, const mime::Structure& s, const mime::Part& p,
                   std::vector<uint32_t>& path, int budget, bool fits) {
  if (budget <= 0) return;
  for (auto text : {mime::SectionText::kNone, mime::SectionText::kHeader, mime::SectionText::kText,
                    mime::SectionText::kMime}) {
    auto sec = mime::section(msg, s, path, text);
    if (!sec) continue;
    // A view into the message itself.
    FUZZ_CHECK(sec->data() >= msg.data() && sec->data() + sec->size() <= msg.data() + msg.size());
  }
  auto body = mime::section(msg, s, path, mime::SectionText::kNone);
  if (fits && !path.empty() && p.kind != mime::Part::Kind::kMultipart) {
    FUZZ_CHECK(body.has_value());
    FUZZ_CHECK(static_cast<uint64_t>(body->data() - msg.data()) == p.body.start);
    FUZZ_CHECK(body->size() == p.body.size());
  }
  if (p.kind == mime::Part::Kind::kMultipart) {
    for (uint32_t i = 0; i < p.children.size() && i < 8; ++i) {
      path.push_back(i + 1);
      checkSections(msg, s, p.children[i], path, budget - 1, fits);
      path.pop_back();
    }
  } else if (p.kind == mime::Part::Kind::kMessage && !p.children.empty()) {
    // RFC 3501 6.4.5: the parts of a message/rfc822 part P's multipart are
    // P.1, P.2, ...; a top-level message/rfc822 message is part 1 itself,
    // so there they are 1.1, 1.2, ...
    const mime::Part& inner = p.children[0];
    bool top = path.empty();
    if (top) path.push_back(1);
    if (inner.kind == mime::Part::Kind::kMultipart) {
      for (uint32_t i = 0; i < inner.children.size() && i < 8; ++i) {
        path.push_back(i + 1);
        checkSections(msg, s, inner.children[i], path, budget - 1, fits);
        path.pop_back();
      }
    }
    if (top) path.pop_back();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view msg(reinterpret_cast<const char*>(data), size);

  mime::Structure s = mime::parse(msg);
  FUZZ_CHECK(s.root.envelope.has_value());
  Walk w{msg};
  checkPart(w, s.root, mime::Range{0, msg.size()}, 0);
  FUZZ_CHECK(w.parts <= mime::kMaxParts + 1);
  FUZZ_CHECK(w.max_depth <= 2 * mime::kMaxDepth + 2);

  // The stored form reads back as the same structure, and a damaged one is
  // refused (or read as some structure), never read out of bounds.
  std::string blob = mime::serialise(s);
  auto back = mime::deserialise(blob);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back.value() == s);
  if (!blob.empty()) {
    std::string bad = blob;
    bad[fuzz::hashBytes(msg) % bad.size()] ^= 0x20;
    auto r = mime::deserialise(bad);
    if (r.ok()) (void)imap::bodyStructure(r.value(), true);
    (void)mime::deserialise(std::string_view(blob).substr(0, blob.size() / 2));
  }
  auto raw = mime::deserialise(msg);
  if (raw.ok()) {
    // Whatever deserialise accepts must be safe to render and to cut the
    // message with (sections check the offsets against the message).
    (void)imap::bodyStructure(raw.value(), true);
    std::vector<uint32_t> path;
    checkSections(msg, raw.value(), raw.value().root, path, 2, false);
    (void)mime::section(msg, raw.value(), {1, 2}, mime::SectionText::kMime);
  }

  checkImapList(imap::envelope(s));
  checkImapList(imap::bodyStructure(s, false));
  checkImapList(imap::bodyStructure(s, true));

  std::vector<uint32_t> path;
  checkSections(msg, s, s.root, path, 4, true);

  // SEARCH: decoding (transfer encodings, charsets, encoded words) runs
  // on anything without failing.
  // The search text answers what the scan answers, and its filter never
  // hides a match; arbitrary bytes as a stored search text stay in bounds.
  const std::string built = mime::buildSearchText(msg, s);
  auto st = mime::SearchText::parse(built);
  FUZZ_CHECK(st.has_value());
  const std::string_view header = msg.substr(0, mime::headerBlockSize(msg));
  for (std::string_view n : {std::string_view("needle"), std::string_view("e"), std::string_view(""),
                             msg.substr(size / 3, std::min<size_t>(size / 3, 9))}) {
    const std::string f = mime::foldCase(n);
    const bool body = mime::bodyContains(msg, s, n), head = mime::headerContains(header, "", n);
    const bool subject = mime::headerContains(header, "subject", n);
    FUZZ_CHECK(st->contains(f, mime::SearchScope::kBody) == body);
    FUZZ_CHECK(st->contains(f, mime::SearchScope::kText) == (body || head));
    FUZZ_CHECK(st->contains(f, mime::SearchScope::kHeader) == head);
    FUZZ_CHECK(st->contains(f, mime::SearchScope::kField, "SUBJECT") == subject);
    if (body || head) FUZZ_CHECK(st->mayContain(f));
  }
  if (auto raw = mime::SearchText::parse(msg)) {
    (void)raw->mayContain("needle");
    (void)raw->contains("needle", mime::SearchScope::kText);
    (void)raw->contains("x", mime::SearchScope::kField, "subject");
  }
  (void)mime::headerContains(msg.substr(0, s.root.header.end), "subject", "x");
  (void)mime::decodeHeader(msg.substr(0, std::min<size_t>(msg.size(), 4096)));
  return 0;
}
