#include "penalty.h"

#include <algorithm>

#include "access.h"

namespace postern::master {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

PenaltyTable::PenaltyTable(Clock clock) : clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

std::string PenaltyTable::keyOf(const std::string& ip) {
  auto a = IpAddress::parse(ip);
  if (!a.ok()) return ip;  // not an address (cannot happen for accepted peers): count it verbatim
  IpAddress addr = a.value();
  if (addr.v4) return addr.toString();
  std::fill(addr.bytes.begin() + 8, addr.bytes.end(), uint8_t{0});
  return addr.toString() + "/64";
}

bool PenaltyTable::forgotten(const State& s, std::chrono::steady_clock::time_point now) const {
  return now - s.last_failure > settings_.window;
}

PenaltyTable::Verdict PenaltyTable::failed(const std::string& ip) {
  auto t = now();
  std::string key = keyOf(ip);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    makeRoom();
    it = entries_.emplace(key, State{}).first;
  }
  State& s = it->second;
  if (s.failures > 0 && forgotten(s, t)) s.failures = 0;
  ++s.failures;
  ++s.total;
  s.last_failure = t;
  Verdict v;
  // 2 s doubling: shift with a cap so a long run cannot overflow.
  milliseconds d = settings_.first_delay;
  for (uint32_t i = 1; i < s.failures && d < settings_.max_delay; ++i) d *= 2;
  v.delay = std::min(d, settings_.max_delay);
  if (settings_.max_failures > 0 && s.failures >= settings_.max_failures) {
    v.blocked_now = t >= s.blocked_until;  // a session of a blocked address may still fail once more
    s.blocked_until = t + settings_.block_time;
    s.failures = 0;  // after the block, start again from the beginning
    if (v.blocked_now) ++s.blocks;
  }
  return v;
}

void PenaltyTable::succeeded(const std::string& ip) {
  auto it = entries_.find(keyOf(ip));
  if (it == entries_.end()) return;
  it->second.failures /= 2;
}

std::optional<seconds> PenaltyTable::blocked(const std::string& ip) const {
  auto it = entries_.find(keyOf(ip));
  if (it == entries_.end()) return std::nullopt;
  auto t = now();
  if (t >= it->second.blocked_until) return std::nullopt;
  // Round up: "try again in 0 seconds" would be wrong.
  auto left = duration_cast<milliseconds>(it->second.blocked_until - t);
  return seconds((left.count() + 999) / 1000);
}

std::vector<PenaltyTable::Entry> PenaltyTable::list() const {
  auto t = now();
  std::vector<Entry> out;
  for (const auto& [key, s] : entries_) {
    bool is_blocked = t < s.blocked_until;
    uint32_t failures = forgotten(s, t) ? 0 : s.failures;
    if (!is_blocked && failures == 0) continue;
    Entry e;
    e.address = key;
    e.failures = failures;
    e.last_failure_ago_s = duration_cast<seconds>(t - s.last_failure).count();
    e.blocked_for_s =
        is_blocked ? (duration_cast<milliseconds>(s.blocked_until - t).count() + 999) / 1000 : 0;
    e.total_failures = s.total;
    e.blocks = s.blocks;
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.address < b.address; });
  return out;
}

Result<size_t> PenaltyTable::clear(const std::string& what) {
  if (what.empty() || what == "all") {
    size_t n = entries_.size();
    entries_.clear();
    return n;
  }
  if (what.find('/') == std::string::npos) {
    auto a = IpAddress::parse(what);
    if (!a.ok()) return Error{ErrorCode::kBadArgs, a.error().message};
    return entries_.erase(keyOf(what));
  }
  auto net = Cidr::parse(what);
  if (!net.ok()) return Error{ErrorCode::kBadArgs, net.error().message};
  size_t n = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    std::string addr = it->first.substr(0, it->first.find('/'));
    auto a = IpAddress::parse(addr);
    if (a.ok() && net.value().contains(a.value())) {
      it = entries_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void PenaltyTable::expire() {
  auto t = now();
  for (auto it = entries_.begin(); it != entries_.end();) {
    const State& s = it->second;
    if (t >= s.blocked_until && forgotten(s, t))
      it = entries_.erase(it);
    else
      ++it;
  }
}

void PenaltyTable::makeRoom() {
  if (entries_.size() < kMaxEntries) return;
  expire();
  if (entries_.size() < kMaxEntries) return;
  // Still full (a wide attack): forget the entry that failed longest ago,
  // unless it is blocked, so blocks hold under pressure.
  auto oldest = entries_.end();
  auto t = now();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (t < it->second.blocked_until) continue;
    if (oldest == entries_.end() || it->second.last_failure < oldest->second.last_failure) oldest = it;
  }
  if (oldest == entries_.end()) oldest = entries_.begin();
  entries_.erase(oldest);
}

}  // namespace postern::master
