// Access control: addresses, CIDR networks, allow/deny rules, network sets.
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>

#include "access.h"

using namespace postern;
using namespace postern::master;

namespace {
IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  REQUIRE_MESSAGE(a.ok(), text);
  return *a;
}
}  // namespace

TEST_CASE("access: addresses parse strictly; IPv4-mapped IPv6 is IPv4") {
  const std::pair<const char*, const char*> good[] = {
      {"192.168.1.7", "192.168.1.7"},   {"0.0.0.0", "0.0.0.0"},          {"::1", "::1"},
      {"2001:DB8::0:1", "2001:db8::1"}, {"::ffff:10.1.2.3", "10.1.2.3"}, {"::FFFF:0a01:0203", "10.1.2.3"},
      {"fe80::1", "fe80::1"},
  };
  for (const auto& kv : good) {
    const auto in = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto out = kv.second;
    CAPTURE(in);
    auto a = IpAddress::parse(in);
    REQUIRE(a.ok());
    CHECK(a->toString() == out);
  }
  CHECK(ip("::ffff:10.1.2.3") == ip("10.1.2.3"));
  CHECK(ip("::ffff:10.1.2.3").v4);
  CHECK_FALSE(ip("::10.1.2.3").v4);  // IPv4-compatible (deprecated) is not mapped
  for (const char* bad : {"", "10.1", "10.0.0.256", "010.0.0.1", "10.0.0.1 ", " 10.0.0.1", "1.2.3.4.5",
                          "fe80::1%eth0", "2001:db8:::1", "example.com", "10.0.0.0/8"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddress::parse(bad).ok());
  }
}

TEST_CASE("access: CIDR parsing, canonical text and reasons") {
  const std::pair<const char*, const char*> good[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"192.168.1.7", "192.168.1.7/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"::1/128", "::1/128"},
      {"::1", "::1/128"},
      {"2001:DB8::/32", "2001:db8::/32"},
      {"::/0", "::/0"},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
      {"::ffff:10.1.2.3", "10.1.2.3/32"},
      {"::ffff:0.0.0.0/96", "0.0.0.0/0"},
  };
  for (const auto& kv : good) {
    const auto in = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto out = kv.second;
    CAPTURE(in);
    auto c = Cidr::parse(in);
    REQUIRE(c.ok());
    CHECK(c->toString() == out);
  }
  const std::pair<const char*, const char*> bad[] = {
      {"10.0.0.0/33", "prefix /33 is longer than 32 bits in \"10.0.0.0/33\""},
      {"::/129", "prefix /129 is longer than 128 bits in \"::/129\""},
      {"10.1.2.3/8", "host bits set in \"10.1.2.3/8\"; did you mean 10.0.0.0/8?"},
      {"2001:db8::1/32", "host bits set in \"2001:db8::1/32\"; did you mean 2001:db8::/32?"},
      {"10.0.0.0/", "bad prefix length \"\" in \"10.0.0.0/\""},
      {"10.0.0.0/08", "bad prefix length \"08\" in \"10.0.0.0/08\""},
      {"10.0.0.0/-1", "bad prefix length \"-1\" in \"10.0.0.0/-1\""},
      {"10.0.0.0/8/8", "bad prefix length \"8/8\" in \"10.0.0.0/8/8\""},
      {"::ffff:10.0.0.0/64", "IPv4-mapped network \"::ffff:10.0.0.0/64\" needs a prefix of at least 96"},
      {"10.0.0.0.0/8", "not an IPv4 address: \"10.0.0.0.0\""},
      {"gateway/24", "not an IPv4 address: \"gateway\""},
  };
  for (const auto& kv : bad) {
    const auto in = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto reason = kv.second;
    CAPTURE(in);
    auto c = Cidr::parse(in);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kBadArgs);
    CHECK(c.error().message == reason);
  }
}

TEST_CASE("access: CIDR matching, IPv4, IPv6 and mapped") {
  struct Case {
    const char* net;
    const char* addr;
    bool in;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"192.168.1.7", "192.168.1.7", true},
      {"192.168.1.7", "192.168.1.8", false},
      {"192.168.1.0/25", "192.168.1.127", true},
      {"192.168.1.0/25", "192.168.1.128", false},
      {"0.0.0.0/0", "203.0.113.9", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"127.0.0.1/32", "127.0.0.2", false},
      {"10.0.0.0/8", "::ffff:10.9.8.7", true},
      {"::ffff:10.0.0.0/104", "10.9.8.7", true},
      {"::1/128", "::1", true},
      {"::1/128", "127.0.0.1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/33", "2001:db8:8000::", false},
      {"::/0", "fe80::1", true},
      {"::/0", "10.0.0.1", false},
      {"::/0", "::ffff:10.0.0.1", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.net);
    CAPTURE(c.addr);
    CHECK(Cidr::parse(c.net)->contains(ip(c.addr)) == c.in);
  }
}

TEST_CASE("access: trusted networks default to exactly 127.0.0.1 and ::1") {
  NetworkSet t = NetworkSet::defaultTrusted();
  CHECK(t.contains("127.0.0.1"));
  CHECK(t.contains("::1"));
  CHECK(t.contains("::ffff:127.0.0.1"));
  CHECK_FALSE(t.contains("127.0.0.2"));
  CHECK_FALSE(t.contains("not an address"));
  CHECK(t.toStrings() == std::vector<std::string>{"127.0.0.1/32", "::1/128"});
  auto office = NetworkSet::parse({"192.0.2.0/24", "2001:db8::/32", "192.0.2.0/24"});
  REQUIRE(office.ok());
  CHECK(office->networks().size() == 2);
  CHECK(office->contains("192.0.2.200"));
  CHECK(office->contains("2001:db8::5"));
  auto bad = NetworkSet::parse({"192.0.2.0/24", "192.0.2.1/24"});
  CHECK(bad.error().message == "host bits set in \"192.0.2.1/24\"; did you mean 192.0.2.0/24?");
}

TEST_CASE("access: peers from accept() are normalised like text") {
  sockaddr_in6 s6{};
  s6.sin6_family = AF_INET6;
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  std::memcpy(s6.sin6_addr.s6_addr, mapped, 16);
  auto a = IpAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&s6), sizeof s6);
  REQUIRE(a.ok());
  CHECK(a->toString() == "192.0.2.1");
  sockaddr_in s4{};
  s4.sin_family = AF_INET;
  s4.sin_addr.s_addr = htonl(0x7f000002);
  CHECK(IpAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&s4), sizeof s4)->toString() == "127.0.0.2");
  sockaddr un{};
  un.sa_family = AF_UNIX;
  CHECK_FALSE(IpAddress::fromSockaddr(&un, sizeof un).ok());
}

TEST_CASE("access: rule text parses strictly and prints canonically") {
  const std::pair<const char*, const char*> good[] = {
      {"deny 10.0.0.0/8", "deny 10.0.0.0/8"},
      {"allow  192.168.1.7\tprotocol=imap", "allow 192.168.1.7/32 protocol=imap"},
      {"allow ::1 listener=office protocol=pop3", "allow ::1/128 protocol=pop3 listener=office"},
      {"deny 2001:DB8::/32 listener=web-mail_2.eu", "deny 2001:db8::/32 listener=web-mail_2.eu"},
  };
  for (const auto& kv : good) {
    const auto in = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto out = kv.second;
    CAPTURE(in);
    auto r = AccessRule::parse(in);
    REQUIRE(r.ok());
    CHECK(r->toString() == out);
  }
  const std::pair<const char*, const char*> bad[] = {
      {"", "expected \"allow|deny CIDR [protocol=P] [listener=NAME]\""},
      {"deny", "expected \"allow|deny CIDR [protocol=P] [listener=NAME]\""},
      {"permit 10.0.0.0/8", "rule must start with allow or deny (got \"permit\")"},
      {"deny 10.0.0.1/8", "host bits set in \"10.0.0.1/8\"; did you mean 10.0.0.0/8?"},
      {"deny 10.0.0.0/8 protocol=smtp", "protocol must be imap, pop3 or lmtp (got \"smtp\")"},
      {"deny 10.0.0.0/8 protocol=IMAP", "protocol must be imap, pop3 or lmtp (got \"IMAP\")"},
      {"deny 10.0.0.0/8 listener=", "listener name must be 1-64 of A-Z a-z 0-9 _ . - (got \"\")"},
      {"deny 10.0.0.0/8 listener=a/b", "listener name must be 1-64 of A-Z a-z 0-9 _ . - (got \"a/b\")"},
      {"deny 10.0.0.0/8 protocol=imap protocol=pop3",
       "unexpected \"protocol=pop3\" (options: protocol=P listener=NAME, once each)"},
      {"deny 10.0.0.0/8 now", "unexpected \"now\" (options: protocol=P listener=NAME, once each)"},
  };
  for (const auto& kv : bad) {
    const auto in = kv.first;  // not a structured binding: clang 14 cannot capture those
    const auto reason = kv.second;
    CAPTURE(in);
    auto r = AccessRule::parse(in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == reason);
  }
}

TEST_CASE("access: no rules allow everyone") {
  AccessList l;
  AccessDecision d = l.decide("203.0.113.5", "imap", "default");
  CHECK(d.allowed);
  CHECK_FALSE(d.rule);
  CHECK(d.reason == "allowed: no rules apply");
  CHECK_FALSE(l.decide("bogus", "imap", "default").allowed);
}

TEST_CASE("access: deny wins over any allow, however specific") {
  AccessList l;
  REQUIRE(l.add("allow 10.1.2.3").ok());
  REQUIRE(l.add("deny 10.0.0.0/8").ok());
  AccessDecision d = l.decide("10.1.2.3", "imap", "default");
  CHECK_FALSE(d.allowed);
  REQUIRE(d.rule);
  CHECK(d.rule->toString() == "deny 10.0.0.0/8");
  CHECK(d.reason == "denied by rule \"deny 10.0.0.0/8\"");
  CHECK(l.decide("::ffff:10.200.0.1", "pop3", "x").allowed == false);
  // 192.0.2.1 is not in the allow list, which applies everywhere.
  d = l.decide("192.0.2.1", "imap", "default");
  CHECK_FALSE(d.allowed);
  CHECK_FALSE(d.rule);
  CHECK(d.reason == "denied: not in any allow rule for imap on listener default");
}

TEST_CASE("access: rules scoped to a protocol or listener apply only there") {
  auto parsed = AccessList::parse(
      "# office only for IMAP on the office listener\n"
      "allow 192.0.2.0/24 protocol=imap listener=office\n"
      "\n"
      "deny 198.51.100.0/24 protocol=pop3\n"
      "  # indented comment\r\n"
      "allow 2001:db8::/32 listener=v6\n");
  REQUIRE(parsed.ok());
  const AccessList& l = *parsed;
  struct Case {
    const char* ip;
    const char* protocol;
    const char* listener;
    bool allowed;
  };
  const Case cases[] = {
      {"192.0.2.9", "imap", "office", true},       // allowed by the scoped allow
      {"203.0.113.1", "imap", "office", false},    // allow rules apply here, none matches
      {"203.0.113.1", "pop3", "office", true},     // no allow rule applies to pop3 on office
      {"203.0.113.1", "imap", "default", true},    // nor to imap on default
      {"198.51.100.4", "pop3", "default", false},  // denied for pop3 everywhere
      {"198.51.100.4", "imap", "default", true},   // but not for imap
      {"198.51.100.4", "imap", "office", false},   // office imap: not in its allow list
      {"2001:db8::7", "lmtp", "v6", true},        {"2001:db9::7", "lmtp", "v6", false},
      {"192.0.2.9", "imap", "v6", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.ip);
    CAPTURE(c.protocol);
    CAPTURE(c.listener);
    CHECK(l.decide(c.ip, c.protocol, c.listener).allowed == c.allowed);
  }
  AccessDecision d = l.decide("192.0.2.9", "imap", "office");
  CHECK(d.reason == "allowed by rule \"allow 192.0.2.0/24 protocol=imap listener=office\"");
}

TEST_CASE("access: add and remove by rule text; serialisation round-trips") {
  AccessList l;
  CHECK(l.add("deny 10.0.0.1").ok());
  CHECK(l.add("deny 10.0.0.1/32").code == ErrorCode::kExists);
  CHECK(l.add("deny 10.0.0.1/32 protocol=imap").ok());  // another scope: another rule
  CHECK(l.add("allow 10.0.0.0/8").ok());
  CHECK(l.add("allow 10.0.0.1/8").code == ErrorCode::kBadArgs);
  CHECK(l.serialise() ==
        "deny 10.0.0.1/32\n"
        "deny 10.0.0.1/32 protocol=imap\n"
        "allow 10.0.0.0/8\n");
  auto back = AccessList::parse(l.serialise());
  REQUIRE(back.ok());
  CHECK(back->rules() == l.rules());

  CHECK(l.remove("deny 10.0.0.1").ok());  // same rule as "deny 10.0.0.1/32"
  CHECK(l.remove("deny 10.0.0.1").code == ErrorCode::kNotFound);
  CHECK(l.remove("allow 10.0.0.0/8 protocol=pop3").code == ErrorCode::kNotFound);
  CHECK(l.remove("nonsense").code == ErrorCode::kBadArgs);
  CHECK(l.serialise() == "deny 10.0.0.1/32 protocol=imap\nallow 10.0.0.0/8\n");

  auto dup = AccessList::parse("deny ::1\ndeny ::1/128\n");
  CHECK(dup.error().message == "line 2: rule already present: deny ::1/128");
  auto bad = AccessList::parse("deny ::1\n\nallow everyone\n");
  CHECK(bad.error().message == "line 3: not an IPv4 address: \"everyone\"");
}
