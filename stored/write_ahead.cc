#include "write_ahead.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.h"

namespace postern::stored {

namespace {

const char kZeros[WriteAhead::kChunk] = {};

}  // namespace

WriteAhead::WriteAhead(Options opts) : o_(std::move(opts)) {
  if (o_.ahead == 0) return;
  fd_ = open(o_.path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) log::warn("store write-ahead off", {{"path", o_.path}, {"error", strerror(errno)}});
  if (o_.page == 0) o_.page = 4096;
}

WriteAhead::~WriteAhead() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (fd_ >= 0) close(fd_);
}

void WriteAhead::pause(const char* what, int err) {
  log::warn("store write-ahead paused", {{"step", what}, {"error", strerror(err)}});
  std::lock_guard lk(mu_);
  paused_until_ = std::chrono::steady_clock::now() + o_.retry_after;
}

WriteAhead::Step WriteAhead::step(uint64_t used) {
  if (fd_ < 0) return Step::kDone;
  {
    std::lock_guard lk(mu_);
    if (broken_ || std::chrono::steady_clock::now() < paused_until_) return Step::kDone;
    if (unsynced_ > 0) return Step::kAfterSync;
  }
  auto done = [&] {
    filling_ = false;
    return Step::kDone;
  };
  struct stat sb{};
  if (fstat(fd_, &sb) != 0) {
    pause("fstat", errno);
    return done();
  }
  // From a page boundary past both ends (LMDB may leave its last pages
  // unwritten when a transaction freed them).
  uint64_t end = uint64_t(sb.st_size);
  uint64_t from = (std::max(end, used) + o_.page - 1) / o_.page * o_.page;
  uint64_t target = std::min(used + o_.ahead, o_.limit);
  if (!filling_) filling_ = end < std::min(used + o_.ahead / 2, o_.limit);
  if (!filling_ || from >= target) return done();
  size_t n = size_t(std::min<uint64_t>(kChunk, target - from));
  struct statvfs vfs{};
  if (fstatvfs(fd_, &vfs) != 0) {
    pause("statvfs", errno);
    return done();
  }
  if (uint64_t(vfs.f_bavail) * vfs.f_frsize < n + o_.reserve) return done();  // space is for mail
  for (size_t written = 0; written < n;) {
    ssize_t w = pwrite(fd_, kZeros + written, n - written, off_t(from + written));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = w < 0 ? errno : ENOSPC;
      if (ftruncate(fd_, off_t(end)) != 0) {
        // Left as it is: zeros past LMDB's end, harmless.
      }
      pause("pwrite", err);
      return done();
    }
    written += size_t(w);
  }
  {
    std::lock_guard lk(mu_);
    unsynced_from_ = off_t(from);
    unsynced_ = n;
    if (!syncer_.joinable()) syncer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "store-ahead");
      syncLoop();
    });
  }
  cv_.notify_all();
  filling_ = from + n < target;
  return filling_ ? Step::kAfterSync : Step::kDone;
}

void WriteAhead::syncLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return unsynced_ > 0 || stop_; });
    if (unsynced_ == 0) return;  // stopping, nothing left
    off_t from = unsynced_from_;
    uint64_t n = unsynced_;
    syncing_ = true;
    lk.unlock();
    int rc = fdatasync(fd_);
    int err = errno;
    if (rc == 0) {
      // Zeros nobody reads: out of the page cache, where mail is.
      posix_fadvise(fd_, from, off_t(n), POSIX_FADV_DONTNEED);
    } else {
      log::error("store write-ahead off: fdatasync failed", {{"path", o_.path}, {"error", strerror(err)}});
    }
    lk.lock();
    if (rc != 0) broken_ = true;
    else synced_chunks_++;
    unsynced_ = 0;  // step() may write the next chunk from here on
    if (o_.on_synced) {
      lk.unlock();
      o_.on_synced();
      lk.lock();
    }
    syncing_ = false;  // flush() returns after on_synced
    cv_.notify_all();
  }
}

void WriteAhead::flush() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return unsynced_ == 0 && !syncing_; });
}

uint64_t WriteAhead::chunksSynced() const {
  std::lock_guard lk(mu_);
  return synced_chunks_;
}

}  // namespace postern::stored
