#include "access.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace postern::master {
namespace {

Error bad(std::string msg) { return Error{ErrorCode::kBadArgs, std::move(msg)}; }

bool isMapped(const uint8_t* b) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kPrefix, 12) == 0;
}

IpAddress fromV6Bytes(const uint8_t* b) {
  IpAddress ip;
  if (isMapped(b)) {
    ip.v4 = true;
    std::memcpy(ip.bytes.data(), b + 12, 4);
  } else {
    ip.v4 = false;
    std::memcpy(ip.bytes.data(), b, 16);
  }
  return ip;
}

IpAddress masked(const IpAddress& ip, int prefix) {
  IpAddress out = ip;
  const int bits = ip.v4 ? 32 : 128;
  for (int i = prefix; i < bits; ++i) out.bytes[size_t(i / 8)] &= uint8_t(~(0x80u >> (i % 8)));
  return out;
}

bool validListenerName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

// --- IpAddress -----------------------------------------------------------

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty()) return bad("empty address");
  if (text.size() > INET6_ADDRSTRLEN) return bad("not an IP address: \"" + std::string(text) + "\"");
  const std::string s(text);
  if (s.find(':') != std::string::npos) {
    if (s.find('%') != std::string::npos) return bad("IPv6 zone identifiers are not allowed: \"" + s + "\"");
    uint8_t b[16];
    if (inet_pton(AF_INET6, s.c_str(), b) != 1) return bad("not an IPv6 address: \"" + s + "\"");
    return fromV6Bytes(b);
  }
  IpAddress ip;
  // glibc's inet_pton accepts exactly four decimal parts without leading
  // zeros (no "10.1", no octal "010.0.0.1"), which is the strictness wanted.
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) != 1) return bad("not an IPv4 address: \"" + s + "\"");
  ip.v4 = true;
  return ip;
}

Result<IpAddress> IpAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return bad("no address");
  if (sa->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
    IpAddress ip;
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return ip;
  }
  if (sa->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
    return fromV6Bytes(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr.s6_addr);
  }
  return bad("not an IPv4 or IPv6 address");
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

// --- Cidr --------------------------------------------------------------------

Result<Cidr> Cidr::parse(std::string_view text) {
  const size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  auto addr = IpAddress::parse(addr_text);
  if (!addr) return addr.error();
  const bool written_v6 = addr_text.find(':') != std::string_view::npos;
  const int max_bits = written_v6 ? 128 : 32;
  int prefix = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    bool digits = !p.empty() && p.size() <= 3 && !(p.size() > 1 && p[0] == '0');
    for (char c : p) digits = digits && c >= '0' && c <= '9';
    if (!digits) return bad("bad prefix length \"" + std::string(p) + "\" in \"" + std::string(text) + "\"");
    prefix = std::stoi(std::string(p));
    if (prefix > max_bits)
      return bad("prefix /" + std::to_string(prefix) + " is longer than " + std::to_string(max_bits) +
                 " bits in \"" + std::string(text) + "\"");
  }
  if (written_v6 && addr->v4) {
    // An IPv4-mapped network is the IPv4 network it maps.
    if (prefix < 96)
      return bad("IPv4-mapped network \"" + std::string(text) + "\" needs a prefix of at least 96");
    prefix -= 96;
  }
  Cidr c;
  c.base_ = *addr;
  c.prefix_ = prefix;
  const IpAddress net = masked(*addr, prefix);
  if (!(net == *addr)) {
    Cidr meant = c;
    meant.base_ = net;
    return bad("host bits set in \"" + std::string(text) + "\"; did you mean " + meant.toString() + "?");
  }
  return c;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.v4 != base_.v4) return false;
  return masked(ip, prefix_) == base_;
}

std::string Cidr::toString() const { return base_.toString() + "/" + std::to_string(prefix_); }

// --- NetworkSet -----------------------------------------------------------

NetworkSet NetworkSet::defaultTrusted() { return *NetworkSet::parse({"127.0.0.1/32", "::1/128"}); }

Result<NetworkSet> NetworkSet::parse(const std::vector<std::string>& entries) {
  NetworkSet set;
  for (const auto& e : entries) {
    auto c = Cidr::parse(e);
    if (!c) return c.error();
    bool dup = false;
    for (const auto& have : set.nets_) dup = dup || have == *c;
    if (!dup) set.nets_.push_back(*c);
  }
  return set;
}

bool NetworkSet::contains(const IpAddress& ip) const {
  for (const auto& n : nets_)
    if (n.contains(ip)) return true;
  return false;
}

bool NetworkSet::contains(std::string_view ip) const {
  auto a = IpAddress::parse(ip);
  return a && contains(*a);
}

std::vector<std::string> NetworkSet::toStrings() const {
  std::vector<std::string> out;
  for (const auto& n : nets_) out.push_back(n.toString());
  return out;
}

// --- AccessRule -----------------------------------------------------------

Result<AccessRule> AccessRule::parse(std::string_view text) {
  auto w = words(text);
  if (w.size() < 2) return bad("expected \"allow|deny CIDR [protocol=P] [listener=NAME]\"");
  AccessRule r;
  if (w[0] == "allow") {
    r.action = AccessAction::kAllow;
  } else if (w[0] == "deny") {
    r.action = AccessAction::kDeny;
  } else {
    return bad("rule must start with allow or deny (got \"" + std::string(w[0]) + "\")");
  }
  auto net = Cidr::parse(w[1]);
  if (!net) return net.error();
  r.network = *net;
  bool have_protocol = false, have_listener = false;
  for (size_t i = 2; i < w.size(); ++i) {
    std::string_view opt = w[i];
    if (opt.rfind("protocol=", 0) == 0 && !have_protocol) {
      std::string_view p = opt.substr(9);
      if (p != "imap" && p != "pop3" && p != "lmtp")
        return bad("protocol must be imap, pop3 or lmtp (got \"" + std::string(p) + "\")");
      r.protocol = std::string(p);
      have_protocol = true;
    } else if (opt.rfind("listener=", 0) == 0 && !have_listener) {
      std::string_view l = opt.substr(9);
      if (!validListenerName(l))
        return bad("listener name must be 1-64 of A-Z a-z 0-9 _ . - (got \"" + std::string(l) + "\")");
      r.listener = std::string(l);
      have_listener = true;
    } else {
      return bad("unexpected \"" + std::string(opt) + "\" (options: protocol=P listener=NAME, once each)");
    }
  }
  return r;
}

std::string AccessRule::toString() const {
  std::string s = action == AccessAction::kAllow ? "allow " : "deny ";
  s += network.toString();
  if (!protocol.empty()) s += " protocol=" + protocol;
  if (!listener.empty()) s += " listener=" + listener;
  return s;
}

bool AccessRule::appliesTo(std::string_view p, std::string_view l) const {
  return (protocol.empty() || protocol == p) && (listener.empty() || listener == l);
}

// --- AccessList -----------------------------------------------------------

Error AccessList::add(const AccessRule& rule) {
  for (const auto& r : rules_)
    if (r == rule) return Error{ErrorCode::kExists, "rule already present: " + rule.toString()};
  rules_.push_back(rule);
  return Error::none();
}

Error AccessList::add(std::string_view rule_text) {
  auto r = AccessRule::parse(rule_text);
  if (!r) return r.error();
  return add(*r);
}

Error AccessList::remove(std::string_view rule_text) {
  auto r = AccessRule::parse(rule_text);
  if (!r) return r.error();
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if (*it == *r) {
      rules_.erase(it);
      return Error::none();
    }
  }
  return Error{ErrorCode::kNotFound, "no such rule: " + r->toString()};
}

AccessDecision AccessList::decide(const IpAddress& ip, std::string_view protocol,
                                  std::string_view listener) const {
  AccessDecision d;
  const AccessRule* allow_match = nullptr;
  bool any_allow = false;
  for (const auto& r : rules_) {
    if (!r.appliesTo(protocol, listener)) continue;
    if (r.action == AccessAction::kDeny) {
      if (r.network.contains(ip)) {
        d.allowed = false;
        d.rule = r;
        d.reason = "denied by rule \"" + r.toString() + "\"";
        return d;
      }
    } else {
      any_allow = true;
      if (!allow_match && r.network.contains(ip)) allow_match = &r;
    }
  }
  if (allow_match) {
    d.rule = *allow_match;
    d.reason = "allowed by rule \"" + allow_match->toString() + "\"";
  } else if (any_allow) {
    d.allowed = false;
    d.reason = "denied: not in any allow rule for " + std::string(protocol) + " on listener " +
               std::string(listener);
  } else {
    d.reason = "allowed: no rules apply";
  }
  return d;
}

AccessDecision AccessList::decide(std::string_view ip, std::string_view protocol,
                                  std::string_view listener) const {
  auto a = IpAddress::parse(ip);
  if (!a) return AccessDecision{false, std::nullopt, "denied: " + a.error().message};
  return decide(*a, protocol, listener);
}

std::string AccessList::serialise() const {
  std::string out;
  for (const auto& r : rules_) out += r.toString() + "\n";
  return out;
}

Result<AccessList> AccessList::parse(std::string_view text) {
  AccessList list;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (words(line).empty() || line.find_first_not_of(" \t") == line.find('#')) continue;
    Error e = list.add(line);
    if (!e.ok()) return Error{e.code, "line " + std::to_string(line_no) + ": " + e.message};
  }
  return list;
}

}  // namespace postern::master
