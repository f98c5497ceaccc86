// The Python e-mail test corpus (Debian libpython3.11-testsuite): every
// message parses, renders, round-trips and has every section in range; a
// few have exact BODYSTRUCTURE / ENVELOPE checked by hand.
#include <doctest/doctest.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "bodystructure.h"
#include "mime/decode.h"
#include "mime_test_util.h"

using namespace postern::mime;
using postern::Result;
using postern::mime::test::bs;
using postern::mime::test::env;

namespace {

std::string corpusFile(const std::string& name) {
  std::ifstream in(std::string(POSTERN_EMAIL_CORPUS) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> corpusNames() {
  std::vector<std::string> out;
  DIR* d = opendir(POSTERN_EMAIL_CORPUS);
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("msg_", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".txt") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Every part path of a structure, as section() numbers them.
void paths(const Part& p, std::vector<uint32_t> prefix, std::vector<std::vector<uint32_t>>& out) {
  const Part* kids = &p;
  if (p.kind == Part::Kind::kMessage) kids = &p.children[0];
  if (kids->kind != Part::Kind::kMultipart) return;
  for (uint32_t i = 0; i < kids->children.size(); ++i) {
    std::vector<uint32_t> path = prefix;
    path.push_back(i + 1);
    out.push_back(path);
    paths(kids->children[i], path, out);
  }
}

}  // namespace

TEST_CASE("corpus: every message parses, renders and round-trips") {
  std::vector<std::string> names = corpusNames();
  if (names.empty()) {
    MESSAGE("corpus not installed (apt-get install libpython3.11-testsuite); skipped");
    return;
  }
  CHECK(names.size() >= 40);
  for (const std::string& n : names) {
    CAPTURE(n);
    std::string raw = corpusFile(n);
    for (const std::string& m : {raw, postern::mime::test::crlf(raw)}) {
      Structure s = parse(m);
      std::string full = bs(m, true);
      CHECK(full.front() == '(');
      CHECK(full.back() == ')');
      CHECK(std::count(full.begin(), full.end(), '(') == std::count(full.begin(), full.end(), ')'));
      CHECK(!env(m).empty());
      // The three as stored keeps them read back the same.
      const std::string stored = postern::imap::renderAll(s);  // the views point into it
      auto kept = postern::imap::parseRendered(stored);
      REQUIRE(kept.has_value());
      CHECK(kept->bodystructure == full);
      CHECK(kept->body == bs(m, false));
      CHECK(kept->envelope == env(m));
      Result<Structure> back = deserialise(serialise(s));
      REQUIRE(back.ok());
      CHECK(*back == s);
      std::vector<std::vector<uint32_t>> all;
      if (s.root.kind == Part::Kind::kMultipart) {
        paths(s.root, {}, all);
      } else {
        all.push_back({1});
        paths(s.root, {1}, all);
      }
      for (const auto& path : all) {
        CHECK(section(m, s, path, SectionText::kNone).has_value());
        CHECK(section(m, s, path, SectionText::kMime).has_value());
      }
      bodyContains(m, s, "zzz-not-there");
    }
  }
}

TEST_CASE("corpus: hand-checked structures") {
  if (corpusNames().empty()) return;
  // A top-level message/rfc822 (RFC 3501: part 1 is the whole enclosed message).
  std::string m11 = postern::mime::test::crlf(corpusFile("msg_11.txt"));
  CHECK(bs(m11) ==
        R"x(("message" "rfc822" NIL NIL NIL "7bit" 66 (NIL "An enclosed message" NIL NIL NIL NIL NIL NIL NIL NIL) )x"
        R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 34 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL))x");
  CHECK(env(m11) == R"x((NIL "The enclosing message" NIL NIL NIL NIL NIL NIL NIL NIL))x");
  Structure s11 = parse(m11);
  CHECK(*section(m11, s11, {1}, SectionText::kNone) == "Subject: An enclosed message\r\n\r\nHere is the body of the message.\r\n");
  CHECK(*section(m11, s11, {1, 1}, SectionText::kNone) == "Here is the body of the message.\r\n");
  CHECK(*section(m11, s11, {1}, SectionText::kHeader) == "Subject: An enclosed message\r\n\r\n");

  // multipart/digest: the parts start with a blank line, so they have no
  // header and default to message/rfc822 whose own header has Content-Type.
  std::string m30 = postern::mime::test::crlf(corpusFile("msg_30.txt"));
  const char* inner =
      R"x(("message" "rfc822" NIL NIL NIL "7bit" 102 (NIL "ee" ((NIL NIL "cc" "dd.org")) ((NIL NIL "cc" "dd.org")) )x"
      R"x(((NIL NIL "cc" "dd.org")) ((NIL NIL "aa" "bb.org")) NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") )x"
      R"x(NIL NIL "7bit" 11 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL))x";
  CHECK(bs(m30) == std::string("(") + inner + inner + R"x( "digest" ("boundary" "BOUNDARY") NIL NIL NIL))x");

  // No blank line after the header: all header, empty body.
  std::string m35 = postern::mime::test::crlf(corpusFile("msg_35.txt"));
  CHECK(bs(m35, false) == R"x(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0))x");
  CHECK(env(m35) == R"x((NIL "here's something interesting" ((NIL NIL "aperson" "dom.ain")) ((NIL NIL "aperson" "dom.ain")) )x"
                    R"x(((NIL NIL "aperson" "dom.ain")) ((NIL NIL "bperson" "dom.ain")) NIL NIL NIL NIL))x");
}
