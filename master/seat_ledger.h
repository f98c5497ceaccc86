#pragma once
// SeatLedger: which authenticated connections hold licence seats, the
// 80%/95% warnings, and the daily peaks an administrator needs for a
// licence true-up. Not thread-safe: lives on the master's loop thread.
//
// Counting:
// - per-server: every connection passed to tryAcquire holds one seat.
// - per-seat: a user holds one seat while they have at least one connection
//   in the ledger; their 2nd..nth connection costs nothing and is admitted
//   even when the seats are full. User names are compared exactly: pass the
//   canonical (stored) name. An empty user name counts as a seat of its own
//   per connection, so a caller bug never under-counts.
// - A new seat is granted only while inUse() < seats(). Lowering the seats
//   (setLicence) never takes seats away: holders keep them, new seats are
//   refused until usage is under the new count.
//
// Thresholds: after every change (acquire, release, setLicence) the ledger
// compares usage with 80% and 95% of the seats (in_use * 100 >= pct * seats).
// Going from below to at-or-above a threshold calls the threshold callback
// once for that threshold (both, 80 first, when one step crosses both); a
// threshold is re-armed when usage falls below it again.
//
// Peaks: the peak of a UTC day is the highest inUse() seen during that day.
// A new day starts at the usage carried over from the day before (and days
// with no change in between get that usage as their peak). The ledger keeps
// kPeakDays days: today and the 29 before it. Days before the first run, or
// while the appliance was down, have no entry.
//
// Persistence (optional, `state_path` non-empty): a text file
//   # postern seat peaks v1
//   2026-11-22 17
//   2026-11-23 5
// (one `YYYY-MM-DD peak` line per day, oldest first), read by load() and
// replaced atomically (write <path>.tmp, fsync, rename) by flush(). A change
// of a peak writes the file at once unless it was written less than a second
// ago; then call tick() (e.g. from a 1 s timer) to write the pending change,
// and flush() at shutdown. File writes block briefly.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "error.h"
#include "licence.h"

namespace postern::master {

inline constexpr size_t kPeakDays = 30;

struct SeatThresholdEvent {
  int percent = 0;  // 80 or 95
  size_t in_use = 0;
  size_t seats = 0;
};

struct DayPeak {
  int64_t day = 0;  // UTC day number (see licence.h dayOf / formatDay)
  size_t peak = 0;
};

class SeatLedger {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds, UTC
  using ThresholdFn = std::function<void(const SeatThresholdEvent&)>;

  // `now` defaults to the system clock.
  SeatLedger(LicenceMode mode, uint32_t seats, std::string state_path = "", Clock now = nullptr);

  // Reads the peaks file. A missing file is not an error (first start). A
  // malformed file returns kCorrupt naming the line and leaves the history
  // empty; an unreadable one kUnavailable. Entries older than the window are
  // dropped; today's stored peak is kept if higher than current usage.
  Error load();

  // Grants `conn` (already admitted, logged in as `user`) a seat, or shares
  // the user's seat in per-seat mode. Returns false, changing nothing, when
  // a new seat is needed and none is free. Calling it again for a connection
  // that holds a seat with the same user returns true and changes nothing;
  // with another user, the connection moves to that user.
  bool tryAcquire(uint64_t conn, const std::string& user);
  // Gives back whatever `conn` holds. Unknown connections are ignored, so a
  // close reported twice (or a dead worker's sweep) is harmless.
  void release(uint64_t conn);
  bool holds(uint64_t conn) const { return conn_user_.count(conn) != 0; }

  size_t inUse() const;
  size_t seats() const { return seats_; }
  LicenceMode mode() const { return mode_; }
  // Would a login by `user` get a seat now (without taking it)?
  bool wouldAdmit(const std::string& user) const;

  // Live licence change; seats are clamped to at least 1. Existing holders
  // keep their seats. Switching mode recounts the same connections.
  void setLicence(LicenceMode mode, uint32_t seats);
  void setLicence(const Licence& licence) { setLicence(licence.fields.mode, licence.fields.seats); }

  void onThreshold(ThresholdFn fn) { on_threshold_ = std::move(fn); }

  size_t peakToday();
  // Oldest first, at most kPeakDays entries, the last one today.
  std::vector<DayPeak> peaks();

  // Writes the peaks file now if anything changed since the last write
  // (or always when `force`). No-op without a state path.
  Error flush(bool force = false);
  // Rolls the day over if needed and writes a pending change if the last
  // write was at least a second ago. Returns the write error, if any.
  Error tick();

 private:
  void grant(uint64_t conn, const std::string& user);
  void changed();  // after any usage change: thresholds, peaks, maybe write
  void rollDay();
  void notePeak();
  void checkThresholds();

  LicenceMode mode_;
  size_t seats_;
  std::string path_;
  Clock now_;
  ThresholdFn on_threshold_;

  std::unordered_map<uint64_t, std::string> conn_user_;
  std::unordered_map<std::string, size_t> user_conns_;  // non-empty users only
  size_t anonymous_ = 0;                                // connections with an empty user

  bool armed80_ = true;
  bool armed95_ = true;

  std::map<int64_t, size_t> peaks_;  // day -> peak
  int64_t today_ = 0;
  bool dirty_ = false;
  bool written_ = false;  // a write was attempted; last_write_ is valid
  int64_t last_write_ = 0;
};

}  // namespace postern::master
