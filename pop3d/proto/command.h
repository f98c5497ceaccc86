#pragma once
// POP3 command parsing (RFC 1939, RFC 2449): one line in, one typed
// command out. No state and no store: the session decides whether the
// command is allowed in its current state.
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::pop3d {

enum class Verb {
  kUnknown,
  kUser,
  kPass,
  kQuit,
  kStat,
  kList,
  kRetr,
  kDele,
  kNoop,
  kRset,
  kTop,
  kUidl,
  kCapa,
  kAuth,
  kStls,  // RFC 2595 section 4
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string keyword;       // as sent, upper-cased
  std::string arg;           // USER name, PASS password (may contain spaces), AUTH mechanism (upper-cased)
  bool has_initial = false;  // AUTH with an initial response (RFC 5034 section 4)
  std::string initial;       // ... as sent: base64, or "=" for an empty one
  bool has_msg = false;      // LIST/UIDL with a message number; always for RETR/DELE/TOP
  uint32_t msg = 0;          // message number as sent (>= 1)
  uint32_t lines = 0;        // TOP's line count
  std::string error;         // non-empty: answer "-ERR <error>", nothing else happens
};

// Parses one command line (without CRLF). Keywords are case-insensitive.
// AUTH without a mechanism is accepted (arg empty): it lists the mechanisms.
Command parseCommand(std::string_view line);

// Longest command line accepted, without CRLF (RFC 2449 says 255 octets
// including CRLF; we allow more for long passwords).
inline constexpr size_t kMaxCommandLine = 1024;

}  // namespace postern::pop3d
