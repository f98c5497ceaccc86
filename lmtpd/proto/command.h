#pragma once
// LMTP command parsing (RFC 2033, RFC 5321 section 4.1): one line in, one
// typed command out. No state, no store.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postern::lmtpd {

enum class Verb { kUnknown, kLhlo, kHelo, kEhlo, kMail, kRcpt, kData, kRset, kNoop, kQuit, kVrfy, kHelp, kStarttls };

struct Param {
  std::string key;  // upper-cased
  std::string value;
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string arg;             // LHLO domain, VRFY/NOOP/HELP argument
  std::string address;         // MAIL/RCPT path without <> and source route; "" = <>
  std::vector<Param> params;   // ESMTP parameters of MAIL/RCPT, tolerated
  bool has_size = false;       // MAIL ... SIZE=n
  uint64_t size = 0;
  std::string error;           // non-empty: the complete reply line, without CRLF
};

// Longest command line accepted, without CRLF (RFC 5321 allows 512
// octets; ESMTP parameters may add more).
inline constexpr size_t kMaxCommandLine = 4096;

Command parseCommand(std::string_view line);

// Parses `<path> [params]` after "FROM:" / "TO:". Tolerates a space after
// the colon, a missing pair of brackets, a source route and quoted local
// parts. Returns false on a syntax error.
bool parsePathAndParams(std::string_view s, std::string* address, std::vector<Param>* params);

}  // namespace postern::lmtpd
