#include <doctest/doctest.h>

#include <random>
#include <string>

#include "message.h"

using postern::normalizeCrlf;

namespace {

// The definition, one byte at a time.
std::string reference(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (in[i] == '\n') {
      out += "\r\n";
    } else {
      out += in[i];
    }
  }
  return out;
}

}  // namespace

TEST_CASE("normalizeCrlf turns bare LF and CR into CRLF and keeps CRLF") {
  CHECK(normalizeCrlf("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd");
  CHECK(normalizeCrlf("") == "");
  CHECK(normalizeCrlf("\r\n\r\n") == "\r\n\r\n");
  CHECK(normalizeCrlf("x\r") == "x\r\n");
  CHECK(normalizeCrlf("\n\r") == "\r\n\r\n");
  CHECK(normalizeCrlf("\r\r\n\n") == "\r\n\r\n\r\n");
  CHECK(normalizeCrlf("no line end") == "no line end");
}

TEST_CASE("normalizeCrlf agrees with the byte-by-byte definition on random text") {
  std::mt19937 rng(7);
  const char alphabet[] = {'a', 'b', ' ', '\r', '\n', '\0', '\xff'};
  for (int round = 0; round < 2000; round++) {
    std::string in(rng() % 200, 'x');
    for (auto& c : in) c = alphabet[rng() % sizeof alphabet];
    REQUIRE(normalizeCrlf(in) == reference(in));
  }
}

TEST_CASE("normalizeCrlf is linear: megabytes of bare CRs, or of one long line") {
  std::string crs(4 << 20, '\r');
  std::string out = normalizeCrlf(crs);
  CHECK(out.size() == crs.size() * 2);
  std::string line(4 << 20, 'y');
  line += "\n";
  CHECK(normalizeCrlf(line) == line.substr(0, line.size() - 1) + "\r\n");
  std::string mixed;
  for (int i = 0; i < 200000; i++) mixed += "abc\r\r\n\n";
  CHECK(normalizeCrlf(mixed) == reference(mixed));
}
