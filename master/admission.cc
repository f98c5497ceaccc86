#include "admission.h"

#include <sstream>

namespace postern::master {

bool Admission::isLiveKey(const std::string& key) {
  if (key == "trusted_networks" || key == "limits.max_preauth_per_ip") return true;
  for (const char* scope : {"limits.", "imap.", "pop3.", "lmtp."})
    for (const char* k : {"max_connections", "max_connections_per_ip", "max_connections_per_user"})
      if (key == std::string(scope) + k) return true;
  return false;
}

Error Admission::rebuild() {
  Config next = base_;
  for (const auto& [k, v] : overrides_) {
    Error e = applyConfigValue(next, k, v);
    if (!e.ok()) return e;
  }
  auto trusted = NetworkSet::parse(next.trusted_networks);
  if (!trusted.ok()) return Error{ErrorCode::kBadArgs, "trusted_networks: " + trusted.error().message};
  AccessList acl;
  for (const auto& c : next.access_deny) {
    Error e = acl.add("deny " + c);
    if (!e.ok()) return Error{ErrorCode::kBadArgs, "access.deny: " + e.message};
  }
  for (const auto& c : next.access_allow) {
    Error e = acl.add("allow " + c);
    if (!e.ok()) return Error{ErrorCode::kBadArgs, "access.allow: " + e.message};
  }
  for (const auto& l : next.listeners) {
    for (const auto& c : l.deny) {
      Error e = acl.add("deny " + c + " listener=" + l.name);
      if (!e.ok() && e.code != ErrorCode::kExists)
        return Error{ErrorCode::kBadArgs, "listener." + l.name + ".deny: " + e.message};
    }
    for (const auto& c : l.allow) {
      Error e = acl.add("allow " + c + " listener=" + l.name);
      if (!e.ok() && e.code != ErrorCode::kExists)
        return Error{ErrorCode::kBadArgs, "listener." + l.name + ".allow: " + e.message};
    }
  }
  effective_ = std::move(next);
  trusted_ = std::move(trusted.value());
  config_access_ = std::move(acl);
  merge();
  return Error::none();
}

void Admission::merge() {
  merged_ = config_access_;
  for (const auto& r : live_access_.rules()) merged_.add(r);  // a duplicate is already there
}

Error Admission::addRule(const std::string& rule) {
  Error e = live_access_.add(rule);
  if (e.ok()) merge();
  return e;
}

Error Admission::removeRule(const std::string& rule) {
  Error e = live_access_.remove(rule);
  if (e.ok()) merge();
  return e;
}

Error Admission::loadRules(const std::string& text) {
  auto l = AccessList::parse(text);
  if (!l.ok()) return l.error();
  live_access_ = std::move(l.value());
  merge();
  return Error::none();
}

Error Admission::configure(const Config& cfg) {
  Config old = base_;
  base_ = cfg;
  Error e = rebuild();
  if (!e.ok()) base_ = old;
  return e;
}

Error Admission::setOverride(const std::string& key, const std::string& value) {
  if (!isLiveKey(key)) return Error{ErrorCode::kBadArgs, "'" + key + "' cannot be changed live"};
  auto old = overrides_;
  overrides_[key] = value;
  Error e = rebuild();
  if (!e.ok()) overrides_ = std::move(old);
  return e;
}

Error Admission::resetOverride(const std::string& key) {
  if (key == "all") {
    overrides_.clear();
  } else if (overrides_.erase(key) == 0) {
    return Error{ErrorCode::kNotFound, "no live override for '" + key + "'"};
  }
  return rebuild();
}

std::string Admission::serialiseOverrides() const {
  std::string out = "# Live limit overrides (posternctl limits set); they win over the config file.\n";
  for (const auto& [k, v] : overrides_) out += k + " = " + v + "\n";
  return out;
}

Error Admission::loadOverrides(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto old = overrides_;
  overrides_.clear();
  while (std::getline(in, line)) {
    ++n;
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    size_t eq = line.find('=');
    auto trim = [](std::string s) {
      size_t x = s.find_first_not_of(" \t\r"), y = s.find_last_not_of(" \t\r");
      return x == std::string::npos ? std::string() : s.substr(x, y - x + 1);
    };
    if (eq == std::string::npos) {
      overrides_ = old;
      return Error{ErrorCode::kCorrupt, "line " + std::to_string(n) + ": expected key = value"};
    }
    std::string k = trim(line.substr(0, eq));
    if (!isLiveKey(k)) {
      overrides_ = old;
      return Error{ErrorCode::kCorrupt, "line " + std::to_string(n) + ": '" + k + "' is not a live key"};
    }
    overrides_[k] = trim(line.substr(eq + 1));
  }
  Error e = rebuild();
  if (!e.ok()) overrides_ = std::move(old);
  return e;
}

const ListenerConfig* Admission::listenerConfig(const std::string& name) const {
  for (const auto& l : effective_.listeners)
    if (l.name == name) return &l;
  return nullptr;
}

std::optional<Refusal> Admission::admitConnection(const std::string& protocol, const std::string& listener,
                                                  const std::string& peer) const {
  auto deny = [](Refusal::Kind k, const char* counter, std::string reason) {
    return Refusal{k, counter, std::move(reason), ""};
  };
  if (!merged_.empty()) {
    auto d = merged_.decide(peer, protocol, listener);
    if (!d.allowed) {
      Refusal r = deny(Refusal::kAccess, "refused.access", "Access denied for your address");
      r.detail = d.reason;
      return r;
    }
  }

  Config::Limits lim = effective_.limitsFor(protocol);
  if (conns_.total() >= effective_.limits.max_connections)
    return deny(Refusal::kMaxConnections, "refused.max_connections",
                "Server connection limit reached (" + std::to_string(effective_.limits.max_connections) +
                    "), try again later");
  const Config::Limits& own = protocol == "imap" ? effective_.imap_limits
                              : protocol == "pop3" ? effective_.pop3_limits : effective_.lmtp_limits;
  if (own.max_connections && conns_.byProtocol(protocol) >= own.max_connections)
    return deny(Refusal::kMaxConnections, "refused.max_connections",
                "Connection limit reached (" + std::to_string(own.max_connections) + "), try again later");
  const ListenerConfig* lc = listenerConfig(listener);
  if (lc && lc->max_connections && conns_.byListener(listener) >= lc->max_connections)
    return deny(Refusal::kMaxConnections, "refused.max_connections",
                "Connection limit of this service reached (" + std::to_string(lc->max_connections) +
                    "), try again later");
  if (trusted_.contains(peer)) return std::nullopt;  // exempt from every per-address limit
  if (lc && lc->max_connections_per_ip) {
    if (conns_.byPeerOnListener(peer, listener) >= lc->max_connections_per_ip)
      return deny(Refusal::kPerIp, "refused.per_ip",
                  "Too many connections from your address (limit " + std::to_string(lc->max_connections_per_ip) + ")");
  } else if (conns_.byPeer(peer, protocol) >= lim.max_connections_per_ip) {
    return deny(Refusal::kPerIp, "refused.per_ip",
                "Too many connections from your address (limit " + std::to_string(lim.max_connections_per_ip) +
                    ")");
  }
  // Connections not logged in yet, IMAP and POP3 together: what a client
  // that opens sessions and never authenticates would hoard. The new
  // connection is itself not logged in, hence >=.
  uint32_t preauth = effective_.max_preauth_per_ip;
  if (preauth && protocol != "lmtp" &&
      conns_.preauthByPeer(peer, "imap") + conns_.preauthByPeer(peer, "pop3") >= preauth)
    return deny(Refusal::kPreauthPerIp, "refused.preauth_per_ip",
                "Too many connections from your address that have not logged in (limit " +
                    std::to_string(preauth) + ")");
  return std::nullopt;
}

bool Admission::needsDns() const {
  return effective_.access_dns &&
         (!effective_.access_allow_domains.empty() || !effective_.access_deny_domains.empty());
}

bool Admission::inDomain(const std::string& name, const std::string& domain) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    while (!s.empty() && s.back() == '.') s.pop_back();
    if (!s.empty() && s.front() == '.') s.erase(0, 1);
    return s;
  };
  std::string n = lower(name), d = lower(domain);
  if (n.empty() || d.empty()) return false;
  return n == d || (n.size() > d.size() && n.compare(n.size() - d.size(), d.size(), d) == 0 &&
                    n[n.size() - d.size() - 1] == '.');
}

std::optional<Refusal> Admission::admitDomain(const std::string& confirmed_name) const {
  for (const auto& d : effective_.access_deny_domains)
    if (inDomain(confirmed_name, d)) return Refusal{Refusal::kAccess, "refused.access", "Access denied for your host", "domain rule"};
  if (!effective_.access_allow_domains.empty()) {
    for (const auto& d : effective_.access_allow_domains)
      if (inDomain(confirmed_name, d)) return std::nullopt;
    return Refusal{Refusal::kAccess, "refused.access", "Access denied for your host", "domain rule"};
  }
  return std::nullopt;
}

std::optional<Refusal> Admission::admitLogin(const ConnInfo& conn, const std::string& user) const {
  Config::Limits lim = effective_.limitsFor(conn.protocol);
  size_t have = conns_.byUser(user, conn.protocol);
  if (const ListenerConfig* lc = listenerConfig(conn.listener); lc && lc->max_connections_per_user) {
    lim.max_connections_per_user = lc->max_connections_per_user;
    have = conns_.byUserOnListener(user, conn.listener);
  }
  if (conn.user == user && have > 0) --have;  // re-login of the same connection
  if (have >= lim.max_connections_per_user)
    return Refusal{Refusal::kPerUser, "refused.per_user",
                   "Too many sessions for this user (limit " + std::to_string(lim.max_connections_per_user) + ")", ""};
  return std::nullopt;
}

}  // namespace postern::master
