#pragma once
// Line framing for the line-based protocols (POP3, LMTP). Incremental: bytes may arrive in any
// pieces. A line longer than the limit is never stored: the reader reports
// it once as kTooLong and discards everything up to its LF.
#include <cstddef>
#include <string>
#include <string_view>

namespace postern {

class LineReader {
 public:
  enum class Event { kNone, kLine, kTooLong };

  // `max_line` counts the line's bytes without its CRLF.
  explicit LineReader(size_t max_line) : max_line_(max_line) {}

  // Consumes bytes from `data` up to and including the end of the first
  // line it completes, or all of `data` when no line ends in it. Returns the
  // number of bytes consumed; *event tells whether a line (in *line, without
  // CR/LF) or an over-long line ended. Lines end at LF; a CR before it is
  // dropped. Memory held is bounded by max_line.
  size_t consume(std::string_view data, Event* event, std::string* line);

 private:
  size_t max_line_;
  std::string partial_;
  bool discarding_ = false;
};

}  // namespace postern
