#pragma once
// The trace header fields LMTP prepends to a delivered message
// (RFC 5321 section 4.4): Return-Path from MAIL FROM, then Received.
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace postern::lmtpd {

struct TraceInfo {
  std::string sender;      // MAIL FROM address, "" for <>
  std::string lhlo;        // the client's LHLO name
  std::string peer;        // client IP address
  std::string host;        // our host name
  std::string id;          // session/transaction id
  std::string recipient;   // set when there is exactly one recipient
  std::time_t when = 0;
};

// Both header lines, each ending in CRLF.
std::string traceHeaders(const TraceInfo& t);

// RFC 5322 date-time in UTC, e.g. "Tue, 01 Jul 2025 10:00:00 +0000".
std::string rfc5322Date(std::time_t when);

}  // namespace postern::lmtpd
