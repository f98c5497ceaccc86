#include "message.h"

namespace postern {

std::string normalizeCrlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 50 + 2);
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace postern
