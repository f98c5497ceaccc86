// The store file kept written ahead of LMDB's end (stored/write_ahead.h).
#include "write_ahead.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
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

uint64_t sizeOf(int fd) {
  struct stat sb{};
  REQUIRE(fstat(fd, &sb) == 0);
  return uint64_t(sb.st_size);
}

// A file of `used` bytes of 'x' (what LMDB uses) in `dir`.
int usedFile(const std::string& dir, uint64_t used, int flags = O_RDWR) {
  std::string path = dir + "/data";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  std::string x(used, 'x');
  REQUIRE(pwrite(fd, x.data(), x.size(), 0) == ssize_t(x.size()));
  if (flags != O_RDWR) {
    close(fd);
    fd = open(path.c_str(), flags);
    REQUIRE(fd >= 0);
  }
  return fd;
}

// Steps until step() asks for no more; how many steps wrote.
int fill(WriteAhead& wa, uint64_t used) {
  int steps = 0;
  while (wa.step(used)) {
    ++steps;
    REQUIRE(steps < 10000);
  }
  return steps + 1;
}

}  // namespace

TEST_CASE("write-ahead: zeros past the used end, in chunks, nothing before it touched") {
  TempDir dir;
  int fd = usedFile(dir.path, 8 * kKB);
  WriteAhead wa(fd, 1 * kMB, 64 * kMB);
  CHECK(fill(wa, 8 * kKB) == int(kMB / WriteAhead::kChunk));
  CHECK(sizeOf(fd) == 8 * kKB + 1 * kMB);
  std::string all(size_t(sizeOf(fd)), '?');
  REQUIRE(pread(fd, all.data(), all.size(), 0) == ssize_t(all.size()));
  CHECK(all.substr(0, 8 * kKB) == std::string(8 * kKB, 'x'));
  CHECK(all.find_first_not_of('\0', 8 * kKB) == std::string::npos);
  close(fd);
}

TEST_CASE("write-ahead: refills only once less than half is left, up to the limit") {
  TempDir dir;
  int fd = usedFile(dir.path, 4 * kKB);
  WriteAhead wa(fd, 1 * kMB, 64 * kMB);
  fill(wa, 4 * kKB);
  uint64_t end = sizeOf(fd);
  // More than half left: nothing written.
  CHECK_FALSE(wa.step(end - 600 * kKB));
  CHECK(sizeOf(fd) == end);
  // Less than half left: written up to `ahead` again.
  uint64_t used = end - 400 * kKB;
  fill(wa, used);
  CHECK(sizeOf(fd) == used + 1 * kMB);
  // LMDB grew the file itself past the target: nothing to do.
  CHECK_FALSE(wa.step(sizeOf(fd) - 900 * kKB));
  close(fd);

  TempDir dir2;
  int fd2 = usedFile(dir2.path, 4 * kKB);
  WriteAhead capped(fd2, 1 * kMB, 300 * kKB);
  fill(capped, 4 * kKB);
  CHECK(sizeOf(fd2) == 300 * kKB);
  CHECK_FALSE(capped.step(300 * kKB));
  CHECK(sizeOf(fd2) == 300 * kKB);
  close(fd2);
}

TEST_CASE("write-ahead: off, and a failed write pauses it without harm") {
  TempDir dir;
  int fd = usedFile(dir.path, 4 * kKB);
  WriteAhead off(fd, 0, 64 * kMB);
  CHECK_FALSE(off.step(4 * kKB));
  CHECK(sizeOf(fd) == 4 * kKB);
  close(fd);

  int ro = usedFile(dir.path, 4 * kKB, O_RDONLY);
  WriteAhead wa(ro, 1 * kMB, 64 * kMB);
  CHECK_FALSE(wa.step(4 * kKB));  // EBADF: logged, paused
  CHECK_FALSE(wa.step(4 * kKB));  // paused: not tried again at once
  CHECK(sizeOf(ro) == 4 * kKB);
  close(ro);
}

TEST_CASE("write-ahead: the engine keeps its file written ahead; the store reopens and reads back") {
  TempDir dir;
  EngineOptions o = testOptions(dir.path);
  o.write_ahead_mb = 2;
  std::string file = dir.path + "/data.mdb";
  std::string body = "Subject: ahead\r\n\r\n" + std::string(100000, 'b') + "\r\n";
  std::vector<uint32_t> uids;
  {
    auto store = openEngine(o);
    REQUIRE(store->addUser("alice", "secret").ok());
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
