#pragma once
// The appliance configuration: one file of `key = value` lines (POCO
// PropertyFileConfiguration syntax, '#' comments). Every key is declared in
// config.cc's table with its default, valid range and documentation;
// docs/config.md describes the same keys. Unknown keys and bad values are
// refused with "file:line: reason".
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"

namespace postern {

struct ListenAddr {
  std::string host;  // numeric IPv4 or IPv6, no brackets
  uint16_t port = 0;
  std::string str() const;
};

// A named listener ("virtual server") from `listener.<name>.<field>` keys:
// its own address, protocol, limits and access rules.
struct ListenerConfig {
  std::string name;      // [a-z0-9_-], 1-32 chars
  std::string protocol;  // imap, pop3, lmtp
  ListenAddr addr;
  uint32_t max_connections = 0;           // 0 = no listener cap
  uint32_t max_connections_per_ip = 0;    // 0 = the protocol's / server-wide limit
  uint32_t max_connections_per_user = 0;  // 0 = the protocol's / server-wide limit
  std::vector<std::string> allow, deny;   // CIDRs, scoped to this listener
  // starttls: plaintext, STARTTLS/STLS offered; implicit: TLS from the
  // first byte; off: plaintext, no TLS offered (behind a TLS proxy).
  std::string tls = "starttls";
};

struct Config {
  std::string source = "<built-in defaults>";  // the file it came from

  std::string hostname;          // for greetings; empty = gethostname()
  std::string data_dir = "var";
  std::string run_dir;           // empty = <data_dir>/run
  std::string admin_socket;      // empty = <run_dir>/admin.sock
  bool demo_user = true;

  std::string store_transport = "unix";  // unix | tcp
  std::string store_socket;              // empty = <run_dir>/stored.sock
  std::string store_address = "127.0.0.1:1790";
  uint64_t store_map_size_mb = 16384;
  uint32_t store_batch_max = 512;
  uint32_t store_list_cache_mb = 64;  // stored/list_cache.h; 0 = off
  uint64_t store_write_ahead_mb = 32;  // stored/write_ahead.h; 0 = off

  std::vector<ListenAddr> imap_listen{{"127.0.0.1", 1143}};
  std::vector<ListenAddr> pop3_listen{{"127.0.0.1", 1110}};
  std::vector<ListenAddr> lmtp_listen{{"127.0.0.1", 2424}};
  std::vector<ListenAddr> imaps_listen{{"127.0.0.1", 1993}};  // implicit TLS (RFC 8314)
  std::vector<ListenAddr> pop3s_listen{{"127.0.0.1", 1995}};
  uint32_t imap_workers = 0;  // 0 = one per core
  uint32_t pop3_workers = 0;
  uint32_t lmtp_workers = 0;
  uint32_t imap_max_line = 65536;
  uint32_t imap_timeout_s = 1800;
  uint32_t pop3_timeout_s = 600;
  bool pop3_mark_seen = true;
  uint32_t pop3_login_delay_s = 0;  // RFC 2449 LOGIN-DELAY: least seconds between a user's POP3 logins  // RETR'd messages get \Seen (for IMAP) at QUIT
  // RFC 2449 EXPIRE: days a message stays after its first POP3 RETR; -1 = NEVER,
  // 0 = retrieved messages are removed at QUIT.
  int32_t pop3_expire_days = -1;
  uint32_t lmtp_timeout_s = 300;
  uint64_t message_size_limit = 50ull << 20;
  std::vector<std::string> lmtp_domains;  // empty = accept any domain

  std::string log_target = "stderr";  // stderr | syslog | file
  std::string log_file = "/var/log/postern/postern.log";
  uint64_t log_file_max_size = 104857600;
  uint32_t log_file_keep = 7;
  std::string log_level = "info";
  uint32_t shutdown_grace_ms = 5000;
  uint32_t restart_backoff_initial_ms = 100;
  uint32_t restart_backoff_max_ms = 30000;
  uint32_t restart_healthy_s = 60;

  // Governance (held in the master). 0 in a per-protocol override = inherit.
  struct Limits {
    uint32_t max_connections = 0;
    uint32_t max_connections_per_ip = 0;
    uint32_t max_connections_per_user = 0;
  };
  Limits limits{2000, 20, 10};
  Limits imap_limits, pop3_limits, lmtp_limits;
  // IMAP + POP3 connections from one address that have not logged in yet
  // (LMTP never logs in and is not counted); 0 = no limit. trusted_networks
  // are exempt.
  uint32_t max_preauth_per_ip = 10;
  std::vector<std::string> trusted_networks{"127.0.0.1/32", "::1/128"};
  std::string licence_file;                  // empty = <data_dir>/licence
  std::vector<std::string> licence_public_keys;  // PEM files or base64 raw keys
  std::vector<std::string> access_allow;     // CIDRs; empty = everyone not denied
  std::vector<std::string> access_deny;
  bool access_dns = false;                  // domain rules via forward-confirmed reverse DNS
  std::vector<std::string> access_allow_domains;
  std::vector<std::string> access_deny_domains;

  std::vector<ListenerConfig> listeners;

  // TLS (common/tls.h). Empty cert/key = the self-signed pair the master
  // generates under <data_dir>/tls.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_min_version = "1.2";  // 1.2 | 1.3
  // false: LOGIN / AUTHENTICATE PLAIN / USER / AUTH only over TLS or from
  // trusted_networks; true: everywhere.
  bool auth_allow_plaintext = false;
  // Seconds a connection may stay without logging in (POP3).
  uint32_t auth_preauth_timeout_s = 60;
  // Brute-force penalty (master/penalty.h): delays grow 2 s .. 15 s per
  // failure; the max_failures-th in a row blocks the address.
  uint32_t auth_penalty_max_failures = 10;  // 0 = never block
  uint32_t auth_penalty_block_time_s = 900;
  uint32_t auth_penalty_window_s = 900;
  // stored's verified-credential cache (stored/auth_cache.h); 0 = off.
  uint32_t auth_cache_ttl_s = 300;

  // Privileges, used when the master starts as root (docs/architecture.md):
  // stored runs as user:group, the protocol workers as worker_user:group.
  // Empty user = no switching (development only).
  std::string user = "postern";
  std::string group = "postern";
  std::string worker_user = "postern-worker";
  std::string admin_group;  // may use the admin socket besides root and the server's user

  // The limits for one protocol ("imap", "pop3", "lmtp"), overrides applied.
  Limits limitsFor(const std::string& protocol) const;

  // Derived paths (absolute when data_dir is).
  std::string runDir() const;
  std::string adminSocket() const;
  std::string storeTarget() const;  // gRPC target, e.g. "unix:/x/stored.sock"
};

// Loads `path`; an empty path yields the built-in defaults. Never throws.
Result<Config> loadConfig(const std::string& path);

// Parses config text (for tests); `name` is used in error messages.
Result<Config> parseConfig(const std::string& text, const std::string& name);

// Sets one key on `cfg` with the same validation as the file parser
// (used for live `posternctl limits set`). `where` prefixes the error.
Error applyConfigValue(Config& cfg, const std::string& key, const std::string& value,
                       const std::string& where = "");

// Markdown table of every key, default, range and meaning.
std::string configReference();

// Number of workers for a configured count (0 = one per core, at least 1).
uint32_t workerCount(uint32_t configured);

// Sets up logging for this process from log.target / log.level / log.file*;
// uid/gid own new log files (-1: leave). A log file that cannot be opened is
// reported on stderr and logging stays on stderr.
void initLogging(const Config& cfg, std::string_view process, int uid = -1, int gid = -1);

}  // namespace postern
