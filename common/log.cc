#include "log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace postern::log {
namespace {

std::mutex g_mu;
std::string g_process = "postern";
bool g_syslog = false;
std::atomic<Level> g_level{Level::kInfo};

// The log file (useFile); all under g_mu.
struct LogFile {
  int fd = -1;
  std::string path;
  uint64_t max_bytes = 0;
  unsigned keep = 0;
  int uid = -1;
  int gid = -1;
  ino_t ino = 0;
  dev_t dev = 0;
  uint64_t size = 0;
  time_t checked = 0;  // last second the path was compared with the fd
} g_file;

bool openFile() {
  int fd = ::open(g_file.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return false;
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return false;
  }
  if (st.st_size == 0 && (g_file.uid >= 0 || g_file.gid >= 0)) {
    // A file we just made: let the unprivileged processes reopen it.
    if (fchown(fd, static_cast<uid_t>(g_file.uid), static_cast<gid_t>(g_file.gid)) != 0) {
      // Not root: the file is ours already.
    }
  }
  if (g_file.fd >= 0) ::close(g_file.fd);
  g_file.fd = fd;
  g_file.ino = st.st_ino;
  g_file.dev = st.st_dev;
  g_file.size = static_cast<uint64_t>(st.st_size);
  return true;
}

void rotateFile() {
  // Several processes may pass the limit at once: the one holding the lock
  // rotates if the path still names the full file; the others reopen the
  // new file at their next check.
  int fd = g_file.fd;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return;
  struct stat st{};
  bool still = ::stat(g_file.path.c_str(), &st) == 0 && st.st_ino == g_file.ino && st.st_dev == g_file.dev &&
               static_cast<uint64_t>(st.st_size) >= g_file.max_bytes;
  if (still) {
    for (unsigned i = g_file.keep; i > 1; --i) {
      std::string from = g_file.path + "." + std::to_string(i - 1);
      std::string to = g_file.path + "." + std::to_string(i);
      ::rename(from.c_str(), to.c_str());
    }
    if (g_file.keep == 0)
      ::unlink(g_file.path.c_str());
    else
      ::rename(g_file.path.c_str(), (g_file.path + ".1").c_str());
  }
  flock(fd, LOCK_UN);
  openFile();
}

// Once a second: has someone moved the file away? Reopen the path.
void checkFile(time_t now) {
  if (now == g_file.checked) return;
  g_file.checked = now;
  struct stat st{};
  if (::stat(g_file.path.c_str(), &st) != 0 || st.st_ino != g_file.ino || st.st_dev != g_file.dev) {
    openFile();
    return;
  }
  // The other processes append too: go by the real size.
  g_file.size = static_cast<uint64_t>(st.st_size);
}

std::string_view levelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void appendValue(std::string& out, const std::string& v) {
  bool quote = v.find_first_of(" \t\"=") != std::string::npos;
  if (!quote) {
    for (char c : v) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  out += '"';
}

}  // namespace

void init(std::string_view process, bool use_syslog, Level min_level) {
  std::lock_guard lk(g_mu);
  g_process = std::string(process);
  g_syslog = use_syslog;
  g_level = min_level;
  if (g_syslog) openlog("postern", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void setLevel(Level min_level) { g_level = min_level; }

bool useFile(const std::string& path, uint64_t max_bytes, unsigned keep, int uid, int gid) {
  std::lock_guard lk(g_mu);
  LogFile saved = g_file;
  g_file.fd = -1;
  g_file.path = path;
  g_file.max_bytes = max_bytes;
  g_file.keep = keep;
  g_file.uid = uid;
  g_file.gid = gid;
  if (!openFile()) {
    g_file = saved;
    return false;
  }
  if (saved.fd >= 0) ::close(saved.fd);
  if (g_syslog) closelog();
  g_syslog = false;
  return true;
}

Level parseLevel(std::string_view s, bool* ok) {
  *ok = true;
  if (s == "debug") return Level::kDebug;
  if (s == "info") return Level::kInfo;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  *ok = false;
  return Level::kInfo;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  std::string line;
  line.reserve(160);
  for (const auto& f : fields) {
    if (f.value.empty()) continue;
    line.append(f.key);
    line += '=';
    appendValue(line, f.value);
    line += ' ';
  }
  for (char c : msg) line += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;

  std::lock_guard lk(g_mu);
  if (g_syslog) {
    int prio = level == Level::kError ? LOG_ERR
               : level == Level::kWarn ? LOG_WARNING
               : level == Level::kDebug ? LOG_DEBUG : LOG_INFO;
    syslog(prio, "%s: %s", g_process.c_str(), line.c_str());
    return;
  }
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char stamp[96];
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900,
           t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  std::string out;
  out.reserve(line.size() + 64);
  out += stamp;
  out += ' ';
  out += g_process;
  out += '[';
  out += std::to_string(getpid());
  out += "] ";
  out += levelName(level);
  out += ' ';
  out += line;
  out += '\n';
  int fd = 2;
  if (!g_file.path.empty()) {
    checkFile(ts.tv_sec);
    if (g_file.fd >= 0) fd = g_file.fd;
  }
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(fd, out.data() + off, out.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (fd != 2) {
    g_file.size += off;
    if (g_file.max_bytes > 0 && g_file.size >= g_file.max_bytes) rotateFile();
  }
}

}  // namespace postern::log
