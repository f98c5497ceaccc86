#include "config.h"

#include "log.h"

#include <unistd.h>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

namespace postern {
namespace {

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> splitList(const std::string& v) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : v) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Returns an empty string on success, else the reason.
using Setter = std::function<std::string(Config&, const std::string&)>;

struct KeyDef {
  const char* key;
  const char* def;    // default as written in the file
  const char* range;  // human-readable valid range
  const char* doc;
  Setter set;
};

Setter uintKey(uint64_t lo, uint64_t hi, std::function<void(Config&, uint64_t)> f) {
  return [lo, hi, f](Config& c, const std::string& v) -> std::string {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty())
      return "'" + v + "' is not a whole number";
    if (n < lo || n > hi)
      return "value " + v + " is out of range " + std::to_string(lo) + "-" + std::to_string(hi);
    f(c, n);
    return "";
  };
}

Setter boolKey(std::function<void(Config&, bool)> f) {
  return [f](Config& c, const std::string& v) -> std::string {
    if (v == "true" || v == "yes" || v == "on" || v == "1") f(c, true);
    else if (v == "false" || v == "no" || v == "off" || v == "0") f(c, false);
    else return "'" + v + "' is not a boolean (true/false)";
    return "";
  };
}

Setter strKey(std::function<void(Config&, const std::string&)> f, bool allow_empty = true) {
  return [f, allow_empty](Config& c, const std::string& v) -> std::string {
    if (!allow_empty && v.empty()) return "a value is required";
    if (v.find('\0') != std::string::npos) return "value contains NUL";
    f(c, v);
    return "";
  };
}

Setter enumKey(std::vector<std::string> allowed, std::function<void(Config&, const std::string&)> f) {
  return [allowed, f](Config& c, const std::string& v) -> std::string {
    for (const auto& a : allowed)
      if (a == v) {
        f(c, v);
        return "";
      }
    std::string all;
    for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
    return "'" + v + "' is not one of: " + all;
  };
}

std::string parseListen(const std::string& item, ListenAddr* out) {
  std::string host, port;
  if (!item.empty() && item[0] == '[') {
    size_t e = item.find(']');
    if (e == std::string::npos || e + 1 >= item.size() || item[e + 1] != ':')
      return "'" + item + "' is not [IPv6]:port";
    host = item.substr(1, e - 1);
    port = item.substr(e + 2);
  } else {
    size_t c = item.rfind(':');
    if (c == std::string::npos) return "'" + item + "' is not host:port";
    host = item.substr(0, c);
    port = item.substr(c + 1);
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || port.empty() || p > 65535)
    return "'" + item + "': port must be 0-65535";
  if (host.empty()) return "'" + item + "': missing address";
  out->host = host;
  out->port = static_cast<uint16_t>(p);
  return "";
}

Setter listenKey(std::function<void(Config&, std::vector<ListenAddr>)> f) {
  return [f](Config& c, const std::string& v) -> std::string {
    std::vector<ListenAddr> addrs;
    for (const auto& item : splitList(v)) {
      ListenAddr a;
      std::string err = parseListen(item, &a);
      if (!err.empty()) return err;
      addrs.push_back(a);
    }
    f(c, std::move(addrs));
    return "";
  };
}

const std::vector<KeyDef>& keyTable() {
  static const std::vector<KeyDef> table = {
      {"hostname", "(system host name)", "text", "Name used in greetings.",
       strKey([](Config& c, const std::string& v) { c.hostname = v; })},
      {"data_dir", "var", "path", "Directory for the mail store (LMDB) and run/.",
       strKey([](Config& c, const std::string& v) { c.data_dir = v; }, false)},
      {"run_dir", "<data_dir>/run", "path", "Directory for sockets and the ports file.",
       strKey([](Config& c, const std::string& v) { c.run_dir = v; })},
      {"admin_socket", "<run_dir>/admin.sock", "path", "Unix socket of the admin gRPC API.",
       strKey([](Config& c, const std::string& v) { c.admin_socket = v; })},
      {"demo_user", "true", "true/false", "Create user demo (password demo) when the store is new.",
       boolKey([](Config& c, bool v) { c.demo_user = v; })},
      {"store.transport", "unix", "unix, tcp", "How workers reach stored.",
       enumKey({"unix", "tcp"}, [](Config& c, const std::string& v) { c.store_transport = v; })},
      {"store.socket", "<run_dir>/stored.sock", "path", "stored's Unix socket (transport unix).",
       strKey([](Config& c, const std::string& v) { c.store_socket = v; })},
      {"store.address", "127.0.0.1:1790", "host:port", "stored's TCP address (transport tcp).",
       strKey([](Config& c, const std::string& v) { c.store_address = v; }, false)},
      {"store.map_size_mb", "16384", "64-4194304", "LMDB map size: the largest the store may grow.",
       uintKey(64, 4194304, [](Config& c, uint64_t v) { c.store_map_size_mb = v; })},
      {"store.batch_max", "512", "1-100000", "Most writes grouped into one LMDB commit.",
       uintKey(1, 100000, [](Config& c, uint64_t v) { c.store_batch_max = static_cast<uint32_t>(v); })},
      {"store.list_cache_mb", "64", "0-65536",
       "Memory stored keeps for the message lists of mailboxes of 1,024 messages or more (about 48 bytes "
       "a message), so SELECT of a mailbox unchanged since it was last read skips reading every message "
       "record; least recently used first out. 0 = off. Needs a restart.",
       uintKey(0, 65536, [](Config& c, uint64_t v) { c.store_list_cache_mb = static_cast<uint32_t>(v); })},
      {"store.write_ahead_mb", "32", "0-4096",
       "How far stored keeps its file written (with zeros) past the end the store uses, while no write "
       "is waiting, so that a commit overwrites blocks instead of growing the file (a growing file costs "
       "each commit one more synchronous disk write). The disk space is taken in advance, but never the "
       "last 4 x this much of the file system. 0 = off. "
       "Needs a restart.",
       uintKey(0, 4096, [](Config& c, uint64_t v) { c.store_write_ahead_mb = v; })},
      {"imap.listen", "127.0.0.1:1143", "list of host:port", "IMAP listeners; empty disables IMAP.",
       listenKey([](Config& c, std::vector<ListenAddr> v) { c.imap_listen = std::move(v); })},
      {"pop3.listen", "127.0.0.1:1110", "list of host:port", "POP3 listeners; empty disables POP3.",
       listenKey([](Config& c, std::vector<ListenAddr> v) { c.pop3_listen = std::move(v); })},
      {"lmtp.listen", "127.0.0.1:2424", "list of host:port", "LMTP listeners; empty disables LMTP.",
       listenKey([](Config& c, std::vector<ListenAddr> v) { c.lmtp_listen = std::move(v); })},
      {"imaps.listen", "127.0.0.1:1993", "list of host:port",
       "IMAP listeners with implicit TLS (RFC 8314; installed: 993); empty disables them.",
       listenKey([](Config& c, std::vector<ListenAddr> v) { c.imaps_listen = std::move(v); })},
      {"pop3s.listen", "127.0.0.1:1995", "list of host:port",
       "POP3 listeners with implicit TLS (RFC 8314; installed: 995); empty disables them.",
       listenKey([](Config& c, std::vector<ListenAddr> v) { c.pop3s_listen = std::move(v); })},
      {"imap.workers", "0", "0-64", "imapd processes; 0 = one per core.",
       uintKey(0, 64, [](Config& c, uint64_t v) { c.imap_workers = static_cast<uint32_t>(v); })},
      {"pop3.workers", "0", "0-64", "pop3d processes; 0 = one per core.",
       uintKey(0, 64, [](Config& c, uint64_t v) { c.pop3_workers = static_cast<uint32_t>(v); })},
      {"lmtp.workers", "0", "0-64", "lmtpd processes; 0 = one per core.",
       uintKey(0, 64, [](Config& c, uint64_t v) { c.lmtp_workers = static_cast<uint32_t>(v); })},
      {"imap.max_line_length", "65536", "1024-1048576", "Longest IMAP command line (octets, literals excluded).",
       uintKey(1024, 1048576, [](Config& c, uint64_t v) { c.imap_max_line = static_cast<uint32_t>(v); })},
      {"imap.timeout", "1800", "1800-86400",
       "Seconds a logged-in IMAP session may stay without sending anything (RFC 3501 5.4: at least 30 minutes; "
       "an IDLE client re-issues IDLE within it).",
       uintKey(1800, 86400, [](Config& c, uint64_t v) { c.imap_timeout_s = static_cast<uint32_t>(v); })},
      {"pop3.timeout", "600", "600-86400",
       "Seconds a logged-in POP3 session may stay idle (RFC 1939 autologout: at least 10 minutes).",
       uintKey(600, 86400, [](Config& c, uint64_t v) { c.pop3_timeout_s = static_cast<uint32_t>(v); })},
      {"pop3.mark_seen", "true", "true/false",
       "Mark messages retrieved with RETR as \\Seen (visible to IMAP) when the POP3 session QUITs.",
       boolKey([](Config& c, bool v) { c.pop3_mark_seen = v; })},
      {"pop3.login_delay", "0", "0-86400",
       "Least seconds between two POP3 logins of one user (RFC 2449 LOGIN-DELAY, advertised in CAPA).",
       uintKey(0, 86400, [](Config& c, uint64_t v) { c.pop3_login_delay_s = static_cast<uint32_t>(v); })},
      {"pop3.expire", "never", "never, 0-36500",
       "RFC 2449 EXPIRE: days a message stays after POP3 first retrieved it (RETR), then it is removed at the "
       "user's next POP3 login; 0 = retrieved messages are removed at QUIT; never = kept. Advertised in CAPA.",
       [](Config& c, const std::string& v) -> std::string {
         if (v == "never" || v == "NEVER") {
           c.pop3_expire_days = -1;
           return "";
         }
         return uintKey(0, 36500, [](Config& c2, uint64_t n) { c2.pop3_expire_days = static_cast<int32_t>(n); })(c, v);
       }},
      {"lmtp.timeout", "300", "10-86400", "Seconds an idle LMTP session may stay.",
       uintKey(10, 86400, [](Config& c, uint64_t v) { c.lmtp_timeout_s = static_cast<uint32_t>(v); })},
      {"message_size_limit", "52428800", "1024-1073741824", "Largest message (octets) LMTP or APPEND accepts.",
       uintKey(1024, 1ull << 30, [](Config& c, uint64_t v) { c.message_size_limit = v; })},
      {"lmtp.accepted_domains", "(empty: any)", "list of domains",
       "Domains whose recipients are local; name@other is refused with 550.",
       strKey([](Config& c, const std::string& v) {
         c.lmtp_domains.clear();
         for (auto& d : splitList(v)) {
           std::string l;
           for (char ch : d) l += static_cast<char>(tolower(static_cast<unsigned char>(ch)));
           c.lmtp_domains.push_back(l);
         }
       })},
      {"log.target", "stderr", "stderr, syslog, file", "Where log lines go (file: log.file).",
       enumKey({"stderr", "syslog", "file"}, [](Config& c, const std::string& v) { c.log_target = v; })},
      {"log.file", "/var/log/postern/postern.log", "path",
       "Log file of every process (log.target = file); reopened when moved away (logrotate).",
       strKey([](Config& c, const std::string& v) { c.log_file = v; }, false)},
      {"log.file_max_size", "104857600", "0-1099511627776",
       "Octets after which the log file is rotated (0: never; leave rotation to logrotate).",
       uintKey(0, 1ull << 40, [](Config& c, uint64_t v) { c.log_file_max_size = v; })},
      {"log.file_keep", "7", "0-1000", "Rotated log files kept (postern.log.1 is the newest).",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.log_file_keep = static_cast<uint32_t>(v); })},
      {"log.level", "info", "debug, info, warn, error", "Least severe level logged.",
       enumKey({"debug", "info", "warn", "error"}, [](Config& c, const std::string& v) { c.log_level = v; })},
      {"shutdown_grace_ms", "5000", "0-60000", "How long SIGTERM waits for sessions to close.",
       uintKey(0, 60000, [](Config& c, uint64_t v) { c.shutdown_grace_ms = static_cast<uint32_t>(v); })},
      {"restart.backoff_initial_ms", "100", "10-60000", "First delay before restarting a crashed process.",
       uintKey(10, 60000, [](Config& c, uint64_t v) { c.restart_backoff_initial_ms = static_cast<uint32_t>(v); })},
      {"restart.backoff_max_ms", "30000", "10-600000", "Longest delay between restarts (doubling).",
       uintKey(10, 600000, [](Config& c, uint64_t v) { c.restart_backoff_max_ms = static_cast<uint32_t>(v); })},
      {"restart.healthy_seconds", "60", "1-86400", "Uptime after which the backoff resets.",
       uintKey(1, 86400, [](Config& c, uint64_t v) { c.restart_healthy_s = static_cast<uint32_t>(v); })},
      {"limits.max_connections", "2000", "1-25000",
       "Connections the server accepts in all, logged in or not (all protocols).",
       uintKey(1, 25000, [](Config& c, uint64_t v) { c.limits.max_connections = static_cast<uint32_t>(v); })},
      {"limits.max_connections_per_ip", "20", "1-1000",
       "Connections from one client address (trusted_networks are exempt).",
       uintKey(1, 1000, [](Config& c, uint64_t v) { c.limits.max_connections_per_ip = static_cast<uint32_t>(v); })},
      {"limits.max_connections_per_user", "10", "1-1000", "Logged-in sessions of one user.",
       uintKey(1, 1000, [](Config& c, uint64_t v) { c.limits.max_connections_per_user = static_cast<uint32_t>(v); })},
      {"limits.max_preauth_per_ip", "10", "0-1000",
       "IMAP and POP3 connections from one client address that have not logged in yet (LMTP is not counted); "
       "0 = no limit. trusted_networks are exempt.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.max_preauth_per_ip = static_cast<uint32_t>(v); })},
      {"imap.max_connections", "0", "0-25000", "IMAP connections; 0 = the server-wide limit.",
       uintKey(0, 25000, [](Config& c, uint64_t v) { c.imap_limits.max_connections = static_cast<uint32_t>(v); })},
      {"imap.max_connections_per_ip", "0", "0-1000", "IMAP connections per client address; 0 = the server-wide limit.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.imap_limits.max_connections_per_ip = static_cast<uint32_t>(v); })},
      {"imap.max_connections_per_user", "0", "0-1000", "IMAP sessions per user; 0 = the server-wide limit.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.imap_limits.max_connections_per_user = static_cast<uint32_t>(v); })},
      {"pop3.max_connections", "0", "0-25000", "POP3 connections; 0 = the server-wide limit.",
       uintKey(0, 25000, [](Config& c, uint64_t v) { c.pop3_limits.max_connections = static_cast<uint32_t>(v); })},
      {"pop3.max_connections_per_ip", "0", "0-1000", "POP3 connections per client address; 0 = the server-wide limit.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.pop3_limits.max_connections_per_ip = static_cast<uint32_t>(v); })},
      {"pop3.max_connections_per_user", "0", "0-1000", "POP3 sessions per user; 0 = the server-wide limit.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.pop3_limits.max_connections_per_user = static_cast<uint32_t>(v); })},
      {"lmtp.max_connections", "0", "0-25000", "LMTP connections; 0 = the server-wide limit.",
       uintKey(0, 25000, [](Config& c, uint64_t v) { c.lmtp_limits.max_connections = static_cast<uint32_t>(v); })},
      {"lmtp.max_connections_per_ip", "0", "0-1000", "LMTP connections per client address; 0 = the server-wide limit.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.lmtp_limits.max_connections_per_ip = static_cast<uint32_t>(v); })},
      {"lmtp.max_connections_per_user", "0", "0-1000", "LMTP sessions per user; 0 = the server-wide limit.",
       uintKey(0, 1000, [](Config& c, uint64_t v) { c.lmtp_limits.max_connections_per_user = static_cast<uint32_t>(v); })},
      {"trusted_networks", "127.0.0.1/32 ::1/128", "list of CIDR",
       "Client networks exempt from the per-IP limit and allowed to log in without TLS (webmail hosts, proxies, office NAT).",
       strKey([](Config& c, const std::string& v) { c.trusted_networks = splitList(v); })},
      {"access.allow", "(empty: everyone)", "list of CIDR",
       "If set, only these client networks may connect (deny wins).",
       strKey([](Config& c, const std::string& v) { c.access_allow = splitList(v); })},
      {"access.deny", "(empty)", "list of CIDR", "Client networks refused before any authentication.",
       strKey([](Config& c, const std::string& v) { c.access_deny = splitList(v); })},
      {"access.dns", "false", "true/false",
       "Look up each client's forward-confirmed reverse DNS name for the domain rules below.",
       boolKey([](Config& c, bool v) { c.access_dns = v; })},
      {"access.allow_domains", "(empty)", "list of domains",
       "With access.dns: only clients whose confirmed name is in (or under) one of these may connect.",
       strKey([](Config& c, const std::string& v) { c.access_allow_domains = splitList(v); })},
      {"access.deny_domains", "(empty)", "list of domains",
       "With access.dns: clients whose confirmed name is in (or under) one of these are refused.",
       strKey([](Config& c, const std::string& v) { c.access_deny_domains = splitList(v); })},
      {"tls.cert_file", "<data_dir>/tls/cert.pem", "path",
       "PEM certificate (chain) for TLS; unset = a self-signed one generated on first start.",
       strKey([](Config& c, const std::string& v) { c.tls_cert_file = v; })},
      {"tls.key_file", "<data_dir>/tls/key.pem", "path",
       "PEM private key of tls.cert_file (unset with a cert_file set: the key is in that file).",
       strKey([](Config& c, const std::string& v) { c.tls_key_file = v; })},
      {"tls.min_version", "1.2", "1.2, 1.3", "Oldest TLS version accepted (older ones are always refused).",
       enumKey({"1.2", "1.3"}, [](Config& c, const std::string& v) { c.tls_min_version = v; })},
      {"auth.allow_plaintext", "false", "true/false",
       "Allow LOGIN, USER/PASS and AUTH PLAIN without TLS from any address (false: only from trusted_networks).",
       boolKey([](Config& c, bool v) { c.auth_allow_plaintext = v; })},
      {"auth.preauth_timeout", "60", "1-3600", "Seconds a connection may stay without logging in before it is closed.",
       uintKey(1, 3600, [](Config& c, uint64_t v) { c.auth_preauth_timeout_s = static_cast<uint32_t>(v); })},
      {"auth.penalty_max_failures", "10", "0-100000",
       "Failed logins in a row from one address (IPv6: one /64) after which it is refused for "
       "auth.penalty_block_time; each failure is answered after 2, 4, 8, then 15 s. 0 = delays only. "
       "trusted_networks are exempt.",
       uintKey(0, 100000, [](Config& c, uint64_t v) { c.auth_penalty_max_failures = static_cast<uint32_t>(v); })},
      {"auth.penalty_block_time", "900", "1-604800",
       "Seconds a blocked address is refused (new IMAP/POP3 connections, and its sessions not logged in are closed).",
       uintKey(1, 604800, [](Config& c, uint64_t v) { c.auth_penalty_block_time_s = static_cast<uint32_t>(v); })},
      {"auth.penalty_window", "900", "1-604800",
       "Failures count as in a row while no more than this many seconds pass between two; a longer pause forgets them.",
       uintKey(1, 604800, [](Config& c, uint64_t v) { c.auth_penalty_window_s = static_cast<uint32_t>(v); })},
      {"auth.cache_ttl", "300", "0-86400",
       "Seconds a verified login (user + password, kept only as an HMAC with a per-process key) is remembered, "
       "so the same login again skips the password hash. Any password change, import or user deletion "
       "invalidates it at once; failures are never cached. 0 = off. Needs a restart.",
       uintKey(0, 86400, [](Config& c, uint64_t v) { c.auth_cache_ttl_s = static_cast<uint32_t>(v); })},
      {"user", "postern", "user name, or empty",
       "When the master starts as root: the user postern-stored runs as (owns <data_dir>/store). Empty = "
       "no switching, every process stays root (development only). Needs a restart.",
       strKey([](Config& c, const std::string& v) { c.user = v; })},
      {"group", "postern", "group name",
       "When the master starts as root: the group of postern-stored and the protocol workers (their only group). "
       "Needs a restart.",
       strKey([](Config& c, const std::string& v) { c.group = v; }, false)},
      {"worker_user", "postern-worker", "user name",
       "When the master starts as root: the user the IMAP, POP3 and LMTP workers run as; it must differ from "
       "user, so workers cannot open the store. Needs a restart.",
       strKey([](Config& c, const std::string& v) { c.worker_user = v; }, false)},
      {"admin_group", "(empty)", "group name",
       "Members may use the admin socket (posternctl) besides root and the user the master runs as.",
       strKey([](Config& c, const std::string& v) { c.admin_group = v; })},
      {"licence.file", "<data_dir>/licence", "path", "The installed licence file.",
       strKey([](Config& c, const std::string& v) { c.licence_file = v; })},
      {"licence.public_keys", "(built-in vendor key)", "list of paths or base64 keys",
       "Ed25519 public keys trusted to sign licences.",
       strKey([](Config& c, const std::string& v) { c.licence_public_keys = splitList(v); })},
  };
  return table;
}

// listener.<name>.<field>; returns "" or the reason.
std::string setListenerKey(Config& c, const std::string& key, const std::string& v) {
  size_t dot = key.find('.', 9);
  if (dot == std::string::npos) return "expected listener.<name>.<field>";
  std::string lname = key.substr(9, dot - 9), field = key.substr(dot + 1);
  if (lname.empty() || lname.size() > 32) return "listener name must be 1-32 characters";
  for (char ch : lname)
    if (!(islower(static_cast<unsigned char>(ch)) || isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_'))
      return "listener name may use a-z, 0-9, '-' and '_'";
  ListenerConfig* l = nullptr;
  for (auto& x : c.listeners)
    if (x.name == lname) l = &x;
  if (!l) {
    c.listeners.push_back(ListenerConfig{});
    l = &c.listeners.back();
    l->name = lname;
  }
  auto num = [&](uint32_t hi, uint32_t* out) -> std::string {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return "'" + v + "' is not a whole number";
    if (n > hi) return "value " + v + " is out of range 0-" + std::to_string(hi);
    *out = static_cast<uint32_t>(n);
    return "";
  };
  if (field == "protocol") {
    if (v != "imap" && v != "pop3" && v != "lmtp") return "'" + v + "' is not one of: imap, pop3, lmtp";
    l->protocol = v;
    return "";
  }
  if (field == "address") {
    auto items = splitList(v);
    if (items.size() != 1) return "one host:port per listener";
    return parseListen(items[0], &l->addr);
  }
  if (field == "max_connections") return num(25000, &l->max_connections);
  if (field == "max_connections_per_ip") return num(1000, &l->max_connections_per_ip);
  if (field == "max_connections_per_user") return num(1000, &l->max_connections_per_user);
  if (field == "allow") return l->allow = splitList(v), "";
  if (field == "deny") return l->deny = splitList(v), "";
  if (field == "tls") {
    if (v != "off" && v != "starttls" && v != "implicit") return "'" + v + "' is not one of: starttls, implicit, off";
    l->tls = v;
    return "";
  }
  return "unknown listener field '" + field + "' (protocol, address, max_connections, max_connections_per_ip, "
         "max_connections_per_user, allow, deny, tls)";
}

}  // namespace

std::string ListenAddr::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Config::Limits Config::limitsFor(const std::string& protocol) const {
  const Limits* o = protocol == "imap" ? &imap_limits : protocol == "pop3" ? &pop3_limits
                  : protocol == "lmtp" ? &lmtp_limits : nullptr;
  Limits l = limits;
  if (o) {
    if (o->max_connections) l.max_connections = o->max_connections;
    if (o->max_connections_per_ip) l.max_connections_per_ip = o->max_connections_per_ip;
    if (o->max_connections_per_user) l.max_connections_per_user = o->max_connections_per_user;
  }
  return l;
}

std::string Config::runDir() const { return run_dir.empty() ? data_dir + "/run" : run_dir; }
std::string Config::adminSocket() const {
  return admin_socket.empty() ? runDir() + "/admin.sock" : admin_socket;
}
std::string Config::storeTarget() const {
  if (store_transport == "tcp") return store_address;
  return "unix:" + (store_socket.empty() ? runDir() + "/stored.sock" : store_socket);
}

namespace {

// Applies the keys of one file onto `cfg` (later files override earlier
// ones; a key repeated within one file is an error). `listener_where`
// remembers where each named listener was first seen, for finalCheck().
Error applyText(Config& cfg, const std::string& text, const std::string& name,
                std::map<std::string, std::string>* listener_where) {
  // Pass 1: find each key's line, to report file:line (POCO does not).
  std::map<std::string, int> key_line;
  {
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    bool continued = false;
    while (std::getline(in, line)) {
      ++lineno;
      bool was_continued = continued;
      std::string t = trim(line);
      continued = !t.empty() && t.back() == '\\';
      if (was_continued || t.empty() || t[0] == '#' || t[0] == '!') continue;
      size_t sep = t.find_first_of("=:");
      if (sep == std::string::npos)
        return Error{ErrorCode::kBadArgs, name + ":" + std::to_string(lineno) +
                                              ": expected 'key = value', got '" + t + "'"};
      std::string key = trim(t.substr(0, sep));
      if (key_line.count(key))
        return Error{ErrorCode::kBadArgs, name + ":" + std::to_string(lineno) + ": key '" + key +
                                              "' already set on line " + std::to_string(key_line[key])};
      key_line[key] = lineno;
    }
  }
  // Pass 2: POCO parses the values.
  Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> pc;
  try {
    std::istringstream in(text);
    pc = new Poco::Util::PropertyFileConfiguration(in);
  } catch (const Poco::Exception& e) {
    return Error{ErrorCode::kBadArgs, name + ": " + e.displayText()};
  }
  std::map<std::string, const KeyDef*> defs;
  for (const auto& d : keyTable()) defs[d.key] = &d;
  for (const auto& [key, lineno] : key_line) {
    auto it = defs.find(key);
    std::string where = name + ":" + std::to_string(lineno) + ": ";
    if (it == defs.end() && key.rfind("listener.", 0) == 0) {
      std::string value;
      try {
        value = trim(pc->getRawString(key, ""));
      } catch (const Poco::Exception& e) {
        return Error{ErrorCode::kBadArgs, where + key + ": " + e.displayText()};
      }
      std::string err = setListenerKey(cfg, key, value);
      if (!err.empty()) return Error{ErrorCode::kBadArgs, where + key + ": " + err};
      std::string lname = key.substr(9, key.find('.', 9) - 9);
      if (!listener_where->count(lname)) (*listener_where)[lname] = name + ":" + std::to_string(lineno);
      continue;
    }
    if (it == defs.end()) return Error{ErrorCode::kBadArgs, where + "unknown key '" + key + "'"};
    std::string value;
    try {
      value = trim(pc->getRawString(key, ""));
    } catch (const Poco::Exception& e) {
      return Error{ErrorCode::kBadArgs, where + key + ": " + e.displayText()};
    }
    std::string err = it->second->set(cfg, value);
    if (!err.empty()) return Error{ErrorCode::kBadArgs, where + key + ": " + err};
  }
  return Error::none();
}

// Checks that need every file applied.
Error finalCheck(const Config& cfg, const std::string& name, std::map<std::string, std::string>& listener_where) {
  for (const auto& l : cfg.listeners) {
    std::string where = listener_where[l.name] + ": listener." + l.name + ": ";
    if (l.protocol.empty()) return Error{ErrorCode::kBadArgs, where + "protocol (imap, pop3, lmtp) is required"};
    if (l.addr.host.empty()) return Error{ErrorCode::kBadArgs, where + "address (host:port) is required"};
  }
  if (cfg.restart_backoff_max_ms < cfg.restart_backoff_initial_ms)
    return Error{ErrorCode::kBadArgs, name + ": restart.backoff_max_ms must be >= restart.backoff_initial_ms"};
  return Error::none();
}

Result<std::string> readConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::kNotFound, path + ": cannot open"};
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (1u << 20)) return Error{ErrorCode::kBadArgs, path + ": larger than 1 MiB"};
  return ss.str();
}

}  // namespace

Result<Config> parseConfig(const std::string& text, const std::string& name) {
  Config cfg;
  cfg.source = name;
  std::map<std::string, std::string> listener_where;
  if (Error e = applyText(cfg, text, name, &listener_where); !e.ok()) return e;
  if (Error e = finalCheck(cfg, name, listener_where); !e.ok()) return e;
  return cfg;
}

Error applyConfigValue(Config& cfg, const std::string& key, const std::string& value,
                       const std::string& where) {
  for (const auto& d : keyTable()) {
    if (key != d.key) continue;
    std::string err = d.set(cfg, trim(value));
    if (!err.empty()) return Error{ErrorCode::kBadArgs, where + key + ": " + err};
    return Error::none();
  }
  return Error{ErrorCode::kNotFound, where + "unknown key '" + key + "'"};
}

Result<Config> loadConfig(const std::string& path) {
  if (path.empty()) return Config{};
  auto text = readConfigFile(path);
  if (!text.ok()) return text.error();
  Config cfg;
  cfg.source = path;
  std::map<std::string, std::string> listener_where;
  if (Error e = applyText(cfg, *text, path, &listener_where); !e.ok()) return e;
  // conf.d/ beside the file: every *.conf in name order, later keys win.
  std::string dir = path.rfind('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  std::vector<std::string> extra;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/conf.d", ec)) {
    std::string n = entry.path().filename().string();
    if (entry.is_regular_file(ec) && n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0 && n[0] != '.')
      extra.push_back(entry.path().string());
  }
  std::sort(extra.begin(), extra.end());
  for (const auto& f : extra) {
    auto t = readConfigFile(f);
    if (!t.ok()) return t.error();
    if (Error e = applyText(cfg, *t, f, &listener_where); !e.ok()) return e;
  }
  if (!extra.empty()) cfg.source = path + " + " + std::to_string(extra.size()) + " file(s) in conf.d";
  if (Error e = finalCheck(cfg, path, listener_where); !e.ok()) return e;
  return cfg;
}

std::string configReference() {
  std::string out = "| key | default | valid | meaning |\n|---|---|---|---|\n";
  for (const auto& d : keyTable()) {
    out += std::string("| `") + d.key + "` | " + d.def + " | " + d.range + " | " + d.doc + " |\n";
  }
  return out;
}

uint32_t workerCount(uint32_t configured) {
  if (configured > 0) return configured;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void initLogging(const Config& cfg, std::string_view process, int uid, int gid) {
  bool ok = true;
  log::Level level = log::parseLevel(cfg.log_level, &ok);
  log::init(process, cfg.log_target == "syslog", ok ? level : log::Level::kInfo);
  if (cfg.log_target == "file" &&
      !log::useFile(cfg.log_file, cfg.log_file_max_size, cfg.log_file_keep, uid, gid))
    log::error("cannot open the log file; logging to stderr", {{"file", cfg.log_file}, {"error", strerror(errno)}});
}

}  // namespace postern
