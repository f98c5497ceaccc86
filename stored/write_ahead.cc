#include "write_ahead.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "log.h"

namespace postern::stored {

namespace {

const char kZeros[WriteAhead::kChunk] = {};

}  // namespace

bool WriteAhead::step(uint64_t used) {
  if (ahead_ == 0 || fd_ < 0) return false;
  auto now = std::chrono::steady_clock::now();
  if (now < paused_until_) return false;
  auto fail = [&](const char* what) {
    log::warn("store write-ahead paused", {{"step", what}, {"error", strerror(errno)}});
    paused_until_ = now + kRetryAfter;
    filling_ = false;
    return false;
  };
  struct stat sb{};
  if (fstat(fd_, &sb) != 0) return fail("fstat");
  uint64_t end = uint64_t(sb.st_size);
  uint64_t target = std::min(used + ahead_, limit_);
  if (!filling_) filling_ = end < std::min(used + ahead_ / 2, limit_);
  if (!filling_ || end >= target) {
    filling_ = false;
    return false;
  }
  size_t n = size_t(std::min<uint64_t>(kChunk, target - end));
  for (size_t done = 0; done < n;) {
    ssize_t w = pwrite(fd_, kZeros + done, n - done, off_t(end + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail("pwrite");
    done += size_t(w);
  }
  if (fdatasync(fd_) != 0) return fail("fdatasync");
  filling_ = end + n < target;
  return filling_;
}

}  // namespace postern::stored
