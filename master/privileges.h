#pragma once
// Privilege separation (docs/architecture.md, "Privileges").
//
// Started as root, the master binds the listeners, reads the TLS key and
// keeps root (it must start and restart children as other users); every
// child runs as an unprivileged user from its first instruction:
//   postern-stored             user        : group   (owns <data_dir>/store, 0700)
//   imapd, pop3d, lmtpd        worker_user : group   (cannot open the store)
// with supplementary groups dropped, every capability gone (bounding set
// too, where the master may), ambient capabilities cleared and
// PR_SET_NO_NEW_PRIVS set. The workers get the TLS certificate and key
// from the master as a sealed memfd (makeTlsMemfd), so they need no right
// to read the key file, and a reload swaps it.
//
// Started as any other user (a developer, the tests, the SysV script with
// POSTERN_USER), nothing switches: every process runs as that user, but the
// children still drop ambient capabilities (a unit granting
// CAP_NET_BIND_SERVICE to the master does not pass it on) and set
// no_new_privs.
#include <sys/types.h>

#include <string>
#include <vector>

#include "config.h"
#include "error.h"

namespace postern::master {

// What one child becomes, prepared before fork.
struct ChildCredentials {
  bool switch_user = false;  // setgroups/setresgid/setresuid to the ids below
  uid_t uid = 0;
  gid_t gid = 0;
  bool set_umask = false;
  mode_t umask = 077;
};

struct Privileges {
  bool root = false;  // the master runs with effective uid 0
  bool drop = false;  // children switch users (root, and `user` is set)
  std::string user, group, worker_user;
  uid_t store_uid = 0;
  uid_t worker_uid = 0;
  gid_t gid = 0;

  // Resolves cfg.user / group / worker_user when `euid` is 0; any other
  // euid yields drop = false. Errors name the missing account and say how
  // to fix it (or that worker_user must differ from user).
  static Result<Privileges> resolve(const Config& cfg, uid_t euid);

  // kind: "stored", "imapd", "pop3d", "lmtpd".
  ChildCredentials forKind(const std::string& kind) const;

  // With drop: makes <data_dir>/store (0700, user:group, its files too) and
  // run_dir (user:group: stored creates its socket there; 0750, 0751 with an
  // admin_group so its members reach admin.sock) usable by the children,
  // and gives data_dir to group (0750, or 0751 when run_dir is inside it).
  // Without drop: nothing.
  Error prepareDirectories(const Config& cfg) const;

  // The master has what it needs to switch users (CAP_SETUID, CAP_SETGID).
  static bool canSwitchUsers();
};

// In a forked child, before execve: async-signal-safe calls only. Returns
// nullptr on success, else the step that failed (a static string); the
// child must then _exit without exec.
const char* applyChildCredentials(const ChildCredentials& c);

// A sealed, close-on-exec memfd holding `cert_file` then `key_file` (PEM;
// the key once when both name one file). Read as the master, so it works
// for files only root may read.
Result<int> makeTlsMemfd(const std::string& cert_file, const std::string& key_file);

// Who may use the admin socket: root, the master's own user, and members
// of admin_group (primary or supplementary group of the connecting
// process, SO_PEERCRED / SO_PEERGROUPS), never stored's user or the
// workers' user (a compromised worker must not reach the admin API even
// when admin_group is the shared group).
struct AdminAccess {
  uid_t own_uid = 0;
  std::string admin_group;  // empty = none
  gid_t admin_gid = 0;
  std::vector<uid_t> denied;  // the children's users, when they differ from own_uid

  static Result<AdminAccess> resolve(const Config& cfg, const Privileges& p, uid_t own_uid);
  // "" when allowed, else the reason told to the client.
  std::string check(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const;
  // The group the socket file gets (admin_gid when set), and its mode.
  bool hasGroup() const { return !admin_group.empty(); }
};

}  // namespace postern::master
