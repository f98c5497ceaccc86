#include "pop3d/proto/dot_stuff.h"

namespace postern::pop3d {

void appendDotStuffed(std::string_view body, std::string* out) {
  out->reserve(out->size() + body.size() + body.size() / 64 + 5);
  size_t pos = 0;
  while (pos < body.size()) {
    if (body[pos] == '.') out->push_back('.');
    size_t lf = body.find('\n', pos);
    size_t end = lf == std::string_view::npos ? body.size() : lf + 1;
    out->append(body.data() + pos, end - pos);
    pos = end;
  }
  if (!body.empty() && body.back() != '\n') out->append("\r\n");
  out->append(".\r\n");
}

std::string_view topOf(std::string_view message, uint32_t lines) {
  // Find the end of the header: the first empty line (CRLF CRLF, or an
  // empty first line).
  size_t body_start;
  if (message.substr(0, 2) == "\r\n") {
    body_start = 2;
  } else if (message.substr(0, 1) == "\n") {
    body_start = 1;
  } else {
    size_t crlf = message.find("\n\r\n");
    size_t lflf = message.find("\n\n");
    if (crlf == std::string_view::npos && lflf == std::string_view::npos) return message;
    if (crlf != std::string_view::npos && (lflf == std::string_view::npos || crlf < lflf)) {
      body_start = crlf + 3;
    } else {
      body_start = lflf + 2;
    }
  }
  size_t pos = body_start;
  for (uint32_t i = 0; i < lines && pos < message.size(); ++i) {
    size_t lf = message.find('\n', pos);
    pos = lf == std::string_view::npos ? message.size() : lf + 1;
  }
  return message.substr(0, pos);
}

}  // namespace postern::pop3d
