#include "privileges.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace postern::master {
namespace {

bool lookupUser(const std::string& name, uid_t* uid) {
  struct passwd pw, *res = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res) != 0 || !res) return false;
  *uid = pw.pw_uid;
  return true;
}

bool lookupGroup(const std::string& name, gid_t* gid) {
  struct group gr, *res = nullptr;
  std::vector<char> buf(65536);
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res) != 0 || !res) return false;
  *gid = gr.gr_gid;
  return true;
}

Error sysError(const std::string& what) { return Error{ErrorCode::kInternal, what + ": " + strerror(errno)}; }

// chown + chmod of a directory we own the layout of; never follows a symlink.
Error fixDir(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return sysError("mkdir " + path);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sysError(path);
  Error e = Error::none();
  if (fchown(fd, uid, gid) != 0)
    e = sysError("chown " + path);
  else if (fchmod(fd, mode) != 0)
    e = sysError("chmod " + path);
  ::close(fd);
  return e;
}

bool inside(const std::string& path, const std::string& dir) {
  auto norm = [](std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  std::string p = norm(path), d = norm(dir);
  return p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/';
}

}  // namespace

Result<Privileges> Privileges::resolve(const Config& cfg, uid_t euid) {
  Privileges p;
  p.root = euid == 0;
  p.user = cfg.user;
  p.group = cfg.group;
  p.worker_user = cfg.worker_user;
  if (!p.root || cfg.user.empty()) return p;
  auto missing = [&](const std::string& what, const std::string& name, const std::string& key) {
    return Error{ErrorCode::kBadArgs,
                 "running as root, but the " + what + " '" + name + "' (" + key +
                     ") does not exist: create the accounts (systemd-sysusers postern.conf, or the package's "
                     "postinst), or set " +
                     key +
                     " to an existing one; 'user =' (empty) runs every process as "
                     "root, for development only"};
  };
  if (!lookupUser(cfg.user, &p.store_uid)) return missing("user", cfg.user, "user");
  if (!lookupUser(cfg.worker_user, &p.worker_uid)) return missing("user", cfg.worker_user, "worker_user");
  if (!lookupGroup(cfg.group, &p.gid)) return missing("group", cfg.group, "group");
  if (p.store_uid == 0 || p.worker_uid == 0)
    return Error{ErrorCode::kBadArgs,
                 "user and worker_user must not be root (uid 0); use 'user =' (empty) "
                 "to run everything as root"};
  if (p.store_uid == p.worker_uid)
    return Error{ErrorCode::kBadArgs, "worker_user '" + cfg.worker_user + "' must differ from user '" +
                                          cfg.user + "': the workers must not be able to open the store"};
  p.drop = true;
  return p;
}

ChildCredentials Privileges::forKind(const std::string& kind) const {
  ChildCredentials c;
  if (!drop) return c;
  c.switch_user = true;
  c.gid = gid;
  c.set_umask = true;
  if (kind == "stored") {
    c.uid = store_uid;
    c.umask = 007;  // stored.sock 0770: the workers (same group) may connect, nobody else
  } else {
    c.uid = worker_uid;
    c.umask = 077;
  }
  return c;
}

Error Privileges::prepareDirectories(const Config& cfg) const {
  if (!drop) return Error::none();
  std::string run = cfg.runDir();
  bool run_inside = inside(run, cfg.data_dir);
  // data_dir: the master keeps its state files here; the group may only pass.
  struct stat st;
  if (::stat(cfg.data_dir.c_str(), &st) != 0) return sysError(cfg.data_dir);
  if (Error e = fixDir(cfg.data_dir, st.st_uid, gid, run_inside ? 0751 : 0750); !e.ok()) return e;
  std::string store = cfg.data_dir + "/store";
  if (Error e = fixDir(store, store_uid, gid, 0700); !e.ok()) return e;
  // An LMDB environment created by an earlier run as another user.
  if (DIR* d = opendir(store.c_str())) {
    while (dirent* ent = readdir(d)) {
      if (ent->d_name[0] == '.') continue;
      struct stat fst;
      if (fstatat(dirfd(d), ent->d_name, &fst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fst.st_mode)) continue;
      if (fst.st_uid != store_uid &&
          fchownat(dirfd(d), ent->d_name, store_uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
        closedir(d);
        return sysError("chown " + store + "/" + ent->d_name);
      }
    }
    closedir(d);
  }
  if (Error e = fixDir(run, store_uid, gid, cfg.admin_group.empty() ? 0750 : 0751); !e.ok()) return e;
  return Error::none();
}

bool Privileges::canSwitchUsers() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  return has(CAP_SETUID) && has(CAP_SETGID);
}

const char* applyChildCredentials(const ChildCredentials& c) {
  if (c.switch_user) {
    // The bounding set first, while CAP_SETPCAP may still be held; without
    // it (a systemd bounding set) this fails harmlessly: the steps below
    // leave no capability to keep anyway.
    for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (setgroups(0, nullptr) != 0) return "setgroups";
    if (setresgid(c.gid, c.gid, c.gid) != 0) return "setresgid";
    if (setresuid(c.uid, c.uid, c.uid) != 0) return "setresuid";
    if (setuid(0) == 0) return "root could be regained";
  }
  if (c.set_umask) umask(c.umask);
  // Ambient capabilities survive execve for a non-root user: clear them
  // (EINVAL before Linux 4.3, which has none). Then every set: permitted,
  // effective and inheritable (dropping is always allowed).
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (getuid() != 0 && geteuid() != 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capset, &hdr, data) != 0) return "capset";
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "PR_SET_NO_NEW_PRIVS";
  return nullptr;
}

Result<int> makeTlsMemfd(const std::string& cert_file, const std::string& key_file) {
  std::string pem;
  for (int i = 0; i < 2; ++i) {
    if (i == 1 && key_file == cert_file) break;
    const std::string& f = i == 0 ? cert_file : key_file;
    std::ifstream in(f, std::ios::binary);
    if (!in) return Error{ErrorCode::kNotFound, f + ": cannot open"};
    std::stringstream ss;
    ss << in.rdbuf();
    pem += ss.str();
    if (!pem.empty() && pem.back() != '\n') pem += '\n';
  }
  int fd = memfd_create("postern-tls", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sysError("memfd_create");
  size_t off = 0;
  while (off < pem.size()) {
    ssize_t n = ::write(fd, pem.data() + off, pem.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = sysError("write memfd");
      ::close(fd);
      return e;
    }
    off += static_cast<size_t>(n);
  }
  // Read-only from now on, for the master and every worker.
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    Error e = sysError("seal memfd");
    ::close(fd);
    return e;
  }
  // Workers open it again through /proc/self/fd (OpenSSL loads paths), which
  // checks the inode's mode: readable by all. It has no name anywhere, and
  // reaching another process's /proc/<pid>/fd needs the right to read that
  // process's memory, where the key is anyway.
  fchmod(fd, 0444);
  return fd;
}

Result<AdminAccess> AdminAccess::resolve(const Config& cfg, const Privileges& p, uid_t own_uid) {
  AdminAccess a;
  a.own_uid = own_uid;
  a.admin_group = cfg.admin_group;
  if (!cfg.admin_group.empty() && !lookupGroup(cfg.admin_group, &a.admin_gid))
    return Error{ErrorCode::kBadArgs, "admin_group '" + cfg.admin_group + "' does not exist"};
  if (p.drop) {
    for (uid_t u : {p.store_uid, p.worker_uid})
      if (u != own_uid && u != 0) a.denied.push_back(u);
  }
  return a;
}

std::string AdminAccess::check(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const {
  std::string who = "uid " + std::to_string(uid);
  if (std::find(denied.begin(), denied.end(), uid) != denied.end())
    return "permission denied: " + who + " is a Postern process user and may not use the admin socket";
  if (uid == 0 || uid == own_uid) return "";
  if (!admin_group.empty() &&
      (gid == admin_gid || std::find(groups.begin(), groups.end(), admin_gid) != groups.end()))
    return "";
  std::string allowed = own_uid == 0 ? std::string("root") : "root, uid " + std::to_string(own_uid);
  if (!admin_group.empty())
    allowed += " and members of admin_group '" + admin_group + "'";
  else
    allowed += " (set admin_group to admit a group)";
  return "permission denied: " + who + " may not use the admin socket; allowed: " + allowed;
}

}  // namespace postern::master
