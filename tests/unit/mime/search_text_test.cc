// mime/search_text: the search text answers exactly what the scan
// (headerContains(h, "", n) / bodyContains) answers, for every corpus
// message and many needles; the filter never hides a match and skips most
// absent needles; malformed values are refused or read within bounds.
#include <doctest/doctest.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "mime/decode.h"
#include "mime/header.h"
#include "mime/search_text.h"

using namespace postern::mime;

namespace {

std::vector<std::string> corpus() {
  std::vector<std::string> out;
  DIR* d = opendir(POSTERN_EMAIL_CORPUS);
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("msg_", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".txt") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::ifstream in(std::string(POSTERN_EMAIL_CORPUS) + "/" + n, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

std::string crlf(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) o += '\r';
    o += s[i];
  }
  return o;
}

// Hand-made cases the corpus lacks: encodings, charsets, an encapsulated
// message, an attachment that is not text, odd header blocks.
std::vector<std::string> handMade() {
  return {
      "Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\nFrom: A <a@x>\r\n\r\nPlain body with MiXeD case\r\n",
      "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Stra=DFe und K=D6LN, soft=\r\nbreak joined\r\n",
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gYmFzZTY0IFdvcmxk\r\n--b\r\n"
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0IGF0dGFjaG1lbnQ=\r\n--b\r\n"
      "Content-Type: message/rfc822\r\n\r\nSubject: Inner subject line\r\nX-Inner: deep value\r\n\r\nInner body text\r\n"
      "--b--\r\n",
      "\r\nNo header at all\r\nX-Looks: like a header\r\n",
      "Subject: no empty line, header only\r\nX-More: still header\r\n",
      "Content-Type: text/html; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4 <b>bold</b>\r\n",
      "Subject: \xc3\x9cmlaut raw 8-bit\r\n\r\nBody \xff\xfe invalid octets \xce\x91\xce\x92\r\n",
  };
}

// All texts of a message, header ones first, as the scan sees them.
std::vector<std::string> textsOf(const std::string& m) {
  std::vector<std::string> out;
  auto add = [&](std::string&& t) {
    out.push_back(std::move(t));
    return true;
  };
  forEachHeaderText(std::string_view(m).substr(0, headerBlockSize(m)), add);
  forEachBodyText(m, parse(m), add);
  return out;
}

std::string flipCase(std::string s, uint32_t seed) {
  for (size_t i = 0; i < s.size(); ++i)
    if ((seed >> (i % 32)) & 1) s[i] = char(std::toupper(static_cast<unsigned char>(s[i])));
  return s;
}

}  // namespace

TEST_CASE("search text: the same answers as the scan, for corpus and hand-made messages") {
  std::vector<std::string> msgs = handMade();
  for (const auto& m : corpus()) {
    msgs.push_back(m);
    msgs.push_back(crlf(m));
  }
  REQUIRE(msgs.size() > 7);
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1103515245u + 12345u; };
  size_t checked = 0, found = 0;
  for (const auto& m : msgs) {
    const Structure s = parse(m);
    const std::string built = buildSearchText(m, s);
    auto st = SearchText::parse(built);
    REQUIRE(st);
    CHECK(st->filterBlock().size() + st->texts().size() == built.size());
    std::vector<std::string> needles = {"", "a", "zq", "zzqqxxj", "xq-absent-word", "\r\n", ": "};
    std::vector<std::string> texts = textsOf(m);
    for (size_t t = 0; t < texts.size(); ++t) {
      const std::string& x = texts[t];
      for (int k = 0; k < 6 && !x.empty(); ++k) {
        size_t at = next() % x.size(), len = next() % 14;
        needles.push_back(flipCase(x.substr(at, len), next()));
      }
      // Across the end of one text into the next: found only when a text has it.
      if (t + 1 < texts.size() && x.size() >= 3 && texts[t + 1].size() >= 3)
        needles.push_back(x.substr(x.size() - 3) + texts[t + 1].substr(0, 3));
    }
    const std::string header(std::string_view(m).substr(0, headerBlockSize(m)));
    // Field names: the message's own (in other cases), and absent or odd ones.
    std::vector<std::string> fields = {"Subject", "x-absent", "FROM", "Subjec", "Content-Type"};
    forEachField(header, [&](const HeaderField& h) {
      if (searchableField(h.name)) fields.push_back(flipCase(std::string(h.name), next()));
      return fields.size() < 12;
    });
    for (const auto& n : needles) {
      const std::string f = foldCase(n);
      const bool body = bodyContains(m, s, n);
      const bool head = headerContains(header, "", n);
      const bool text = head || body;
      CHECK_MESSAGE(st->contains(f, SearchScope::kBody) == body, "BODY \"" << n << "\"");
      CHECK_MESSAGE(st->contains(f, SearchScope::kText) == text, "TEXT \"" << n << "\"");
      CHECK_MESSAGE(st->contains(f, SearchScope::kHeader) == head, "HEADER \"\" \"" << n << "\"");
      bool any = text;
      for (const auto& field : fields) {
        const bool hit = headerContains(header, field, n);
        CHECK_MESSAGE(st->contains(f, SearchScope::kField, field) == hit, "HEADER " << field << " \"" << n << "\"");
        any |= hit;
      }
      if (any) CHECK_MESSAGE(st->mayContain(f), "filter hides \"" << n << "\"");
      ++checked;
      found += text;
    }
  }
  CHECK(checked > 500);
  CHECK(found > checked / 3);  // the needles do hit, not only miss
}

TEST_CASE("search text: the filter skips most absent needles") {
  std::string body;
  uint32_t rng = 7;
  static const char* kWords[] = {"the", "mail", "server", "answers", "quickly", "with", "every", "message",
                                 "folder", "and", "flag", "which", "clients", "expect", "from", "it"};
  while (body.size() < 10000) {
    rng = rng * 1103515245u + 12345u;
    body += kWords[(rng >> 16) % 16];
    body += (rng >> 8) % 11 == 0 ? ".\r\n" : " ";
  }
  const std::string m = "Subject: words\r\n\r\n" + body + "\r\n";
  const std::string built = buildSearchText(m, parse(m));
  auto st = SearchText::parse(built);
  REQUIRE(st);
  int passed = 0;
  for (int i = 0; i < 200; ++i) {
    std::string n = "x" + std::to_string(1000003 * i) + "q";  // in no text
    CHECK_FALSE(st->contains(n, SearchScope::kText));
    passed += st->mayContain(n);
  }
  CHECK(passed < 10);
  CHECK(st->mayContain("quickly"));
  CHECK(st->contains("quickly", SearchScope::kBody));
  CHECK(st->contains("words", SearchScope::kField, "SUBJECT"));
  CHECK_FALSE(st->contains("words", SearchScope::kBody));
}

TEST_CASE("search text: which field names a search text can answer") {
  CHECK(searchableField("Subject"));
  CHECK(searchableField("X-Mailer"));
  CHECK_FALSE(searchableField(""));
  CHECK_FALSE(searchableField("Two Words"));
  CHECK_FALSE(searchableField("Na:me"));
  CHECK_FALSE(searchableField("\xc3\x84rger"));
}

TEST_CASE("search text: malformed values are refused or read within bounds") {
  CHECK_FALSE(SearchText::parse(""));
  CHECK_FALSE(SearchText::parse(std::string("\0\0\0", 3)));
  CHECK_FALSE(SearchText::parse(std::string("\0\0\0\x20", 4)));          // filter missing
  CHECK_FALSE(SearchText::parse(std::string("\0\0\0\x21", 4) + std::string(33, '\0')));  // not a power of two
  CHECK_FALSE(SearchText::parse(std::string("\0\0\0\x10", 4) + std::string(16, '\0')));  // too small
  CHECK_FALSE(SearchText::parse(std::string("\x7f\0\0\0", 4)));          // too big
  const std::string m = "Subject: hello\r\n\r\nworld wide\r\n";
  const std::string built = buildSearchText(m, parse(m));
  // Every truncation: parse refuses it, or what it finds is in the whole
  // value too (nothing is read past the cut: ASan / UBSan would stop here).
  auto whole = SearchText::parse(built);
  REQUIRE(whole);
  REQUIRE(whole->contains("world", SearchScope::kText));
  REQUIRE(whole->contains("hello", SearchScope::kField, "subject"));
  size_t parsed = 0, found = 0;
  for (size_t n = 0; n <= built.size(); ++n) {
    std::string cut = built.substr(0, n);
    auto st = SearchText::parse(cut);
    if (n < whole->filterBlock().size()) CHECK_FALSE(st);  // the filter is cut: refused
    if (!st) continue;
    ++parsed;
    CHECK(st->texts().size() <= whole->texts().size());
    CHECK(whole->texts().substr(0, st->texts().size()) == st->texts());
    for (const char* w : {"world", "wide", "hello", "nowhere"}) {
      bool hit = st->contains(w, SearchScope::kText);
      if (hit) ++found;
      CHECK((!hit || whole->contains(w, SearchScope::kText)));
      bool field = st->contains(w, SearchScope::kField, "subject");
      CHECK((!field || whole->contains(w, SearchScope::kField, "subject")));
      st->mayContain(w);
    }
  }
  CHECK(parsed > 0);       // cuts inside the texts still parse
  CHECK(found > 0);        // and find what is before the cut
  CHECK(parsed <= built.size() + 1 - whole->filterBlock().size());
  // A text length running past the end ends the walk.
  std::string bad = built;
  auto st = SearchText::parse(built);
  REQUIRE(st);
  const size_t first = st->filterBlock().size();
  bad[first + 1] = '\x7f';
  auto b = SearchText::parse(bad);
  REQUIRE(b);
  CHECK_FALSE(b->contains("world", SearchScope::kText));
}
