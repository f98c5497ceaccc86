// The brute-force penalty table, on an injected clock.
#include <doctest/doctest.h>

#include "penalty.h"

using namespace postern::master;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

struct Clocked {
  std::chrono::steady_clock::time_point t = std::chrono::steady_clock::time_point{} + 1000h;
  PenaltyTable table{[this] { return t; }};
  Clocked(uint32_t max_failures = 10, seconds block = 900s, seconds window = 900s) {
    PenaltySettings s;
    s.max_failures = max_failures;
    s.block_time = block;
    s.window = window;
    table.configure(s);
  }
};

}  // namespace

TEST_CASE("penalty: the delay starts at 2 s and doubles up to 15 s") {
  Clocked c;
  std::vector<milliseconds> got;
  for (int i = 0; i < 6; ++i) got.push_back(c.table.failed("192.0.2.7").delay);
  CHECK(got == std::vector<milliseconds>{2000ms, 4000ms, 8000ms, 15000ms, 15000ms, 15000ms});
}

TEST_CASE("penalty: addresses are counted apart") {
  Clocked c;
  c.table.failed("192.0.2.7");
  c.table.failed("192.0.2.7");
  CHECK(c.table.failed("192.0.2.8").delay == 2000ms);
  CHECK(c.table.failed("192.0.2.7").delay == 8000ms);
}

TEST_CASE("penalty: IPv6 addresses count by /64, IPv4-mapped ones as IPv4") {
  Clocked c;
  c.table.failed("2001:db8:1:2::1");
  CHECK(c.table.failed("2001:db8:1:2:ffff::9").delay == 4000ms);
  CHECK(c.table.failed("2001:db8:1:3::1").delay == 2000ms);
  CHECK(PenaltyTable::keyOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  CHECK(PenaltyTable::keyOf("::ffff:192.0.2.7") == "192.0.2.7");
  c.table.failed("::ffff:192.0.2.7");
  CHECK(c.table.failed("192.0.2.7").delay == 4000ms);
}

TEST_CASE("penalty: the N-th failure blocks for block_time, then the address starts again") {
  Clocked c(3, 600s);
  CHECK_FALSE(c.table.failed("192.0.2.7").blocked_now);
  CHECK_FALSE(c.table.failed("192.0.2.7").blocked_now);
  CHECK_FALSE(c.table.blocked("192.0.2.7"));
  auto v = c.table.failed("192.0.2.7");
  CHECK(v.blocked_now);
  CHECK(v.delay == 8000ms);
  REQUIRE(c.table.blocked("192.0.2.7"));
  CHECK(*c.table.blocked("192.0.2.7") == 600s);
  CHECK_FALSE(c.table.blocked("192.0.2.8"));
  c.t += 599s;
  REQUIRE(c.table.blocked("192.0.2.7"));
  CHECK(*c.table.blocked("192.0.2.7") == 1s);
  c.t += 1s;
  CHECK_FALSE(c.table.blocked("192.0.2.7"));
  CHECK(c.table.failed("192.0.2.7").delay == 2000ms);
}

TEST_CASE("penalty: max_failures 0 never blocks") {
  Clocked c(0);
  for (int i = 0; i < 50; ++i) CHECK_FALSE(c.table.failed("192.0.2.7").blocked_now);
  CHECK_FALSE(c.table.blocked("192.0.2.7"));
}

TEST_CASE("penalty: a pause longer than the window forgets the failures") {
  Clocked c(10, 900s, 300s);
  c.table.failed("192.0.2.7");
  c.table.failed("192.0.2.7");
  c.t += 300s;  // exactly the window: still remembered
  CHECK(c.table.failed("192.0.2.7").delay == 8000ms);
  c.t += 301s;
  CHECK(c.table.failed("192.0.2.7").delay == 2000ms);
  // Spread-out failures never reach the block.
  Clocked slow(3, 900s, 60s);
  for (int i = 0; i < 10; ++i) {
    CHECK_FALSE(slow.table.failed("192.0.2.9").blocked_now);
    slow.t += 61s;
  }
}

TEST_CASE("penalty: a successful login halves the count but does not lift a block") {
  Clocked c(4);
  c.table.failed("192.0.2.7");
  c.table.succeeded("192.0.2.7");  // one typo, then the right password: forgiven
  CHECK(c.table.failed("192.0.2.7").delay == 2000ms);
  c.table.failed("192.0.2.7");
  c.table.failed("192.0.2.7");     // 3 in a row
  c.table.succeeded("192.0.2.7");  // -> 1
  CHECK(c.table.failed("192.0.2.7").delay == 4000ms);
  c.table.failed("192.0.2.7");
  c.table.failed("192.0.2.7");
  c.table.failed("192.0.2.7");  // 4th in a row: blocked
  REQUIRE(c.table.blocked("192.0.2.7"));
  c.table.succeeded("192.0.2.7");
  CHECK(c.table.blocked("192.0.2.7"));
  c.table.succeeded("192.0.2.200");  // unknown address: nothing to do
  CHECK(c.table.size() == 1);
}

TEST_CASE("penalty: list shows live entries; expire drops forgotten ones") {
  Clocked c(2, 120s, 60s);
  c.table.failed("192.0.2.7");
  c.table.failed("192.0.2.8");
  c.table.failed("192.0.2.8");  // blocked
  c.t += 10s;
  auto l = c.table.list();
  REQUIRE(l.size() == 2);
  CHECK(l[0].address == "192.0.2.7");
  CHECK(l[0].failures == 1);
  CHECK(l[0].last_failure_ago_s == 10);
  CHECK(l[0].blocked_for_s == 0);
  CHECK(l[1].address == "192.0.2.8");
  CHECK(l[1].blocked_for_s == 110);
  CHECK(l[1].total_failures == 2);
  CHECK(l[1].blocks == 1);
  c.t += 60s;  // 192.0.2.7 forgotten, .8 still blocked
  l = c.table.list();
  REQUIRE(l.size() == 1);
  CHECK(l[0].address == "192.0.2.8");
  c.table.expire();
  CHECK(c.table.size() == 1);
  c.t += 60s;
  c.table.expire();
  CHECK(c.table.size() == 0);
  CHECK(c.table.list().empty());
}

TEST_CASE("penalty: clear by address, network, or everything") {
  Clocked c;
  for (const char* ip : {"192.0.2.7", "192.0.2.8", "198.51.100.1", "2001:db8::5"}) c.table.failed(ip);
  CHECK(c.table.clear("192.0.2.7").value() == 1);
  CHECK(c.table.clear("192.0.2.7").value() == 0);
  CHECK(c.table.clear("2001:db8::77").value() == 1);  // the same /64
  c.table.failed("192.0.2.7");
  CHECK(c.table.clear("192.0.2.0/24").value() == 2);
  CHECK(c.table.size() == 1);
  CHECK_FALSE(c.table.clear("not-an-address").ok());
  CHECK_FALSE(c.table.clear("192.0.2.1/24").ok());  // host bits set
  CHECK(c.table.clear("").value() == 1);
  CHECK(c.table.size() == 0);
}

TEST_CASE("penalty: clearing a blocked address admits it at once") {
  Clocked c(1);
  CHECK(c.table.failed("192.0.2.7").blocked_now);
  CHECK(c.table.blocked("192.0.2.7"));
  CHECK(c.table.clear("192.0.2.7").value() == 1);
  CHECK_FALSE(c.table.blocked("192.0.2.7"));
}

TEST_CASE("penalty: the table stays bounded, and blocks survive the pressure") {
  Clocked c(1);
  c.table.failed("10.0.0.1");  // blocked
  c.t += 1s;
  PenaltySettings s = c.table.settings();
  s.max_failures = 0;
  c.table.configure(s);
  for (size_t i = 0; i < PenaltyTable::kMaxEntries + 10; ++i) {
    std::string ip = "10." + std::to_string(1 + i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                     std::to_string(i % 256);
    if (ip == "10.1.0.1") continue;
    c.table.failed(ip);
  }
  CHECK(c.table.size() <= PenaltyTable::kMaxEntries);
  CHECK(c.table.blocked("10.0.0.1"));
}
