#include "mime_test_util.h"

#include "bodystructure.h"

namespace postern::mime::test {

std::string toLf(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
    out += in[i];
  }
  return out;
}

std::string crlf(std::string_view in) {
  std::string out;
  for (char c : in) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string bs(std::string_view msg, bool extended) { return imap::bodyStructure(parse(msg), extended); }
std::string env(std::string_view msg) { return imap::envelope(parse(msg)); }

}  // namespace postern::mime::test
