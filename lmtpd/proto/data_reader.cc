#include "lmtpd/proto/data_reader.h"

#include <cstring>

namespace postern::lmtpd {

void DataReader::emit(const char* p, size_t n) {
  size_ += n;
  if (too_big_) return;
  if (size_ > limit_) {
    too_big_ = true;
    body_.clear();
    body_.shrink_to_fit();
    return;
  }
  body_.append(p, n);
}

size_t DataReader::consume(std::string_view data) {
  size_t i = 0;
  while (i < data.size() && state_ != State::kDone) {
    char c = data[i];
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kDot;
          ++i;
          continue;
        }
        state_ = State::kMid;
        continue;  // handle c as part of the line
      case State::kDot:
        if (c == '\r') {
          state_ = State::kDotCr;
          ++i;
          continue;
        }
        state_ = State::kMid;  // the leading dot is dropped
        continue;
      case State::kDotCr:
        if (c == '\n') {
          state_ = State::kDone;
          ++i;
          continue;
        }
        // "." CR then something else: an unstuffed line that starts with CR.
        emit("\r", 1);
        state_ = State::kCr;
        continue;
      case State::kMid: {
        // Fast path: copy up to the next CR in one go.
        const char* cr = static_cast<const char*>(std::memchr(data.data() + i, '\r', data.size() - i));
        size_t end = cr ? static_cast<size_t>(cr - data.data()) : data.size();
        emit(data.data() + i, end - i);
        i = end;
        if (cr) {
          emit("\r", 1);
          state_ = State::kCr;
          ++i;
        }
        continue;
      }
      case State::kCr:
        if (c == '\n') {
          emit("\n", 1);
          state_ = State::kLineStart;
          ++i;
        } else {
          state_ = State::kMid;
        }
        continue;
      case State::kDone:
        break;
    }
  }
  return i;
}

}  // namespace postern::lmtpd
