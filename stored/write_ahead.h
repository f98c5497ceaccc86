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
// Safe because LMDB reads and writes nothing past its last page, and
// writes pages only inside a write transaction: the engine calls step() on
// its writer thread, between transactions, and step() writes only past
// both the file's end and LMDB's. The zeros are never seen; a crash in the
// middle of a chunk leaves some of them, which nothing reads.
//
// step() writes one chunk into the page cache (tens of microseconds) and
// leaves its fdatasync to a thread of its own; at most one chunk waits for
// it (a commit meanwhile syncs the chunk itself, as it would have synced a
// grown file). The descriptor is its own, not LMDB's: a write-back error on
// LMDB's pages is reported on every descriptor of the file (errseq), so
// LMDB's commit sees it even when this thread's fdatasync ran first.
// Nothing is written while less than `reserve` bytes of the file system
// would be left. A failed write is cut off again and pauses write-ahead for
// a minute; a failed sync ends it (the store goes on as before).
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace postern::stored {

class WriteAhead {
 public:
  struct Options {
    std::string path;           // the store's data file
    uint64_t ahead = 0;         // bytes kept written past LMDB's end; 0 = off
    uint64_t limit = 0;         // never past this size (LMDB's map size)
    uint64_t page = 4096;       // LMDB's page size: writes start on a page
    uint64_t reserve = 0;       // free bytes left to others on the file system
    std::chrono::milliseconds retry_after{60000};
    std::function<void()> on_synced;  // after each sync, on the sync thread
  };
  explicit WriteAhead(Options opts);
  ~WriteAhead();  // waits for the sync in progress
  WriteAhead(const WriteAhead&) = delete;
  WriteAhead& operator=(const WriteAhead&) = delete;

  // used: the bytes LMDB uses ((last page + 1) x page size). Starts filling
  // once less than half of `ahead` is left, and fills up to `ahead` over
  // several calls. Writes at most one chunk. kAfterSync: more is wanted
  // once the chunk written is synced (on_synced tells); kDone: nothing
  // until LMDB's end moves.
  enum class Step { kDone, kAfterSync };
  Step step(uint64_t used);
  // Waits until every chunk written is synced (tests).
  void flush();
  // Chunks written and synced so far (tests).
  uint64_t chunksSynced() const;

  static constexpr size_t kChunk = size_t(256) << 10;

 private:
  void syncLoop();
  void pause(const char* what, int err);

  Options o_;
  int fd_ = -1;
  bool filling_ = false;  // writer thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  off_t unsynced_from_ = 0;
  uint64_t unsynced_ = 0;  // bytes written from unsynced_from_, not synced yet
  uint64_t synced_chunks_ = 0;
  bool syncing_ = false;
  bool stop_ = false;
  bool broken_ = false;  // a sync failed: off for good
  std::chrono::steady_clock::time_point paused_until_{};
  std::thread syncer_;  // started on the first chunk
};

}  // namespace postern::stored
