#pragma once
// The message text after DATA (RFC 5321 section 4.5.2): removes the dot a
// client adds to lines starting with ".", and stops at CRLF "." CRLF. Only
// that exact sequence ends the data (a bare LF "." LF does not: accepting
// it would allow SMTP smuggling). Beyond `limit` octets nothing more is
// stored, but reading goes on to the end so the session stays in sync.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::lmtpd {

class DataReader {
 public:
  explicit DataReader(uint64_t limit) : limit_(limit) {}

  // Consumes bytes up to and including the terminating line, or all of
  // `data` if it does not end there. Returns the number consumed.
  size_t consume(std::string_view data);

  bool done() const { return state_ == State::kDone; }
  bool tooBig() const { return too_big_; }
  // The unstuffed text, ending with the CRLF of its last line (empty for an
  // empty message). Meaningless when tooBig().
  std::string& body() { return body_; }
  // Octets of message text seen, including those discarded over the limit.
  uint64_t size() const { return size_; }

 private:
  enum class State { kLineStart, kDot, kDotCr, kMid, kCr, kDone };
  void emit(const char* p, size_t n);

  uint64_t limit_;
  State state_ = State::kLineStart;
  std::string body_;
  uint64_t size_ = 0;
  bool too_big_ = false;
};

}  // namespace postern::lmtpd
