#include "seat_ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace postern::master {
namespace {

constexpr std::string_view kHeader = "# postern seat peaks v1";

int64_t systemNow() { return int64_t(std::time(nullptr)); }

Error writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{ErrorCode::kUnavailable, std::strerror(errno)};
    }
    off += size_t(n);
  }
  return Error::none();
}

// tmp + fsync + rename, so a crash leaves either the old or the new file.
Error writeAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{ErrorCode::kUnavailable, "cannot create " + tmp + ": " + std::strerror(errno)};
  Error e = writeAll(fd, data);
  if (e.ok() && ::fsync(fd) != 0) e = Error{ErrorCode::kUnavailable, std::strerror(errno)};
  ::close(fd);
  if (!e.ok()) {
    ::unlink(tmp.c_str());
    return Error{e.code, "cannot write " + tmp + ": " + e.message};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error r{ErrorCode::kUnavailable, "cannot rename " + tmp + ": " + std::strerror(errno)};
    ::unlink(tmp.c_str());
    return r;
  }
  // Make the rename itself durable (best effort: some filesystems refuse).
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Error::none();
}

}  // namespace

SeatLedger::SeatLedger(LicenceMode mode, uint32_t seats, std::string state_path, Clock now)
    : mode_(mode),
      seats_(seats < 1 ? 1 : seats),
      path_(std::move(state_path)),
      now_(now ? std::move(now) : Clock(systemNow)) {
  today_ = dayOf(now_());
  peaks_[today_] = 0;
}

Error SeatLedger::load() {
  if (path_.empty()) return Error::none();
  if (::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return Error::none();
  std::ifstream in(path_);
  if (!in) {
    return Error{ErrorCode::kUnavailable, "cannot read " + path_ + ": " + std::strerror(errno)};
  }
  rollDay();
  std::map<int64_t, size_t> loaded;
  std::string line;
  size_t line_no = 0;
  auto corrupt = [&](const std::string& why) {
    return Error{ErrorCode::kCorrupt, path_ + " line " + std::to_string(line_no) + ": " + why};
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) return corrupt("expected \"YYYY-MM-DD peak\"");
    auto day = parseDay(std::string_view(line).substr(0, sp));
    if (!day) return corrupt(day.error().message);
    std::string_view num = std::string_view(line).substr(sp + 1);
    if (num.empty() || num.size() > 9) return corrupt("bad peak \"" + std::string(num) + "\"");
    size_t peak = 0;
    for (char c : num) {
      if (c < '0' || c > '9') return corrupt("bad peak \"" + std::string(num) + "\"");
      peak = peak * 10 + size_t(c - '0');
    }
    if (!loaded.emplace(*day, peak).second) return corrupt("day " + formatDay(*day) + " appears twice");
  }
  const int64_t first = today_ - int64_t(kPeakDays) + 1;
  for (auto [day, peak] : loaded) {
    // Outside the window, or in the future (the clock went back): drop.
    if (day < first || day > today_) continue;
    size_t& slot = peaks_[day];
    if (peak > slot) slot = peak;
  }
  return Error::none();
}

size_t SeatLedger::inUse() const {
  if (mode_ == LicenceMode::kPerServer) return conn_user_.size();
  return user_conns_.size() + anonymous_;
}

bool SeatLedger::wouldAdmit(const std::string& user) const {
  if (mode_ == LicenceMode::kPerSeat && !user.empty() && user_conns_.count(user) != 0) return true;
  return inUse() < seats_;
}

void SeatLedger::grant(uint64_t conn, const std::string& user) {
  conn_user_[conn] = user;
  if (user.empty()) {
    ++anonymous_;
  } else {
    ++user_conns_[user];
  }
}

bool SeatLedger::tryAcquire(uint64_t conn, const std::string& user) {
  rollDay();
  auto it = conn_user_.find(conn);
  if (it != conn_user_.end()) {
    if (it->second == user) return true;
    // Moving a connection to another user: take it out, try, put it back
    // on refusal. No callbacks fire for the intermediate state.
    std::string old = it->second;
    conn_user_.erase(it);
    if (old.empty()) {
      --anonymous_;
    } else if (--user_conns_[old] == 0) {
      user_conns_.erase(old);
    }
    if (!wouldAdmit(user)) {
      grant(conn, old);
      return false;
    }
    grant(conn, user);
    changed();
    return true;
  }
  if (!wouldAdmit(user)) return false;
  grant(conn, user);
  changed();
  return true;
}

void SeatLedger::release(uint64_t conn) {
  auto it = conn_user_.find(conn);
  if (it == conn_user_.end()) return;
  rollDay();
  if (it->second.empty()) {
    --anonymous_;
  } else if (--user_conns_[it->second] == 0) {
    user_conns_.erase(it->second);
  }
  conn_user_.erase(it);
  changed();
}

void SeatLedger::setLicence(LicenceMode mode, uint32_t seats) {
  rollDay();
  mode_ = mode;
  seats_ = seats < 1 ? 1 : seats;
  changed();
}

void SeatLedger::changed() {
  notePeak();
  checkThresholds();
  if (dirty_ && !path_.empty() && (!written_ || now_() - last_write_ >= 1)) flush();
}

// Called before a change, so days skipped over get the usage that held
// throughout them, and the new day starts from the usage carried over.
void SeatLedger::rollDay() {
  const int64_t day = dayOf(now_());
  if (day <= today_) return;  // same day, or the clock went back: stay on today_
  const size_t carried = inUse();
  const int64_t first = day - int64_t(kPeakDays) + 1;
  for (int64_t d = std::max(today_ + 1, first); d <= day; ++d) {
    size_t& slot = peaks_[d];
    if (carried > slot) slot = carried;
  }
  today_ = day;
  peaks_.erase(peaks_.begin(), peaks_.lower_bound(first));
  dirty_ = true;
}

void SeatLedger::notePeak() {
  size_t& slot = peaks_[today_];
  const size_t used = inUse();
  if (used > slot) {
    slot = used;
    dirty_ = true;
  }
}

void SeatLedger::checkThresholds() {
  const size_t used = inUse();
  auto check = [&](int pct, bool& armed) {
    const bool reached = used * 100 >= size_t(pct) * seats_;
    if (!reached) {
      armed = true;
    } else if (armed) {
      armed = false;
      if (on_threshold_) on_threshold_(SeatThresholdEvent{pct, used, seats_});
    }
  };
  check(80, armed80_);
  check(95, armed95_);
}

size_t SeatLedger::peakToday() {
  rollDay();
  return peaks_[today_];
}

std::vector<DayPeak> SeatLedger::peaks() {
  rollDay();
  std::vector<DayPeak> out;
  for (auto [day, peak] : peaks_)
    if (day <= today_) out.push_back(DayPeak{day, peak});
  return out;
}

Error SeatLedger::flush(bool force) {
  if (path_.empty() || (!dirty_ && !force)) return Error::none();
  std::ostringstream text;
  text << kHeader << "\n";
  for (auto [day, peak] : peaks_) text << formatDay(day) << ' ' << peak << "\n";
  written_ = true;
  last_write_ = now_();
  Error e = writeAtomically(path_, text.str());
  if (e.ok()) dirty_ = false;
  return e;
}

Error SeatLedger::tick() {
  rollDay();
  if (dirty_ && !path_.empty() && (!written_ || now_() - last_write_ >= 1)) return flush();
  return Error::none();
}

}  // namespace postern::master
