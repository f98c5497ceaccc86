#pragma once
// The master's admission decisions: access rules, the global, per-protocol,
// per-IP and per-user connection limits, and the live limit overrides set
// with `posternctl limits set`. Pure logic over the ConnTable: the master
// is single-threaded, so a decision and the count it rests on can never
// race, and a limit is never exceeded, not even by one.
//
// Counting rules (docs/config.md):
// - limits.max_connections counts every connection of every protocol,
//   logged in or not; <proto>.max_connections, when set, also caps that
//   protocol's connections.
// - per-IP and per-user limits count within one protocol; <proto>.* overrides
//   the server-wide value for that protocol. trusted_networks are exempt from
//   the per-IP limit.
// - limits.max_preauth_per_ip counts the IMAP and POP3 connections of one
//   address that have not logged in yet (accepted, no kLoginRequest
//   admitted), both protocols together; a login frees the slot. LMTP never
//   logs in (the MTA delivers without authenticating) and is neither counted
//   nor refused by it. trusted_networks are exempt; 0 = no limit.
// - A named listener (listener.<name>.*) may cap its own connections and
//   override the per-IP / per-user limits; its overrides count within that
//   listener. Its allow/deny lists are access rules scoped to it.
// - Lowering a limit never drops sessions; new ones are refused until the
//   count is under it.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "access.h"
#include "config.h"
#include "conn_table.h"

namespace postern::master {

struct Refusal {
  enum Kind { kAccess, kMaxConnections, kPerIp, kPreauthPerIp, kPerUser, kSeats };
  Kind kind = kMaxConnections;
  std::string counter;  // "refused.per_ip", shown by posternctl status
  std::string reason;   // for the client and the log
  std::string detail;   // for the log only: the rule that decided
};

class Admission {
 public:
  explicit Admission(const ConnTable& conns) : conns_(conns) {}

  // Takes limits, trusted networks and the config's access lists from
  // `cfg` (overrides are re-applied). Returns an error naming the bad entry;
  // on error nothing changes.
  Error configure(const Config& cfg);

  // Live limit overrides. Keys: limits.max_connections[_per_ip|_per_user],
  // limits.max_preauth_per_ip, <proto>.max_connections[_per_ip|_per_user],
  // trusted_networks.
  static bool isLiveKey(const std::string& key);
  Error setOverride(const std::string& key, const std::string& value);
  Error resetOverride(const std::string& key);  // "all" resets every one
  const std::map<std::string, std::string>& overrides() const { return overrides_; }
  // "key = value" lines, for persistence; parseOverrides() reads them back.
  std::string serialiseOverrides() const;
  Error loadOverrides(const std::string& text);

  // Live access rules (persisted by the master in <data_dir>/access.rules):
  // "allow|deny CIDR [protocol=P] [listener=L]".
  Error addRule(const std::string& rule);
  Error removeRule(const std::string& rule);
  Error loadRules(const std::string& text);
  const AccessList& liveAccess() const { return live_access_; }
  const AccessList& configAccess() const { return config_access_; }

  std::optional<Refusal> admitConnection(const std::string& protocol, const std::string& listener,
                                         const std::string& peer) const;
  std::optional<Refusal> admitLogin(const ConnInfo& conn, const std::string& user) const;
  // Domain rules (access.dns): whether a connection must wait for its
  // forward-confirmed reverse DNS name, and the decision once known
  // (`confirmed_name` empty when the address has no confirmed name).
  bool needsDns() const;
  std::optional<Refusal> admitDomain(const std::string& confirmed_name) const;
  // "mail.example.com" is in "example.com" and in "mail.example.com".
  static bool inDomain(const std::string& name, const std::string& domain);

  const Config& effective() const { return effective_; }

 private:
  Error rebuild();
  const ListenerConfig* listenerConfig(const std::string& name) const;
  void merge();

  const ConnTable& conns_;
  Config base_;
  Config effective_;
  NetworkSet trusted_ = NetworkSet::defaultTrusted();
  AccessList config_access_;
  AccessList live_access_;
  AccessList merged_;  // config + live rules: what decide() uses
  std::map<std::string, std::string> overrides_;
};

}  // namespace postern::master
