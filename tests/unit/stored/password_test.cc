#include <regex>

#include "doctest/doctest.h"
#include "password.h"

using namespace postern::stored;

TEST_CASE("password hash names its scheme and verifies") {
  auto h = hashPassword("correct horse");
  REQUIRE(h.ok());
  CHECK(std::regex_match(*h, std::regex(R"(\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=)")));
  CHECK(verifyPassword("correct horse", *h));
  CHECK_FALSE(verifyPassword("correct horsE", *h));
  CHECK_FALSE(verifyPassword("", *h));
}

TEST_CASE("password hashes are salted") {
  auto a = hashPassword("same");
  auto b = hashPassword("same");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a != *b);
}

TEST_CASE("malformed stored password strings never verify") {
  auto h = hashPassword("pw");
  REQUIRE(h.ok());
  std::string good = *h;
  const char* bad[] = {"", "pw", "$scrypt$", "$scrypt$ln=14,r=8,p=1$", "$scrypt$ln=14,r=8,p=1$$",
                       "$scrypt$ln=99,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA", "$md5$x$y",
                       "$scrypt$ln=14,r=8$AAAAAAAAAAAAAAAAAAAAAA==$AAAA"};
  for (const char* b : bad) CHECK_FALSE(verifyPassword("pw", b));
  CHECK_FALSE(verifyPassword("pw", good.substr(0, good.size() - 4)));
  CHECK_FALSE(verifyPassword("pw", good + "$x"));
  std::string flipped = good;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(verifyPassword("pw", flipped));
}
