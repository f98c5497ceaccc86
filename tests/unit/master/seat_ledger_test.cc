// SeatLedger: seat counting per mode, live licence changes, warnings,
// daily peaks and their persistence.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "seat_ledger.h"

using namespace postern;
using namespace postern::master;

namespace {

struct FakeClock {
  int64_t t = *parseDay("2026-11-22") * 86400 + 12 * 3600;
  SeatLedger::Clock fn() {
    return [this] { return t; };
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/postern-seats-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::remove((path + "/seats").c_str());
    std::remove((path + "/seats.tmp").c_str());
    rmdir(path.c_str());
  }
  std::string file() const { return path + "/seats"; }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string user(int i) { return "user" + std::to_string(i); }

}  // namespace

TEST_CASE("seats: 5 users with 2 sessions each hold 5 seats per-seat, 10 per-server") {
  for (const auto& kv : {std::pair{LicenceMode::kPerSeat, size_t(5)}, {LicenceMode::kPerServer, size_t(10)}}) {
    const auto mode = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto want = kv.second;
    CAPTURE(licenceModeName(mode));
    SeatLedger l(mode, 10);
    uint64_t conn = 0;
    for (int u = 0; u < 5; ++u)
      for (int s = 0; s < 2; ++s) CHECK(l.tryAcquire(++conn, user(u)));
    CHECK(l.inUse() == want);
    // The Exchange 5.5 story: per-server, the 11th login (a 6th user) is refused.
    CHECK(l.tryAcquire(++conn, user(5)) == (mode == LicenceMode::kPerSeat));
  }
}

TEST_CASE("seats: when full, new users are refused and holders keep their seats and sessions") {
  SeatLedger l(LicenceMode::kPerSeat, 3);
  CHECK(l.tryAcquire(1, "alice"));
  CHECK(l.tryAcquire(2, "bob"));
  CHECK(l.tryAcquire(3, "carol"));
  CHECK_FALSE(l.wouldAdmit("dave"));
  CHECK_FALSE(l.tryAcquire(4, "dave"));
  CHECK_FALSE(l.holds(4));
  CHECK(l.wouldAdmit("alice"));
  CHECK(l.tryAcquire(5, "alice"));  // a 2nd session of a seat holder costs nothing
  CHECK(l.inUse() == 3);
  l.release(1);
  CHECK(l.inUse() == 3);  // alice still has session 5
  l.release(5);
  CHECK(l.inUse() == 2);
  CHECK(l.tryAcquire(4, "dave"));
}

TEST_CASE("seats: release is idempotent and acquire is idempotent per connection") {
  SeatLedger l(LicenceMode::kPerServer, 2);
  CHECK(l.tryAcquire(1, "alice"));
  CHECK(l.tryAcquire(1, "alice"));
  CHECK(l.inUse() == 1);
  l.release(1);
  l.release(1);
  l.release(99);
  CHECK(l.inUse() == 0);
  CHECK(l.tryAcquire(1, "alice"));
  CHECK(l.tryAcquire(2, "bob"));
  CHECK(l.inUse() == 2);
}

TEST_CASE("seats: an empty user name never shares a seat") {
  SeatLedger l(LicenceMode::kPerSeat, 5);
  CHECK(l.tryAcquire(1, ""));
  CHECK(l.tryAcquire(2, ""));
  CHECK(l.inUse() == 2);
  l.release(1);
  CHECK(l.inUse() == 1);
}

TEST_CASE("seats: a lowered licence keeps existing seats and refuses new ones until under") {
  SeatLedger l(LicenceMode::kPerSeat, 10);
  for (int u = 0; u < 8; ++u) CHECK(l.tryAcquire(uint64_t(u + 1), user(u)));
  l.setLicence(LicenceMode::kPerSeat, 5);
  CHECK(l.inUse() == 8);
  CHECK(l.seats() == 5);
  CHECK_FALSE(l.tryAcquire(100, "newcomer"));
  CHECK(l.tryAcquire(101, user(0)));  // existing holder's second session
  for (uint64_t c = 2; c <= 4; ++c) l.release(c);
  CHECK(l.inUse() == 5);
  CHECK_FALSE(l.tryAcquire(100, "newcomer"));
  l.release(5);
  CHECK(l.tryAcquire(100, "newcomer"));

  // Switching mode recounts the same connections.
  l.setLicence(evaluationLicence());
  CHECK(l.mode() == LicenceMode::kPerSeat);
  l.setLicence(LicenceMode::kPerServer, 25);
  CHECK(l.inUse() == 6);  // connections 1, 101, 6, 7, 8 and 100, one seat each
}

TEST_CASE("seats: 80% and 95% warnings fire once per upward crossing and re-arm below") {
  SeatLedger l(LicenceMode::kPerServer, 20);  // 80% = 16 seats, 95% = 19 seats
  std::vector<SeatThresholdEvent> events;
  l.onThreshold([&](const SeatThresholdEvent& e) { events.push_back(e); });
  for (uint64_t c = 1; c <= 15; ++c) l.tryAcquire(c, user(int(c)));
  CHECK(events.empty());
  l.tryAcquire(16, "u16");
  REQUIRE(events.size() == 1);
  CHECK(events[0].percent == 80);
  CHECK(events[0].in_use == 16);
  CHECK(events[0].seats == 20);
  l.tryAcquire(17, "u17");
  l.release(17);
  l.tryAcquire(17, "u17");
  CHECK(events.size() == 1);  // still at or above 80%: no repeat
  l.tryAcquire(18, "u18");
  l.tryAcquire(19, "u19");
  REQUIRE(events.size() == 2);
  CHECK(events[1].percent == 95);
  l.tryAcquire(20, "u20");
  CHECK_FALSE(l.tryAcquire(21, "u21"));
  CHECK(events.size() == 2);
  for (uint64_t c = 20; c >= 15; --c) l.release(c);  // down to 14: both re-armed
  CHECK(events.size() == 2);
  l.tryAcquire(15, "u15");
  l.tryAcquire(16, "u16");
  REQUIRE(events.size() == 3);
  CHECK(events[2].percent == 80);
  // A lowered licence crosses both at once: 80 first, then 95.
  l.setLicence(LicenceMode::kPerServer, 10);
  REQUIRE(events.size() == 4);
  CHECK(events[3].percent == 95);              // 80 was still disarmed
  l.setLicence(LicenceMode::kPerServer, 100);  // 16%: both re-arm
  l.setLicence(LicenceMode::kPerServer, 16);   // 100%
  REQUIRE(events.size() == 6);
  CHECK(events[4].percent == 80);
  CHECK(events[5].percent == 95);
}

TEST_CASE("seats: peaks are kept per UTC day across midnight") {
  FakeClock clock;
  SeatLedger l(LicenceMode::kPerServer, 100, "", clock.fn());
  const int64_t day0 = dayOf(clock.t);
  for (uint64_t c = 1; c <= 7; ++c) l.tryAcquire(c, user(int(c)));
  for (uint64_t c = 1; c <= 4; ++c) l.release(c);
  CHECK(l.inUse() == 3);
  CHECK(l.peakToday() == 7);
  clock.t = (day0 + 1) * 86400 - 1;  // 23:59:59 UTC
  l.tryAcquire(8, "x");
  CHECK(l.peakToday() == 7);
  clock.t = (day0 + 1) * 86400;  // midnight: the new day starts at the usage carried over
  CHECK(l.peakToday() == 4);
  l.release(8);
  l.tryAcquire(9, "y");
  l.tryAcquire(10, "z");
  CHECK(l.peakToday() == 5);
  // Two quiet days later: the days in between had constant usage.
  clock.t += 3 * 86400;
  auto p = l.peaks();
  REQUIRE(p.size() == 5);
  CHECK(p[0].day == day0);
  CHECK(p[0].peak == 7);
  CHECK(p[1].peak == 5);
  CHECK(p[2].peak == 5);
  CHECK(p[3].peak == 5);
  CHECK(p[4].day == day0 + 4);
  CHECK(p[4].peak == 5);
}

TEST_CASE("seats: only the last 30 days are kept") {
  FakeClock clock;
  SeatLedger l(LicenceMode::kPerSeat, 100, "", clock.fn());
  const int64_t day0 = dayOf(clock.t);
  for (int d = 0; d < 45; ++d) {
    l.tryAcquire(uint64_t(d + 1), user(d));  // usage d+1 on day d
    clock.t += 86400;
  }
  auto p = l.peaks();
  REQUIRE(p.size() == kPeakDays);
  CHECK(p.back().day == day0 + 45);
  CHECK(p.front().day == day0 + 45 - 29);
  CHECK(p.front().peak == 17);  // day 16 started at 16 (carried over) and rose to 17
  CHECK(p.back().peak == 45);
}

TEST_CASE("seats: peaks survive a restart through the state file") {
  TempDir dir;
  FakeClock clock;
  const int64_t day0 = dayOf(clock.t);
  {
    SeatLedger l(LicenceMode::kPerSeat, 50, dir.file(), clock.fn());
    CHECK(l.load().ok());  // no file yet: fine
    for (uint64_t c = 1; c <= 9; ++c) l.tryAcquire(c, user(int(c)));
    clock.t += 86400;
    l.tryAcquire(10, "late");
    CHECK(l.flush().ok());
  }
  CHECK(slurp(dir.file()) ==
        "# postern seat peaks v1\n" + formatDay(day0) + " 9\n" + formatDay(day0 + 1) + " 10\n");
  SeatLedger again(LicenceMode::kPerSeat, 50, dir.file(), clock.fn());
  REQUIRE(again.load().ok());
  CHECK(again.inUse() == 0);
  CHECK(again.peakToday() == 10);  // today's peak is kept across the restart
  auto p = again.peaks();
  REQUIRE(p.size() == 2);
  CHECK(p[0].peak == 9);

  // 40 days later the old entries have left the window.
  clock.t += 40 * 86400;
  SeatLedger much_later(LicenceMode::kPerSeat, 50, dir.file(), clock.fn());
  REQUIRE(much_later.load().ok());
  CHECK(much_later.peaks().size() == 1);
}

TEST_CASE("seats: writes are throttled to one a second; tick and flush write the rest") {
  TempDir dir;
  FakeClock clock;
  SeatLedger l(LicenceMode::kPerServer, 50, dir.file(), clock.fn());
  l.tryAcquire(1, "a");  // peak 1: written at once
  CHECK(slurp(dir.file()).find(" 1\n") != std::string::npos);
  l.tryAcquire(2, "b");  // same second: pending
  CHECK(slurp(dir.file()).find(" 2\n") == std::string::npos);
  CHECK(l.tick().ok());
  CHECK(slurp(dir.file()).find(" 2\n") == std::string::npos);
  clock.t += 1;
  CHECK(l.tick().ok());
  CHECK(slurp(dir.file()).find(" 2\n") != std::string::npos);
  l.release(2);  // no new peak: nothing to write
  l.tryAcquire(3, "c");
  clock.t += 5;
  l.tryAcquire(4, "d");  // peak 3, more than a second since the last write
  CHECK(slurp(dir.file()).find(" 3\n") != std::string::npos);
  CHECK(access((dir.file() + ".tmp").c_str(), F_OK) != 0);
}

TEST_CASE("seats: a corrupt state file is reported and ignored") {
  TempDir dir;
  FakeClock clock;
  for (const char* text :
       {"2026-11-22 x\n", "2026-11-22\n", "2026-13-01 4\n", "2026-11-22 4\n2026-11-22 5\n"}) {
    CAPTURE(text);
    std::ofstream(dir.file()) << text;
    SeatLedger l(LicenceMode::kPerSeat, 5, dir.file(), clock.fn());
    Error e = l.load();
    CHECK(e.code == ErrorCode::kCorrupt);
    CHECK(e.message.find("line ") != std::string::npos);
    CHECK(l.peakToday() == 0);
  }
}
