#pragma once
// The brute-force penalty table: failed authentications per client address,
// shared by every worker because it lives in the master (workers report each
// failure over IPC, kAuthFailed, and get back the delay, kAuthPenalty).
//
// Rules (docs/config.md, auth.penalty_*):
// - The n-th failure in a row from an address is answered after
//   2 s * 2^(n-1), at most 15 s: 2, 4, 8, 15, 15, ... seconds. The session
//   waits on a loop timer; nothing blocks.
// - Failures are "in a row" while no more than auth.penalty_window seconds
//   pass between two of them; a longer pause forgets them.
// - The auth.penalty_max_failures-th failure blocks the address for
//   auth.penalty_block_time seconds: new IMAP and POP3 connections from it
//   are refused at accept, and its sessions that have not logged in are
//   closed. The block then ends and the address starts again from zero.
//   0 = never block (delays only).
// - A successful login from the address halves its count (rounded down):
//   one or two typos followed by the right password are forgiven at once,
//   but an attacker who owns one account cannot wipe his record by logging
//   in between guesses. A success never lifts a block.
// - IPv4 addresses count one by one; IPv6 addresses count by /64, the
//   smallest network one subscriber gets, so an attacker cannot rotate
//   through the addresses of his own network.
// - trusted_networks are not recorded at all (the master does not call
//   failed() for them).
// The table is bounded (kMaxEntries): when full, forgotten entries go
// first, then the least recently failing one.
//
// Not thread-safe: the master's loop thread only. The clock is injected so
// tests can move time.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "error.h"

namespace postern::master {

struct PenaltySettings {
  uint32_t max_failures = 10;  // 0 = never block
  std::chrono::seconds block_time{900};
  std::chrono::seconds window{900};
  std::chrono::milliseconds first_delay{2000};
  std::chrono::milliseconds max_delay{15000};
};

class PenaltyTable {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr size_t kMaxEntries = 100000;

  // `clock` defaults to std::chrono::steady_clock::now.
  explicit PenaltyTable(Clock clock = {});

  void configure(const PenaltySettings& s) { settings_ = s; }
  const PenaltySettings& settings() const { return settings_; }

  struct Verdict {
    std::chrono::milliseconds delay{0};  // wait this long before answering the failure
    bool blocked_now = false;            // this failure started a block
  };
  // Records one failed authentication from `ip` (numeric address).
  Verdict failed(const std::string& ip);
  // A successful login from `ip`: halves its count.
  void succeeded(const std::string& ip);
  // Time left if `ip` (or its /64) is blocked now, else nullopt.
  std::optional<std::chrono::seconds> blocked(const std::string& ip) const;

  struct Entry {
    std::string address;             // "192.0.2.7" or "2001:db8:1:2::/64"
    uint32_t failures = 0;           // in the current run
    int64_t last_failure_ago_s = 0;  // seconds since the last failure
    int64_t blocked_for_s = 0;       // seconds of block left, 0 = not blocked
    uint64_t total_failures = 0;     // since the entry was created
    uint32_t blocks = 0;             // blocks since the entry was created
  };
  // Live entries (those not yet forgotten), sorted by address.
  std::vector<Entry> list() const;
  // Forgets entries: `what` is "" or "all" (every one), an address (its
  // entry, the /64 for IPv6) or a CIDR network (every entry inside it).
  // Returns how many were removed, or kBadArgs for unparsable text.
  Result<size_t> clear(const std::string& what);
  // Drops entries with nothing left to remember (run now and then).
  void expire();
  size_t size() const { return entries_.size(); }

  // The table key of an address: IPv4 as is, IPv6 as its /64 network.
  static std::string keyOf(const std::string& ip);

 private:
  struct State {
    uint32_t failures = 0;
    std::chrono::steady_clock::time_point last_failure{};
    std::chrono::steady_clock::time_point blocked_until{};
    uint64_t total = 0;
    uint32_t blocks = 0;
  };
  std::chrono::steady_clock::time_point now() const { return clock_(); }
  // The run of failures is over (the pause exceeded the window).
  bool forgotten(const State& s, std::chrono::steady_clock::time_point now) const;
  void makeRoom();

  Clock clock_;
  PenaltySettings settings_;
  std::unordered_map<std::string, State> entries_;
};

}  // namespace postern::master
