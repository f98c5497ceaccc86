#include "line_reader.h"

#include <cstring>

namespace postern {

size_t LineReader::consume(std::string_view data, Event* event, std::string* line) {
  *event = Event::kNone;
  const char* lf = static_cast<const char*>(std::memchr(data.data(), '\n', data.size()));
  size_t take = lf ? static_cast<size_t>(lf - data.data()) : data.size();
  if (!discarding_) {
    // +1 leaves room for the CR of a CRLF that is split across reads.
    if (partial_.size() + take > max_line_ + 1) {
      discarding_ = true;
      partial_.clear();
    } else {
      partial_.append(data.data(), take);
    }
  }
  if (!lf) return data.size();
  if (discarding_) {
    discarding_ = false;
    *event = Event::kTooLong;
    return take + 1;
  }
  if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
  if (partial_.size() > max_line_) {
    partial_.clear();
    *event = Event::kTooLong;
    return take + 1;
  }
  line->swap(partial_);
  partial_.clear();
  *event = Event::kLine;
  return take + 1;
}

}  // namespace postern
