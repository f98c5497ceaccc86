// The stored form: round trip, and clean failure on anything damaged.
#include <doctest/doctest.h>

#include "mime/mime.h"
#include "mime_test_util.h"

using namespace postern::mime;
using postern::Result;
using postern::mime::test::crlf;

namespace {

const char* kMsg =
    "From: \"A\" <a@b>, Group: c@d;\nSubject: =?utf-8?q?x?=\nDate: today\nMessage-ID: <1@x>\n"
    "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Language: en\nContent-Disposition: inline; a=b\nContent-ID: <c>\n\nhi\n--b\n"
    "Content-Type: message/rfc822\n\nSubject: in\n\nbody\n--b--\n";

}  // namespace

TEST_CASE("serialise: round trip") {
  Structure s = parse(crlf(kMsg));
  std::string data = serialise(s);
  Result<Structure> back = deserialise(data);
  REQUIRE(back.ok());
  CHECK(*back == s);
  CHECK(data.size() < 600);
}

TEST_CASE("serialise: every truncation fails cleanly") {
  std::string data = serialise(parse(crlf(kMsg)));
  for (size_t n = 0; n < data.size(); ++n) {
    Result<Structure> r = deserialise(std::string_view(data).substr(0, n));
    CHECK(!r.ok());
    CHECK(r.error().code == postern::ErrorCode::kCorrupt);
  }
  CHECK(!deserialise(data + "x").ok());
}

TEST_CASE("serialise: every single bit flip fails cleanly") {
  std::string data = serialise(parse(crlf(kMsg)));
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = data;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CHECK(!deserialise(bad).ok());
    }
  }
}

TEST_CASE("serialise: wrong version and garbage") {
  std::string data = serialise(parse(crlf(kMsg)));
  data[3] = 2;
  Result<Structure> r = deserialise(data);
  CHECK(!r.ok());
  CHECK(r.error().message.find("version") != std::string::npos);
  CHECK(!deserialise("").ok());
  CHECK(!deserialise("PMS").ok());
  CHECK(!deserialise(std::string(100, '\xff')).ok());
}
