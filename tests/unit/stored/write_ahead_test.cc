// The store file kept written ahead of LMDB's end (stored/write_ahead.h).
#include "write_ahead.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "test_util.h"

using namespace postern;
using namespace postern::stored;
using namespace postern::stored::test;

namespace {

constexpr uint64_t kKB = 1024;
constexpr uint64_t kMB = 1024 * kKB;

uint64_t sizeOf(const std::string& path) { return std::filesystem::file_size(path); }

// A file of `size` bytes of 'x' (what LMDB uses) in `dir`; its path.
std::string usedFile(const std::string& dir, uint64_t size) {
  std::string path = dir + "/data";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  std::string x(size, 'x');
  REQUIRE(pwrite(fd, x.data(), x.size(), 0) == ssize_t(x.size()));
  close(fd);
  return path;
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

WriteAhead::Options options(const std::string& path, uint64_t ahead, uint64_t limit = 64 * kMB) {
  WriteAhead::Options o;
  o.path = path;
  o.ahead = ahead;
  o.limit = limit;
  return o;
}

// Steps, each chunk synced before the next, until step() is done; how many
// steps were taken.
int fill(WriteAhead& wa, uint64_t used) {
  int steps = 0;
  for (;;) {
    auto s = wa.step(used);
    wa.flush();
    ++steps;
    REQUIRE(steps < 10000);
    if (s == WriteAhead::Step::kDone) return steps;
  }
}

}  // namespace

TEST_CASE("write-ahead: zeros past the used end, a chunk per step, nothing before it touched") {
  TempDir dir;
  std::string path = usedFile(dir.path, 8 * kKB);
  std::atomic<int> synced{0};
  auto o = options(path, 1 * kMB);
  o.on_synced = [&] { ++synced; };
  WriteAhead wa(o);
  // While its chunk is not synced, a step only asks to be called again.
  CHECK(wa.step(8 * kKB) == WriteAhead::Step::kAfterSync);
  CHECK(wa.step(8 * kKB) == WriteAhead::Step::kAfterSync);
  wa.flush();
  CHECK(fill(wa, 8 * kKB) == int(kMB / WriteAhead::kChunk) - 1);
  CHECK(wa.chunksSynced() == kMB / WriteAhead::kChunk);
  CHECK(synced == int(kMB / WriteAhead::kChunk));
  std::string all = contents(path);
  CHECK(all.size() == 8 * kKB + 1 * kMB);
  CHECK(all.substr(0, 8 * kKB) == std::string(8 * kKB, 'x'));
  CHECK(all.find_first_not_of('\0', 8 * kKB) == std::string::npos);
}

TEST_CASE("write-ahead: refills only once less than half is left, up to the limit") {
  TempDir dir;
  std::string path = usedFile(dir.path, 4 * kKB);
  WriteAhead wa(options(path, 1 * kMB));
  fill(wa, 4 * kKB);
  uint64_t end = sizeOf(path);
  // More than half left: nothing written.
  CHECK(WriteAhead::Step::kDone == wa.step(end - 600 * kKB));
  CHECK(sizeOf(path) == end);
  // Less than half left: written up to `ahead` again.
  uint64_t used = end - 400 * kKB;
  fill(wa, used);
  CHECK(sizeOf(path) == used + 1 * kMB);
  // LMDB grew the file itself past the target: nothing to do.
  CHECK(WriteAhead::Step::kDone == wa.step(sizeOf(path) - 900 * kKB));

  TempDir dir2;
  std::string path2 = usedFile(dir2.path, 4 * kKB);
  WriteAhead capped(options(path2, 1 * kMB, 300 * kKB));
  fill(capped, 4 * kKB);
  CHECK(sizeOf(path2) == 300 * kKB);
  CHECK(WriteAhead::Step::kDone == capped.step(300 * kKB));
  CHECK(sizeOf(path2) == 300 * kKB);
}

TEST_CASE("write-ahead: starts on a page past both the file's end and LMDB's") {
  TempDir dir;
  // A file that ends inside a page (a chunk cut short by a crash).
  std::string path = usedFile(dir.path, 5000);
  WriteAhead wa(options(path, 1 * kMB));
  fill(wa, 4096);
  std::string all = contents(path);
  CHECK(all.size() == 4096 + 1 * kMB);
  CHECK(all.substr(0, 5000) == std::string(5000, 'x'));
  CHECK(all.find_first_not_of('\0', 5000) == std::string::npos);

  // LMDB's end past the file's (its last pages freed before they were written).
  TempDir dir2;
  std::string path2 = usedFile(dir2.path, 4096);
  WriteAhead wa2(options(path2, 1 * kMB));
  fill(wa2, 64 * kKB);
  CHECK(sizeOf(path2) == 64 * kKB + 1 * kMB);
}

TEST_CASE("write-ahead: off, no file, no room: nothing written") {
  TempDir dir;
  std::string path = usedFile(dir.path, 4 * kKB);
  WriteAhead off(options(path, 0));
  CHECK(WriteAhead::Step::kDone == off.step(4 * kKB));
  WriteAhead nofile(options(dir.path, 1 * kMB));  // a directory: cannot be opened for writing
  CHECK(WriteAhead::Step::kDone == nofile.step(4 * kKB));
  auto o = options(path, 1 * kMB);
  o.reserve = uint64_t(1) << 62;  // more than any disk has free
  WriteAhead full(o);
  CHECK(WriteAhead::Step::kDone == full.step(4 * kKB));
  CHECK(sizeOf(path) == 4 * kKB);
}

TEST_CASE("write-ahead: a write cut short is given back, and write-ahead pauses") {
  TempDir dir;
  std::string path = usedFile(dir.path, 4 * kKB);
  // The file may not grow past 100 KB: the chunk's write stops there (EFBIG
  // instead of SIGXFSZ).
  struct sigaction ign{}, old_sig{};
  ign.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGXFSZ, &ign, &old_sig) == 0);
  rlimit old_lim{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
  rlimit lim = old_lim;
  lim.rlim_cur = 100 * kKB;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  auto o = options(path, 1 * kMB);
  o.retry_after = std::chrono::milliseconds(0);
  WriteAhead wa(o);
  auto first = wa.step(4 * kKB);
  uint64_t size_then = sizeOf(path);
  lim.rlim_cur = old_lim.rlim_cur;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  REQUIRE(sigaction(SIGXFSZ, &old_sig, nullptr) == 0);
  CHECK(first == WriteAhead::Step::kDone);
  CHECK(size_then == 4 * kKB);  // the partial 96 KB cut off again
  // Paused for 0 ms: the next step writes.
  fill(wa, 4 * kKB);
  CHECK(sizeOf(path) == 4 * kKB + 1 * kMB);
}

TEST_CASE("write-ahead: the engine keeps its file written ahead; the store reopens and reads back") {
  TempDir dir;
  EngineOptions o = testOptions(dir.path);
  o.write_ahead_mb = 2;
  std::string file = dir.path + "/data.mdb";
  std::string body = "Subject: ahead\r\n\r\n" + std::string(100000, 'b') + "\r\n";
  std::vector<uint32_t> uids;
  {
    auto store = openWithAlice(o);
    // 15 x 100 KB: more than half of the 2 MB, so the writer refills on the way.
    for (int i = 0; i < 15; i++) {
      AppendArgs a;
      a.user = "alice";
      a.mailbox = "INBOX";
      a.body = body;
      auto r = store->append(a);
      REQUIRE(r.ok());
      uids.push_back(r->uid);
    }
    // The writer fills while idle, after the commit: wait for it (bounded).
    // Once idle, at least half of the 2 MB is written past the used end.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    StoreEngine::FileUse u;
    while ((u = store->fileUse()).size < u.used + 1 * kMB) {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "used ", u.used, " size ", u.size);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(u.used > 15 * body.size());
    CHECK(u.size <= u.used + 2 * kMB);
    CHECK(std::filesystem::file_size(file) >= u.size);  // it may still be filling
    // Past the used end: only zeros (the part written by now).
    int fd = open(file.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    std::string tail(size_t(u.size - u.used), '?');
    REQUIRE(pread(fd, tail.data(), tail.size(), off_t(u.used)) == ssize_t(tail.size()));
    close(fd);
    CHECK(tail.find_first_not_of('\0') == std::string::npos);
  }
  auto store = openEngine(o);
  auto mb = store->getMailbox("alice", "INBOX");
  REQUIRE(mb.ok());
  size_t got = 0;
  REQUIRE(store->fetchBodies("alice", mb->id, uids, [&](uint32_t, Result<std::string> b) {
    REQUIRE(b.ok());
    CHECK(*b == body);
    ++got;
    return true;
  }).ok());
  CHECK(got == uids.size());
}
