#include <doctest/doctest.h>

#include "message.h"

using postern::normalizeCrlf;

TEST_CASE("normalizeCrlf turns bare LF and CR into CRLF and keeps CRLF") {
  CHECK(normalizeCrlf("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd");
  CHECK(normalizeCrlf("") == "");
  CHECK(normalizeCrlf("\r\n\r\n") == "\r\n\r\n");
  CHECK(normalizeCrlf("x\r") == "x\r\n");
}
