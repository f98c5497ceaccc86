#pragma once
// One line per event: "<time> <process>[pid] <level> key=value ... msg".
// Goes to stderr (foreground) or syslog (installed). Thread-safe; never
// throws; never blocks on anything but the write(2) of one line.
#include <initializer_list>
#include <string>
#include <string_view>

namespace postern::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Call once at process start. `process` is e.g. "imapd#1".
void init(std::string_view process, bool use_syslog, Level min_level);
void setLevel(Level min_level);
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
