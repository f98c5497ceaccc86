#pragma once
// Keeps the store file written ahead of the end LMDB uses, so that a commit
// overwrites blocks the file already has instead of growing it.
//
// Why: on ext4 (the appliance's file system; without a journal here) a
// commit that grows the file makes its fdatasync also write the inode
// (new size, new blocks) synchronously: one more round trip to the disk
// per commit. A store taking new mail grows with nearly every commit. With
// the file written ahead, a one-APPEND commit took 0.35 instead of 0.51 ms
// (docs/performance.md). Blocks that are only fallocate()d do not help (their
// unwritten extents are converted at the commit, at the same cost), so
// zeros are written and synced.
//
// Safe because LMDB reads and writes nothing past its last page: the zeros
// are never seen, and the file is only written past its current size (which
// is never below LMDB's end). The engine calls step() on its writer thread,
// between commits, while no write is queued: one chunk per call, so a write
// that arrives meanwhile waits for one chunk at most. A failure (disk full)
// is logged and write-ahead pauses for a minute; the store goes on as before.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace postern::stored {

class WriteAhead {
 public:
  // fd: the store's data file. ahead: bytes to keep written past LMDB's end
  // (0 = off); limit: never past this size (the map size).
  WriteAhead(int fd, uint64_t ahead, uint64_t limit) : fd_(fd), ahead_(ahead), limit_(limit) {}

  // used: the bytes LMDB uses ((last page + 1) x page size). Starts filling
  // once less than half of `ahead` is left, and fills up to `ahead` over
  // several calls. Writes and syncs at most one chunk; true while more is
  // wanted.
  bool step(uint64_t used);

  static constexpr size_t kChunk = size_t(256) << 10;
  static constexpr std::chrono::seconds kRetryAfter{60};

 private:
  int fd_;
  uint64_t ahead_;
  uint64_t limit_;
  bool filling_ = false;
  std::chrono::steady_clock::time_point paused_until_{};
};

}  // namespace postern::stored
