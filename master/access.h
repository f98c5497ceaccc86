#pragma once
// IP access control: addresses, CIDR networks, allow/deny rules scoped to a
// protocol and/or listener, and plain network sets (trusted_networks).
// Pure functions of their input; not thread-safe for concurrent mutation.
//
// Addresses: IPv4 dotted quad (exactly four decimal parts, no leading
// zeros) or IPv6 text (RFC 4291, no zone "%eth0"). An IPv4-mapped IPv6
// address (::ffff:a.b.c.d) is the IPv4 address a.b.c.d everywhere: a
// dual-stack listener's peers match IPv4 rules.
//
// CIDR text: "ADDRESS" (a single host: /32 or /128) or "ADDRESS/PREFIX"
// (decimal, no leading zeros, 0-32 for IPv4, 0-128 for IPv6). Decisions:
// - Host bits set ("10.1.2.3/8") is an error naming the network meant
//   ("host bits set; did you mean 10.0.0.0/8?"): such a rule is almost
//   always a typo, and silently widening it would grant or deny far more
//   than the administrator saw.
// - A mapped network "::ffff:10.0.0.0/104" is the IPv4 network 10.0.0.0/8
//   (prefix - 96); a mapped address with a prefix below 96 is an error.
// - IPv6 networks never match IPv4 addresses: "::/0" means every IPv6
//   client; add "0.0.0.0/0" as well for everyone.
// - The canonical text (toString) always carries the prefix, with IPv6 in
//   RFC 5952 form: "192.168.1.7" -> "192.168.1.7/32", "2001:DB8::/32" ->
//   "2001:db8::/32".
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace postern::master {

struct IpAddress {
  bool v4 = true;
  std::array<uint8_t, 16> bytes{};  // IPv4 in bytes[0..3], rest zero

  // kBadArgs with a reason on anything but a plain numeric address.
  static Result<IpAddress> parse(std::string_view text);
  // From accept()'s peer address (AF_INET or AF_INET6, mapped -> IPv4).
  static Result<IpAddress> fromSockaddr(const sockaddr* sa, socklen_t len);
  std::string toString() const;
  bool operator==(const IpAddress&) const = default;
};

class Cidr {
 public:
  // See the header comment for the accepted syntax and the decisions.
  static Result<Cidr> parse(std::string_view text);

  bool contains(const IpAddress& ip) const;
  bool v4() const { return base_.v4; }
  int prefix() const { return prefix_; }
  std::string toString() const;
  bool operator==(const Cidr&) const = default;

 private:
  IpAddress base_;
  int prefix_ = 32;
};

// A list of networks, e.g. trusted_networks (exempt from the per-IP limit).
class NetworkSet {
 public:
  NetworkSet() = default;
  // The default trusted_networks: 127.0.0.1/32 and ::1/128 only, so other
  // 127.x.y.z addresses count as ordinary clients.
  static NetworkSet defaultTrusted();
  // Parses every entry; the first bad one fails the whole set, its error
  // naming the entry. Duplicates are kept once.
  static Result<NetworkSet> parse(const std::vector<std::string>& entries);

  bool contains(const IpAddress& ip) const;
  // An unparsable address is in no set.
  bool contains(std::string_view ip) const;
  const std::vector<Cidr>& networks() const { return nets_; }
  std::vector<std::string> toStrings() const;

 private:
  std::vector<Cidr> nets_;
};

enum class AccessAction { kAllow, kDeny };

// One rule. Text form (the persisted line and what posternctl shows):
//   allow|deny CIDR [protocol=imap|pop3|lmtp] [listener=NAME]
// words separated by spaces or tabs, options in any order, each at most
// once; NAME is 1-64 of [A-Za-z0-9_.-]. Canonical text (toString): CIDR in
// canonical form, protocol before listener, single spaces.
struct AccessRule {
  AccessAction action = AccessAction::kDeny;
  Cidr network;
  std::string protocol;  // "" = every protocol
  std::string listener;  // "" = every listener

  static Result<AccessRule> parse(std::string_view text);
  std::string toString() const;
  // Does this rule apply to connections on this protocol and listener?
  bool appliesTo(std::string_view protocol, std::string_view listener) const;
  bool operator==(const AccessRule&) const = default;
};

struct AccessDecision {
  bool allowed = true;
  // The rule that decided: the matching deny rule, or the matching allow
  // rule; nullopt when allowed because no allow rule applies, or denied
  // because allow rules apply and none matches.
  std::optional<AccessRule> rule;
  // For logs: "denied by rule \"deny 10.0.0.0/8\"", "allowed by rule ...",
  // "denied: not in any allow rule for imap on listener office", "allowed: no rules apply".
  std::string reason;
};

// Semantics of decide(ip, protocol, listener), over the rules that apply to
// that protocol and listener (unscoped rules apply everywhere):
// 1. deny wins: if any applicable deny rule contains ip -> denied (the first
//    such rule in list order), whatever allow rules say, however specific;
// 2. else if at least one applicable allow rule exists, ip must be in one of
//    them -> allowed by the first, or denied;
// 3. else allowed.
class AccessList {
 public:
  // Appends a rule; kExists if an equal rule (same canonical text) is
  // already present.
  Error add(const AccessRule& rule);
  Error add(std::string_view rule_text);
  // Removes the rule equal to `rule_text` after parsing and canonicalising
  // it (so "deny 10.0.0.1" removes "deny 10.0.0.1/32"); kBadArgs if it does
  // not parse, kNotFound if no such rule.
  Error remove(std::string_view rule_text);

  AccessDecision decide(const IpAddress& ip, std::string_view protocol, std::string_view listener) const;
  // An unparsable address is denied (the master only passes numeric peers).
  AccessDecision decide(std::string_view ip, std::string_view protocol, std::string_view listener) const;

  const std::vector<AccessRule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

  // One canonical rule per line, in list order, each ending in "\n".
  std::string serialise() const;
  // Inverse of serialise: blank lines and '#' comments ignored; a bad or
  // duplicate line fails the whole parse with "line N: ...".
  static Result<AccessList> parse(std::string_view text);

 private:
  std::vector<AccessRule> rules_;
};

}  // namespace postern::master
