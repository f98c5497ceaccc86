#include "log.h"

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
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(2, out.data() + off, out.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace postern::log
