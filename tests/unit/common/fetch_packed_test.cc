// FetchBodies' packed form: entries read back as written, anything else refused.
#include "fetch_packed.h"

#include "doctest/doctest.h"

using namespace postern;

TEST_CASE("packed entries: read back as written; anything else is refused") {
  std::string p;
  packed::append(p, 7, packed::Kind::kRendered, "abc");
  packed::appendError(p, 8, 5, "gone");
  packed::append(p, 9, packed::Kind::kStructure, "");
  size_t at = 0;
  auto a = packed::next(p, &at);
  REQUIRE(a.has_value());
  CHECK(a->uid == 7);
  CHECK(a->kind == packed::Kind::kRendered);
  CHECK(a->data == "abc");
  auto b = packed::next(p, &at);
  REQUIRE(b.has_value());
  CHECK(b->kind == packed::Kind::kError);
  CHECK(b->code == 5);
  CHECK(b->message == "gone");
  auto c = packed::next(p, &at);
  REQUIRE(c.has_value());
  CHECK(c->uid == 9);
  CHECK(c->data.empty());
  CHECK(at == p.size());
  CHECK_FALSE(packed::next(p, &at).has_value());
  // Truncated anywhere, or of an unknown kind: not an entry, and the offset stays.
  for (size_t cut = 1; cut < 12; cut++) {
    std::string t = p.substr(0, cut);
    size_t o = 0;
    CHECK_FALSE(packed::next(t, &o).has_value());
    CHECK(o == 0);
  }
  std::string bad = p;
  bad[4] = 'X';
  size_t o = 0;
  CHECK_FALSE(packed::next(bad, &o).has_value());
  std::string short_error;
  packed::appendHeader(short_error, 1, packed::Kind::kError, 2);
  short_error += "ab";
  o = 0;
  CHECK_FALSE(packed::next(short_error, &o).has_value());
}
