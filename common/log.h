#pragma once
// One line per event: "<time> <process>[pid] <level> key=value ... msg".
// Goes to stderr (foreground), syslog (installed), or a log file. Thread-safe;
// never throws; never blocks on anything but the write(2) of one line.
#include <initializer_list>
#include <string>
#include <string_view>

namespace postern::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Call once at process start. `process` is e.g. "imapd#1".
void init(std::string_view process, bool use_syslog, Level min_level);
void setLevel(Level min_level);

// Log to the file at `path` (appending) instead of stderr/syslog; false if it
// cannot be opened (then logging stays where it was). Every process of the
// server appends to the same file. Each one notices within a second when
// the file was renamed or removed (rotated by another process, or by
// logrotate without copytruncate) and reopens the path. With max_bytes > 0,
// the process whose line takes the file past max_bytes rotates it, under an
// flock so only one does: path.(keep-1) -> path.keep ... path -> path.1, the
// oldest dropped. New files get mode 0640 and, where uid/gid are not -1,
// that owner, so unprivileged processes can reopen them.
bool useFile(const std::string& path, uint64_t max_bytes, unsigned keep, int uid = -1, int gid = -1);
Level parseLevel(std::string_view s, bool* ok);

struct Field {
  std::string_view key;
  std::string value;
};

// Fields with empty values are omitted. Values with spaces are quoted.
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void info(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::kInfo, msg, f); }
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::kWarn, msg, f); }
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::kError, msg, f); }
inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::kDebug, msg, f); }

}  // namespace postern::log
